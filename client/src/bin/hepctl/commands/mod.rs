//! The commands, one module each (`write` has the three that write files); `report` words
//! their outcomes.

pub(crate) mod completion;
mod delete;
mod get;
mod label;
mod report;
mod watch;
mod write;

use hostendpoint_api::selector::Selector;
use hostendpoint_client::{ConnectOptions, TlsFiles};

use crate::{
    args::{Cli, Command, NamespaceArgs},
    connect::Server,
    error::{Error, Result},
    manifest::{self, Manifest},
};

/// Runs the command line's command.
pub(crate) async fn run(cli: Cli) -> Result<()> {
    let Cli {
        server,
        ca_cert_file,
        cert_file,
        key_file,
        dial_timeout,
        request_timeout,
        log_level: _,
        command,
    } = cli;
    let server = Server {
        address: server,
        options: ConnectOptions {
            tls: TlsFiles {
                ca_cert: ca_cert_file,
                cert: cert_file,
                key: key_file,
            },
            dial_timeout,
            // 0 waits forever, as kubectl's --request-timeout 0.
            request_timeout: Some(request_timeout).filter(|t| !t.is_zero()),
            ..ConnectOptions::default()
        },
    };
    match command {
        Command::Create(args) => write::create(&server, args).await,
        Command::Apply(args) => write::apply(&server, args).await,
        Command::Replace(args) => write::replace(&server, args).await,
        Command::Delete(args) => delete::run(&server, args).await,
        Command::Get(args) => get::run(&server, args).await,
        Command::Label(args) => label::run(&server, args).await,
        Command::Watch(args) => watch::run(&server, args).await,
        Command::Completion(args) => completion::run(args),
    }
}

/// The host endpoints of a file, or calicoctl's message for a file it cannot use. Files are
/// read before connecting, so a bad file fails the same way with or without a server.
fn load(filename: &str) -> Result<Vec<Manifest>> {
    let manifests = manifest::load(filename)
        .map_err(|e| Error::Failed(format!("failed to execute command: {e}")))?;
    if manifests.is_empty() {
        return Err(Error::Failed(format!(
            "No resources specified in file {filename}"
        )));
    }
    Ok(manifests)
}

/// calicoctl's answer to `--namespace` (or `--all-namespaces`) for a cluster-scoped kind.
fn check_not_namespaced(namespace: &NamespaceArgs, all_namespaces: bool) -> Result<()> {
    if namespace.namespace.is_some() || all_namespaces {
        return Err(Error::Failed("HostEndpoint is not namespaced".into()));
    }
    Ok(())
}

/// Checks a `--selector` here, so that a mistake is reported once and at once (a watch
/// would otherwise retry it forever); the server parses it again with the same parser.
fn check_selector(selector: Option<&str>) -> Result<()> {
    match selector.map(Selector::parse) {
        Some(Err(err)) => Err(Error::Failed(err.to_string())),
        _ => Ok(()),
    }
}
