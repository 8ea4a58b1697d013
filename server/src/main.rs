//! The `hostendpointd` binary: parses flags, sets up logging, and runs the server until
//! SIGTERM or SIGINT.

use std::io::IsTerminal as _;

use anyhow::Context as _;
use clap::Parser as _;
use hostendpointd::{
    Datastore, ServerConfig,
    config::{Args, DatastoreType, LogFormat},
    store::{etcd::EtcdConfig, sled::SledConfig},
    watch::WatchConfig,
};
use tokio::{net::TcpListener, signal::unix};
use tracing::info;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_tracing(&args.log_level, args.log_format)?;
    let Args {
        listen,
        datastore,
        etcd_endpoints,
        data_dir,
        sled_cache_mb,
        retained_revisions,
        discard_damaged_wal,
        compaction_interval,
        watch_buffer,
        drain_timeout,
        bookmark_interval,
        max_concurrent_streams,
        ..
    } = args;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let datastore = match datastore {
        DatastoreType::Sled => Datastore::Sled(SledConfig {
            cache_bytes: sled_cache_mb * 1024 * 1024,
            retained_revisions,
            compaction_interval,
            change_buffer: watch_buffer,
            discard_damaged_wal,
            ..SledConfig::new(data_dir)
        }),
        DatastoreType::Etcdv3 => Datastore::Etcd(EtcdConfig {
            change_buffer: watch_buffer,
            ..EtcdConfig::new(etcd_endpoints)
        }),
    };
    let config = ServerConfig {
        datastore,
        drain_timeout,
        watch: WatchConfig { bookmark_interval },
        max_concurrent_streams,
    };
    hostendpointd::run(config, listener, termination()?).await?;
    Ok(())
}

fn init_tracing(filter: &str, format: LogFormat) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_new(filter).with_context(|| format!("bad log filter {filter:?}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

/// Completes on the first SIGTERM or SIGINT.
fn termination() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    let mut term = unix::signal(unix::SignalKind::terminate())?;
    let mut int = unix::signal(unix::SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => info!("SIGTERM received"),
            _ = int.recv() => info!("SIGINT received"),
        }
    })
}
