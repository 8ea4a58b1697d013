//! The server's command-line flags, each with an environment-variable fallback.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Parser, ValueEnum};
use hostendpoint_api::{flag_values::positive_duration, logging::LogFormat};

use crate::{
    listener::DEFAULT_MAX_CONNECTIONS,
    security::authz::DEFAULT_MAX_WATCHES_PER_IDENTITY,
    store::{
        etcd::LagLimits,
        sled::{DEFAULT_CACHE_BYTES, DEFAULT_RETAINED_REVISIONS},
        view::DEFAULT_CHANGE_BUFFER,
    },
};

/// hostendpointd: Calico HostEndpoint resources over gRPC, on a durable embedded store.
///
/// The largest request message accepted is 4 MiB (gRPC's default); larger ones are answered
/// RESOURCE_EXHAUSTED.
#[derive(Clone, Debug, Parser)]
#[command(name = "hostendpointd", version = hostendpoint_api::build_info::long_version(), about, long_about)]
#[deny(missing_docs)]
pub struct Args {
    /// Address to serve gRPC on, `host:port` (a host name is resolved, and the first address
    /// it resolves to is used; port 0 picks a free port).
    #[arg(long, env = "HOSTENDPOINTD_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: String,

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

    /// Serve TLS only, with this certificate chain (PEM); re-read when the file changes.
    #[arg(long, env = "HOSTENDPOINTD_TLS_CERT_FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,

    /// The private key of --tls-cert-file (PEM); re-read when the file changes.
    #[arg(long, env = "HOSTENDPOINTD_TLS_KEY_FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,

    /// Require every client to present a certificate signed by this CA (PEM); its URI SANs and
    /// subject CN are the client's identities, authorized by --authz-policy.
    #[arg(
        long,
        env = "HOSTENDPOINTD_TLS_CLIENT_CA_FILE",
        requires = "tls_cert_file"
    )]
    pub tls_client_ca_file: Option<PathBuf>,

    /// The roles of client identities (YAML: `admin`, `reader`, `node`); re-read when the file
    /// changes. Without it: no admins or readers, and nodes as `CN:system:node:{node}`.
    #[arg(
        long,
        env = "HOSTENDPOINTD_AUTHZ_POLICY",
        requires = "tls_client_ca_file"
    )]
    pub authz_policy: Option<PathBuf>,

    /// Append one JSON line per write and per denied call to this file (`-`: stdout); the file
    /// is reopened on SIGHUP.
    #[arg(long, env = "HOSTENDPOINTD_AUDIT_LOG")]
    pub audit_log: Option<String>,

    /// The most watches one client identity may have open at once.
    #[arg(long, env = "HOSTENDPOINTD_MAX_WATCHES_PER_IDENTITY", default_value_t = DEFAULT_MAX_WATCHES_PER_IDENTITY, value_parser = positive_count)]
    pub max_watches_per_identity: usize,

    /// The most open client connections; further ones wait until one closes. Clamped to what
    /// the open-files limit leaves after a reserve for the store.
    #[arg(long, env = "HOSTENDPOINTD_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = positive_count)]
    pub max_connections: usize,

    /// A connection that has not completed its TLS handshake (or sent the HTTP/2 preface) in
    /// this time is closed.
    #[arg(long, env = "HOSTENDPOINTD_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub handshake_timeout: Duration,

    /// A connection with no call in flight for this long is closed (`0s`: never); an open
    /// watch is a call, keepalive pings are not.
    #[arg(long, env = "HOSTENDPOINTD_IDLE_TIMEOUT", default_value = "5m", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,

    /// Interval of the HTTP/2 pings that find dead clients.
    #[arg(long, env = "HOSTENDPOINTD_KEEPALIVE_INTERVAL", default_value = "30s", value_parser = positive_duration)]
    pub keepalive_interval: Duration,

    /// A client that does not answer a ping within this time is disconnected.
    #[arg(long, env = "HOSTENDPOINTD_KEEPALIVE_TIMEOUT", default_value = "20s", value_parser = positive_duration)]
    pub keepalive_timeout: Duration,

    /// CA certificate (PEM) that etcd's server certificate must chain to, for https://
    /// endpoints; without it, the system's roots.
    #[arg(long, env = "ETCD_CA_CERT_FILE")]
    pub etcd_ca_cert_file: Option<PathBuf>,

    /// Client certificate (PEM) presented to etcd.
    #[arg(long, env = "ETCD_CERT_FILE", requires = "etcd_key_file")]
    pub etcd_cert_file: Option<PathBuf>,

    /// The private key of --etcd-cert-file (PEM).
    #[arg(long, env = "ETCD_KEY_FILE", requires = "etcd_cert_file")]
    pub etcd_key_file: Option<PathBuf>,

    /// A replica whose watch of etcd is this many revisions behind etcd relists every object
    /// at a revision and watches from there, instead of waiting while etcd replays the
    /// backlog (which etcd 3.4 reads into memory in one go).
    #[arg(long, env = "HOSTENDPOINTD_ETCD_MAX_WATCH_LAG", default_value_t = LagLimits::default().revisions, value_parser = clap::value_parser!(u64).range(1..))]
    pub etcd_max_watch_lag: u64,

    /// A replica whose watch of etcd is behind and has delivered nothing for this long relists
    /// as well.
    #[arg(long, env = "HOSTENDPOINTD_ETCD_WATCH_STALL_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub etcd_watch_stall_timeout: Duration,

    /// Address to serve Prometheus metrics (`/metrics`) and the HTTP probes (`/livez`,
    /// `/readyz`) on; empty turns it off. 9095 is next to, and clear of, the ports Calico's
    /// components serve metrics on (Felix 9091, Typha 9093, kube-controllers 9094).
    #[arg(long, env = "HOSTENDPOINTD_METRICS_LISTEN", default_value = DEFAULT_METRICS_LISTEN)]
    pub metrics_listen: MetricsListen,

    /// Log filter, in tracing's EnvFilter syntax (`info`, `debug`, `hostendpointd=debug,info`).
    /// Other crates' debug lines (sled, h2, hyper, tonic, rustls) only when named: `sled=debug`.
    #[arg(long, env = "HOSTENDPOINTD_LOG", default_value = "info", value_parser = hostendpoint_api::logging::check_filter)]
    pub log_level: String,

    /// Log line format.
    #[arg(long, env = "HOSTENDPOINTD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// A count that must not be zero: zero connections or watches would refuse every one.
fn positive_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(count) => Ok(count),
        Err(err) => Err(err.to_string()),
    }
}

/// The default of `--metrics-listen`.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9095";

/// An address to serve on, or none (from an empty value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsListen(pub Option<SocketAddr>);

impl std::str::FromStr for MetricsListen {
    type Err = std::net::AddrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "" => Ok(Self(None)),
            addr => addr.parse().map(|addr| Self(Some(addr))),
        }
    }
}

/// The storage backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DatastoreType {
    /// The embedded sled store.
    Sled,
    /// etcd v3 (calicoctl's `DATASTORE_TYPE=etcdv3`).
    Etcdv3,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_etcd_lag_flags_default_to_the_backends_limits() {
        let args = Args::parse_from(["hostendpointd"]);
        let limits = LagLimits::default();
        assert_eq!(args.etcd_max_watch_lag, limits.revisions);
        assert_eq!(args.etcd_watch_stall_timeout, limits.stall);
    }
}
