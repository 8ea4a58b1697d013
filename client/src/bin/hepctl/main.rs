//! `hepctl`: a calicoctl-style command line for the host endpoints that hostendpointd keeps.
//!
//! It reads and prints the documents calicoctl reads and prints (`projectcalico.org/v3`
//! `HostEndpoint` and `HostEndpointList`, in YAML or JSON), reports with calicoctl's messages
//! and exit codes, and adds `watch` and shell completions (host endpoint names from the
//! server).
//!
//! # Layout
//! - `args`: the command line (clap derive; the doc comments are the `--help` text).
//! - `commands`: one module per command: `write` (create, apply, replace), `delete`, `get`,
//!   `label`, `patch`, `validate`, `version`, `watch`, `completion`; `commands::report` words their outcomes as calicoctl does.
//! - `manifest`: calicoctl documents read into the domain model, strictly, and patched.
//! - `output`: the printers: Go tabwriter tables, and the API crate's `calico::Document` as
//!   go-yaml v2 YAML or Go `MarshalIndent` JSON (serde_json); Go templates.
//! - `connect`: the server address and the connection; `config`: the `-c` connection file.
//! - `error`: the CLI's error type and calicoctl's wording of per-resource failures.
//! - `kind`: the resource type names accepted on the command line.

mod args;
mod commands;
mod config;
mod connect;
mod error;
mod kind;
mod manifest;
mod output;
#[cfg(test)]
mod test_support;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{CommandFactory as _, Parser as _};

use hostendpoint_api::logging::{self, LogFormat};

use crate::args::Cli;

fn main() -> ExitCode {
    // A shell asking for completions gets them and nothing else (see commands::completion).
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(commands::completion::COMPLETE_VAR)
        .complete();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            // calicoctl exits 1 on every failure, usage errors included; --help is no failure.
            return if err.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_tracing(&cli.log_level);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away (`hepctl get | head`) is no failure worth a message.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // One thread is plenty for a CLI that makes one call at a time.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(commands::run(cli))?;
    Ok(())
}

fn init_tracing(level: &str) {
    logging::init(
        level,
        LogFormat::Text,
        &["hepctl", "hostendpoint_client", "hostendpoint_api"],
    );
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<error::Error>(),
        Some(error::Error::Output(io)) if io.kind() == std::io::ErrorKind::BrokenPipe
    )
}
