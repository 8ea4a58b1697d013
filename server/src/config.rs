//! The server's command-line flags, each with an environment-variable fallback.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Parser, ValueEnum};

use crate::store::{
    sled::{DEFAULT_CACHE_BYTES, DEFAULT_RETAINED_REVISIONS},
    view::DEFAULT_CHANGE_BUFFER,
};

/// hostendpointd: Calico HostEndpoint resources over gRPC, on a durable embedded store.
#[derive(Clone, Debug, Parser)]
#[command(name = "hostendpointd", version, about, long_about = None)]
#[deny(missing_docs)]
pub struct Args {
    /// Address to serve gRPC on (port 0 picks a free port).
    #[arg(long, env = "HOSTENDPOINTD_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Where objects are kept: the embedded sled store, or etcd v3 in Calico's key layout.
    #[arg(long, env = "DATASTORE_TYPE", value_enum, default_value_t = DatastoreType::Sled)]
    pub datastore: DatastoreType,

    /// etcd client URLs, comma-separated, for `--datastore etcdv3`.
    #[arg(
        long,
        env = "ETCD_ENDPOINTS",
        value_delimiter = ',',
        required_if_eq("datastore", "etcdv3")
    )]
    pub etcd_endpoints: Vec<String>,

    /// Directory of the embedded sled store; created when missing.
    #[arg(
        long,
        env = "HOSTENDPOINTD_DATA_DIR",
        default_value = "./hostendpointd-data"
    )]
    pub data_dir: PathBuf,

    /// Size of sled's page cache, in MiB.
    #[arg(long, env = "HOSTENDPOINTD_SLED_CACHE_MB", default_value_t = DEFAULT_CACHE_BYTES / (1024 * 1024))]
    pub sled_cache_mb: u64,

    /// The change log keeps at least this many revisions: watches can resume from any of them.
    #[arg(long, env = "HOSTENDPOINTD_RETAINED_REVISIONS", default_value_t = DEFAULT_RETAINED_REVISIONS)]
    pub retained_revisions: u64,

    /// Start even when the write-ahead log is damaged (which otherwise stops the start): the
    /// log is cut at the damage, acknowledged writes after it may be lost, and the store gets
    /// a new store_uid so that every agent relists. For a one-off recovery only.
    #[arg(long, env = "HOSTENDPOINTD_DISCARD_DAMAGED_WAL")]
    pub discard_damaged_wal: bool,

    /// How often the change log is compacted down to the retained revisions.
    #[arg(long, env = "HOSTENDPOINTD_COMPACTION_INTERVAL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub compaction_interval: Duration,

    /// How many changes the in-memory change stream buffers; a watcher further behind catches
    /// up from the on-disk log.
    #[arg(long, env = "HOSTENDPOINTD_WATCH_BUFFER", default_value_t = DEFAULT_CHANGE_BUFFER)]
    pub watch_buffer: usize,

    /// Longest wait for in-flight calls after SIGTERM or SIGINT before exiting anyway.
    #[arg(long, env = "HOSTENDPOINTD_DRAIN_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,

    /// Interval between BOOKMARK events on every watch.
    #[arg(long, env = "HOSTENDPOINTD_BOOKMARK_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub bookmark_interval: Duration,

    /// The most concurrent streams (calls and watches) on one HTTP/2 connection: a node-agent
    /// proxy may multiplex thousands of watches on one connection.
    #[arg(
        long,
        env = "HOSTENDPOINTD_MAX_CONCURRENT_STREAMS",
        default_value_t = 65_536
    )]
    pub max_concurrent_streams: u32,

    /// Log filter, in tracing's EnvFilter syntax (`info`, `hostendpointd=debug,info`).
    #[arg(long, env = "HOSTENDPOINTD_LOG", default_value = "info")]
    pub log_level: String,

    /// Log line format.
    #[arg(long, env = "HOSTENDPOINTD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The storage backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DatastoreType {
    /// The embedded sled store.
    Sled,
    /// etcd v3 (calicoctl's `DATASTORE_TYPE=etcdv3`).
    Etcdv3,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}
