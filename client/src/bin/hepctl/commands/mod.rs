//! The commands, one module each (`write` has the three that write files); `report` words
//! their outcomes.

pub(crate) mod completion;
mod delete;
mod get;
mod label;
mod patch;
mod report;
mod validate;
mod version;
mod watch;
mod write;

use hostendpoint_api::selector::Selector;
use hostendpoint_client::{ConnectOptions, TlsFiles};

use crate::{
    args::{Cli, Command, Files, NamespaceArgs},
    connect::Server,
    error::{Error, Result},
    kind::KIND,
    manifest::{self, Manifest, Source},
};

/// Runs the command line's command.
pub(crate) async fn run(cli: Cli) -> Result<()> {
    let Cli {
        server,
        config,
        context: _,
        allow_version_mismatch: _,
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
        tls: TlsFiles {
            ca_cert: ca_cert_file,
            cert: cert_file,
            key: key_file,
        },
        config,
        options: ConnectOptions {
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
        Command::Patch(args) => patch::run(&server, args).await,
        Command::Validate(args) => validate::run(args),
        Command::Version(args) => version::run(&server, args).await,
        Command::Watch(args) => watch::run(&server, args).await,
        Command::Completion(args) => completion::run(args),
    }
}

/// The host endpoints that `-f` names (none without `-f`, or with `--skip-empty` and no
/// documents), or calicoctl's message for what cannot be read. Files are read before
/// connecting, so a bad file fails the same way with or without a server.
fn load(files: &Files) -> Result<Vec<Manifest>> {
    let Files {
        filename,
        recursive,
        skip_empty,
    } = files;
    let Some(filename) = filename else {
        return Ok(Vec::new());
    };
    let source = Source {
        filename: filename.clone(),
        recursive: *recursive,
        skip_empty: *skip_empty,
    };
    manifest::read(&source).map_err(|e| Error::Failed(e.to_string()))
}

/// calicoctl's answer (its handleNamespace) for one resource of this cluster-scoped kind:
/// a namespace in the document, or `-n`/`-A` on the line, fails that resource alone.
/// (`all_namespaces` is get's `-A`.)
fn namespace_error(
    document_namespace: Option<&str>,
    line: &NamespaceArgs,
    all_namespaces: bool,
) -> Option<String> {
    if document_namespace.is_some() {
        Some(format!(
            "namespace should not be specified for a non-namespaced resource. {KIND} is not a \
             namespaced resource"
        ))
    } else if line.namespace.as_deref().is_some_and(|ns| !ns.is_empty()) || all_namespaces {
        Some(format!("{KIND} is not namespaced"))
    } else {
        None
    }
}

/// Checks a `--selector` here, so that a mistake is reported once and at once (a watch
/// would otherwise retry it forever); the server parses it again with the same parser.
fn check_selector(selector: Option<&str>) -> Result<()> {
    match selector.map(Selector::parse) {
        Some(Err(err)) => Err(Error::Failed(err.to_string())),
        _ => Ok(()),
    }
}
