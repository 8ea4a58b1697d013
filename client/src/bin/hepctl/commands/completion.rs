//! Shell completion, by clap_complete's dynamic completion: `hepctl completion SHELL` prints a
//! script that registers hepctl with the shell, and at each TAB the shell runs
//! `COMPLETE=<shell> hepctl -- <the words>`, which `main` answers before anything else.
//! Resource types complete from the names hepctl accepts; host endpoint names from the
//! server that the line (or the environment, or the config file) points at.

use std::{
    ffi::{OsStr, OsString},
    path::PathBuf,
    time::Duration,
};

use clap::{ArgMatches, CommandFactory as _};
use clap_complete::{CompletionCandidate, env::Shells};
use futures::TryStreamExt as _;
use hostendpoint_client::{ConnectOptions, ListParams, TlsFiles};

use crate::{
    args::{Cli, CompletionArgs},
    connect::{Server, connect},
    error::{Error, Result},
    kind, output,
};

/// The environment variable through which the shell asks for completions (clap_complete's
/// default name, which its documentation tells users about).
pub(crate) const COMPLETE_VAR: &str = "COMPLETE";

/// How long a completion waits for the server, connecting included: a TAB must come back at
/// once, with nothing, from a server that is down or does not answer.
const SERVER_TIMEOUT: Duration = Duration::from_secs(2);

/// Prints the registration script for the shell: the one `COMPLETE=<shell> hepctl` prints.
pub(crate) fn run(args: CompletionArgs) -> Result<()> {
    let CompletionArgs { shell } = args;
    let name = shell.to_string();
    let shells = Shells::builtins();
    let completer = shells
        .completer(&name)
        .ok_or_else(|| Error::Failed(format!("no completion for the shell {name}")))?;
    let command = Cli::command();
    let mut script = Vec::new();
    completer
        .write_registration(
            COMPLETE_VAR,
            command.get_name(),
            command.get_name(),
            &this_program(),
            &mut script,
        )
        .map_err(Error::Output)?;
    output::print(&String::from_utf8_lossy(&script))
}

/// How the shell is to run hepctl: as it was run now, a relative path made absolute (as
/// clap_complete's `CompleteEnv` does, so that both ways print the same script).
fn this_program() -> String {
    let program = PathBuf::from(
        std::env::args_os()
            .next()
            .unwrap_or_else(|| "hepctl".into()),
    );
    let program = match std::env::current_dir() {
        Ok(dir) if program.components().count() > 1 => dir.join(program),
        _ => program,
    };
    program.to_string_lossy().into_owned()
}

/// The resource types, for `get <TAB>` and the like.
pub(crate) fn kinds() -> Vec<CompletionCandidate> {
    kind::ALIASES.map(CompletionCandidate::new).into()
}

/// The names of the server's host endpoints that start with `current`; none when the
/// server cannot tell within [`SERVER_TIMEOUT`]. Silent, as the shell shows whatever a
/// completion prints.
pub(crate) fn host_endpoint_names(current: &OsStr) -> Vec<CompletionCandidate> {
    let (Some(prefix), Some(server)) = (current.to_str(), server_on_the_line()) else {
        return Vec::new();
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    let listing = runtime
        .block_on(async { tokio::time::timeout(SERVER_TIMEOUT, names(&server, prefix)).await });
    match listing {
        Ok(Some(names)) => names.into_iter().map(CompletionCandidate::new).collect(),
        _ => Vec::new(),
    }
}

/// The names starting with `prefix`, in the server's order (sorted).
async fn names(server: &Server, prefix: &str) -> Option<Vec<String>> {
    let client = connect(server).await.ok()?;
    client
        .list(ListParams::default())
        .try_filter_map(|hep| async move {
            Ok(Some(hep.metadata.name).filter(|name| name.starts_with(prefix)))
        })
        .try_collect()
        .await
        .ok()
}

/// The server that the words being completed name, read by hepctl's own command line (so
/// flags, their environment variables and defaults are as in any other run). The words
/// follow the first `--`; the line is usually unfinished, hence `ignore_errors`.
fn server_on_the_line() -> Option<Server> {
    let words: Vec<OsString> = std::env::args_os()
        .skip_while(|arg| arg != "--")
        .skip(1)
        .collect();
    let matches = Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(words)
        .ok()?;
    let file = |id: &str| path(&matches, id);
    Some(Server {
        address: matches
            .try_get_one::<String>("server")
            .ok()
            .flatten()
            .cloned(),
        tls: TlsFiles {
            ca_cert: file("ca_cert_file"),
            cert: file("cert_file"),
            key: file("key_file"),
        },
        config: file("config"),
        options: ConnectOptions {
            dial_timeout: SERVER_TIMEOUT,
            request_timeout: Some(SERVER_TIMEOUT),
            ..ConnectOptions::default()
        },
    })
}

/// A file option's value, by the id clap derives from its field in [`Cli`].
fn path(matches: &ArgMatches, id: &str) -> Option<PathBuf> {
    matches.try_get_one::<PathBuf>(id).ok().flatten().cloned()
}
