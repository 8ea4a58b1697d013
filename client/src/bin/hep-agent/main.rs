//! `hep-agent`: keeps the host endpoints of one node in a local state file.
//!
//! It follows the server with the client library's watcher, which resumes after outages
//! without a relist where the server still has the history. On every change it rewrites the
//! state file atomically and then runs the `--exec` command, if any. With `--metrics-listen`
//! it serves Prometheus metrics.
//!
//! # Layout
//! - `main.rs`: flags, logging, the event loop, signals.
//! - [`state_file`]: the state file's format and its atomic replacement.
//! - [`metrics`]: the `hep_agent_*` metrics.

mod metrics;
mod state_file;

use std::{
    collections::BTreeMap, io::IsTerminal as _, net::SocketAddr, path::PathBuf, process::Stdio,
};

use anyhow::Context as _;
use clap::Parser;
use futures::StreamExt as _;
use hostendpoint_client::{
    Client, TlsFiles,
    model::{HostEndpoint, Revision},
    watcher::{self, Event},
};
use metrics::AgentMetrics;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{info, warn};
use tracing_subscriber::EnvFilter;

/// Keeps the host endpoints of one node in a local JSON state file, following hostendpointd.
#[derive(Debug, Parser)]
#[command(
    name = "hep-agent",
    version = hostendpoint_api::build_info::long_version(),
    about
)]
#[deny(missing_docs)]
struct Args {
    /// The node whose host endpoints to keep.
    #[arg(long, env = "HEP_AGENT_NODE")]
    node: String,
    /// The hostendpointd endpoint: an http:// or https:// URL, or host:port (TLS when a TLS
    /// file is given).
    #[arg(
        long,
        env = "HEP_AGENT_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    server: String,
    /// The CA certificate (PEM) the server's certificate must chain to; without it, the
    /// system's roots.
    #[arg(long, env = "HEP_AGENT_CA_CERT_FILE")]
    ca_cert_file: Option<PathBuf>,
    /// The node's client certificate (PEM), for a server that requires one: with the default
    /// policy, its common name is `system:node:<node>`.
    #[arg(long, env = "HEP_AGENT_CERT_FILE", requires = "key_file")]
    cert_file: Option<PathBuf>,
    /// The private key (PEM) of --cert-file.
    #[arg(long, env = "HEP_AGENT_KEY_FILE", requires = "cert_file")]
    key_file: Option<PathBuf>,
    /// Where to write the current set (JSON, sorted by name, with the revision); replaced
    /// atomically on every change.
    #[arg(long, env = "HEP_AGENT_STATE_FILE")]
    state_file: PathBuf,
    /// A shell command to run after every write of the state file; it gets the path and the
    /// revision in HEP_AGENT_STATE_FILE and HEP_AGENT_REVISION.
    #[arg(long, env = "HEP_AGENT_EXEC")]
    exec: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics (`hep_agent_*`); off when not given.
    /// The bound address is logged (`metrics listening`), so port 0 picks a free one.
    #[arg(long, env = "HEP_AGENT_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Log filter, in tracing's EnvFilter syntax.
    #[arg(long, env = "HEP_AGENT_LOG", default_value = "info")]
    log_level: String,
}

/// What the agent knows.
#[derive(Debug, Default)]
struct Known {
    objects: BTreeMap<String, HostEndpoint>,
    /// The objects of a listing in progress.
    listing: Option<BTreeMap<String, HostEndpoint>>,
    revision: Revision,
    /// A listing completed and no relist is under way.
    synced: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = EnvFilter::try_new(&args.log_level).context("bad --log-level")?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::select! {
        result = follow(&args) => result,
        _ = terminate.recv() => { info!("SIGTERM received; exiting"); Ok(()) }
        _ = interrupt.recv() => { info!("SIGINT received; exiting"); Ok(()) }
    }
}

async fn follow(args: &Args) -> anyhow::Result<()> {
    let tls = TlsFiles {
        ca_cert: args.ca_cert_file.clone(),
        cert: args.cert_file.clone(),
        key: args.key_file.clone(),
    };
    let client = Client::connect_lazy_with(&args.server, &tls)?;
    let config = watcher::Config {
        node: Some(args.node.clone()),
        ..watcher::Config::default()
    };
    let mut metrics = AgentMetrics::new(config.stats.clone());
    // Kept until the agent exits: dropping it stops the endpoint.
    let _endpoint = match args.metrics_listen {
        Some(addr) => Some(
            metrics
                .serve(addr)
                .await
                .with_context(|| format!("cannot serve metrics on {addr}"))?,
        ),
        None => None,
    };
    info!(node = %args.node, server = %args.server, "following");
    // Events that arrived together are written once.
    let mut batches = std::pin::pin!(watcher::watcher(client, config).ready_chunks(1024));
    let mut known = Known::default();
    while let Some(batch) = batches.next().await {
        let mut changed = false;
        for event in batch {
            match event {
                Ok(event) => {
                    if matches!(event, Event::Init) {
                        metrics.listing_started();
                    }
                    changed |= known.apply(event);
                }
                Err(error) => warn!(%error, "watch error; the watcher retries"),
            }
        }
        metrics.known(known.synced, known.revision, known.objects.len());
        if changed {
            publish(args, &known).await?;
            metrics.state_file_written();
        }
    }
    Ok(())
}

impl Known {
    /// Applies one event; true when the state file must be rewritten.
    fn apply(&mut self, event: Event) -> bool {
        match event {
            Event::Init => {
                info!("listing");
                self.listing = Some(BTreeMap::new());
                self.synced = false;
                false
            }
            Event::InitApply(hep) => {
                let listing = self.listing.get_or_insert_with(BTreeMap::new);
                listing.insert(hep.metadata.name.clone(), hep);
                false
            }
            Event::InitDone(revision) => {
                self.objects = self.listing.take().unwrap_or_default();
                self.revision = revision;
                self.synced = true;
                info!(revision, host_endpoints = self.objects.len(), "in sync");
                true
            }
            Event::Apply(hep) => {
                self.revision = hep.metadata.resource_version;
                self.objects.insert(hep.metadata.name.clone(), hep);
                true
            }
            Event::Delete(hep) => {
                self.revision = hep.metadata.resource_version;
                self.objects.remove(&hep.metadata.name);
                true
            }
        }
    }
}

async fn publish(args: &Args, known: &Known) -> anyhow::Result<()> {
    let path = args.state_file.clone();
    let contents = state_file::render(&args.node, known.revision, known.objects.values());
    tokio::task::spawn_blocking(move || state_file::replace(&path, &contents))
        .await?
        .with_context(|| format!("cannot write {}", args.state_file.display()))?;
    info!(
        revision = known.revision,
        host_endpoints = known.objects.len(),
        "state file written"
    );
    if let Some(command) = &args.exec {
        run_hook(command, args, known.revision).await;
    }
    Ok(())
}

/// Runs the hook; its failure is logged, not fatal: the next change runs it again.
async fn run_hook(command: &str, args: &Args, revision: Revision) {
    let status = tokio::process::Command::new("sh")
        .args(["-c", command])
        .env("HEP_AGENT_STATE_FILE", &args.state_file)
        .env("HEP_AGENT_REVISION", revision.to_string())
        .stdin(Stdio::null())
        .status()
        .await;
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => warn!(%status, command, "--exec command failed"),
        Err(error) => warn!(%error, command, "--exec command could not run"),
    }
}
