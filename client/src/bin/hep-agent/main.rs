//! `hep-agent`: keeps the host endpoints of one node in a local state file.
//!
//! It follows the server with the client library's watcher and keeps what it learns in the
//! library's reflector (resume after outages without a relist where the server still has the
//! history, relists, backoff: all theirs). On every change it rewrites the state file
//! atomically and then runs the `--exec` command, if any. With `--metrics-listen` it serves
//! Prometheus metrics.
//!
//! Everything that can be checked before following is checked at start, and a mistake there
//! ends the agent (exit code 2) rather than being retried forever: the server address and the
//! TLS files (by the client library), the state file's directory, the metrics address.
//!
//! # Layout
//! - `main.rs`: start-up checks, the event loop, signals.
//! - [`args`]: the command line.
//! - [`state_file`]: the state file's format and its atomic replacement.
//! - [`hook`]: the `--exec` command and its logged output.
//! - [`metrics`]: the `hep_agent_*` metrics.

mod args;
mod hook;
mod metrics;
mod state_file;

use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use args::Args;
use clap::Parser as _;
use futures::StreamExt as _;
use hostendpoint_api::{logging, metrics_http::MetricsServer};
use hostendpoint_client::{
    Client, ConnectOptions, TlsFiles, io_words,
    reflector::{self, Store},
    watcher::{self, Event},
};
use metrics::AgentMetrics;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{debug, error, info};

/// The exit code of a start-up mistake, apart from a failure while running (1): a service
/// manager can stop restarting on it (systemd's `RestartPreventExitStatus=2`), and clap uses
/// it for usage errors too.
const EXIT_START_UP: u8 = 2;

/// The crates whose debug lines a bare `--log-level debug` shows.
const OUR_CRATES: &[&str] = &["hep_agent", "hostendpoint_client", "hostendpoint_api"];

/// A started agent: checked, connected lazily, serving its metrics.
struct Agent {
    args: Args,
    client: Client,
    config: watcher::Config,
    metrics: AgentMetrics,
    /// Kept until the agent exits: dropping it stops the endpoint.
    _metrics_endpoint: Option<MetricsServer>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    logging::init(&args.log_level, args.log_format, OUR_CRATES);
    let agent = match Agent::start(args).await {
        Ok(agent) => agent,
        Err(err) => {
            error!("{err:#}");
            return ExitCode::from(EXIT_START_UP);
        }
    };
    let (mut terminate, mut interrupt) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(terminate), Ok(interrupt)) => (terminate, interrupt),
        (Err(err), _) | (_, Err(err)) => {
            error!("cannot handle signals: {}", io_words(&err));
            return ExitCode::from(EXIT_START_UP);
        }
    };
    tokio::select! {
        result = agent.follow() => match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                error!("{err:#}");
                ExitCode::FAILURE
            }
        },
        _ = terminate.recv() => { info!("SIGTERM received; exiting"); ExitCode::SUCCESS }
        _ = interrupt.recv() => { info!("SIGINT received; exiting"); ExitCode::SUCCESS }
    }
}

impl Agent {
    /// Checks what can be checked before following, and starts the metrics endpoint.
    async fn start(args: Args) -> anyhow::Result<Self> {
        let options = ConnectOptions {
            tls: TlsFiles {
                ca_cert: args.ca_cert_file.clone(),
                cert: args.cert_file.clone(),
                key: args.key_file.clone(),
            },
            dial_timeout: args.dial_timeout,
            request_timeout: Some(args.request_timeout),
            keepalive_interval: args.keepalive_interval,
            keepalive_timeout: args.keepalive_timeout,
        };
        let client = Client::connect_lazy_with(&args.server, options)?;
        state_file::check_writable(&args.state_file).map_err(|err| {
            anyhow!(
                "the state file's directory {} is not writable: {}",
                state_file::directory(&args.state_file).display(),
                io_words(&err)
            )
        })?;
        let config = watcher::Config {
            node: Some(args.node.clone()),
            ..watcher::Config::default()
        };
        let metrics = AgentMetrics::new(config.stats.clone());
        let endpoint =
            match args.metrics_listen {
                Some(addr) => Some(metrics.serve(addr).await.map_err(|err| {
                    anyhow!("cannot serve metrics on {addr}: {}", io_words(&err))
                })?),
                None => None,
            };
        Ok(Self {
            args,
            client,
            config,
            metrics,
            _metrics_endpoint: endpoint,
        })
    }

    /// Follows the server until the state file cannot be written.
    async fn follow(mut self) -> anyhow::Result<()> {
        let args = &self.args;
        info!(node = %args.node, server = %args.server, "following");
        let (store, writer) = reflector::store();
        let events = reflector::reflector(
            writer,
            watcher::watcher(self.client.clone(), self.config.clone()),
        );
        // Events that arrived together are written once.
        let mut batches = std::pin::pin!(events.ready_chunks(1024));
        while let Some(batch) = batches.next().await {
            let mut changed = false;
            for event in batch {
                match event {
                    Ok(event) => changed |= note(&mut self.metrics, &event, &store),
                    // The watcher logged it, and retries.
                    Err(error) => debug!(%error, "the watcher reported an error"),
                }
            }
            self.metrics
                .known(store.is_synced(), store.revision(), store.len());
            if changed {
                publish(args, &store).await?;
                self.metrics.state_file_written();
            }
        }
        Ok(())
    }
}

/// Says what an event (already in the store) means; true when the state file must be
/// rewritten.
fn note(metrics: &mut AgentMetrics, event: &Event, store: &Store) -> bool {
    match event {
        Event::Init => {
            info!("listing");
            metrics.listing_started();
            false
        }
        Event::InitApply(_) => false,
        Event::InitDone(revision) => {
            info!(revision, host_endpoints = store.len(), "in sync");
            true
        }
        Event::Apply(_) | Event::Delete(_) => true,
    }
}

/// Writes the state file, then runs the hook.
async fn publish(args: &Args, store: &Store) -> anyhow::Result<()> {
    let path = args.state_file.clone();
    let mode = args.state_file_mode;
    let (revision, objects) = (store.revision(), store.state());
    let contents = state_file::render(&args.node, revision, objects.iter().map(|hep| &**hep));
    tokio::task::spawn_blocking(move || state_file::replace(&path, &contents, mode))
        .await
        .context("the state file's writer stopped")?
        .map_err(|err| {
            anyhow!(
                "cannot write the state file {}: {}",
                args.state_file.display(),
                io_words(&err)
            )
        })?;
    info!(
        revision,
        host_endpoints = objects.len(),
        "state file written"
    );
    if let Some(command) = &args.exec {
        hook::run(command, &args.state_file, revision).await;
    }
    Ok(())
}
