//! The `hostendpointd` binary: parses flags, sets up logging, and runs the server until
//! SIGTERM or SIGINT.

use std::process::ExitCode;

use clap::Parser as _;
use hostendpoint_api::{build_info, logging};
use hostendpointd::{
    Datastore, ServerConfig,
    config::{Args, DatastoreType},
    security::{SecurityConfig, tls::TlsFiles},
    serve::ConnectionConfig,
    store::{
        etcd::{EtcdConfig, EtcdTls, LagLimits},
        sled::SledConfig,
    },
    watch::WatchConfig,
};
use tokio::{net::TcpListener, signal::unix};
use tracing::{error, info};

// jemalloc's background thread hands freed memory back to the system: with glibc's malloc, a
// GiB that stalled watchers had used stayed resident after they were gone.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let args = Args::parse();
    logging::init(
        &args.log_level,
        args.log_format,
        &["hostendpointd", "hostendpoint_api"],
    );
    info!(
        version = build_info::VERSION,
        commit = build_info::COMMIT,
        "hostendpointd starting"
    );
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            error!("cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(start(args));
    // The store is flushed and the audit log written by now: exit without waiting for a
    // periodic checkpoint that may be running on the blocking pool.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Every error states its cause in its own message: the chain is said once.
            error!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn start(args: Args) -> anyhow::Result<()> {
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
        tls_cert_file,
        tls_key_file,
        tls_client_ca_file,
        authz_policy,
        audit_log,
        max_watches_per_identity,
        max_connections,
        handshake_timeout,
        idle_timeout,
        keepalive_interval,
        keepalive_timeout,
        etcd_ca_cert_file,
        etcd_cert_file,
        etcd_key_file,
        etcd_max_watch_lag,
        etcd_watch_stall_timeout,
        metrics_listen,
        ..
    } = args;
    let listener = TcpListener::bind(listen.as_str())
        .await
        .map_err(|err| anyhow::anyhow!("cannot listen on {listen}: {err}"))?;
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
            tls: EtcdTls {
                ca_cert: etcd_ca_cert_file,
                cert: etcd_cert_file,
                key: etcd_key_file,
            },
            lag_limits: LagLimits {
                revisions: etcd_max_watch_lag,
                stall: etcd_watch_stall_timeout,
            },
            ..EtcdConfig::new(etcd_endpoints)
        }),
    };
    let tls = match (tls_cert_file, tls_key_file) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert,
            key,
            client_ca: tls_client_ca_file,
        }),
        _ => None,
    };
    let config = ServerConfig {
        datastore,
        drain_timeout,
        watch: WatchConfig {
            bookmark_interval,
            ..WatchConfig::default()
        },
        metrics_listen: metrics_listen.0,
        max_concurrent_streams,
        security: SecurityConfig {
            tls,
            authz_policy,
            audit_log,
            max_watches_per_identity,
        },
        connections: ConnectionConfig {
            handshake_timeout,
            max_connections,
            idle_timeout,
            keepalive_interval,
            keepalive_timeout,
        },
    };
    hostendpointd::run(config, listener, termination()?).await?;
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
