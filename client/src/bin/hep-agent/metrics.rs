//! hep-agent's Prometheus metrics, prefix `hep_agent_`: what the agent knows (in sync or not,
//! its revision, its host endpoints), how its watch has fared (reconnects, relists), and when
//! it last wrote the state file. Serving them is `hostendpoint_api::metrics_http`'s, shared
//! with the server.

use std::{
    net::SocketAddr,
    sync::{Arc, atomic::AtomicU64},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{Router, http::HeaderMap, routing::get};
use hostendpoint_api::metrics_http::{self, MetricsServer, exposition};
use hostendpoint_client::watcher::Stats;
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric as _},
    metrics::{
        counter::{ConstCounter, Counter},
        gauge::Gauge,
    },
    registry::Registry,
};

/// The agent's metrics. The event loop updates the gauges after each batch of events; the
/// watcher's reconnects are read from its [`Stats`] at scrape time, so that they show while
/// the server is away and no event arrives.
#[derive(Debug)]
pub(crate) struct AgentMetrics {
    registry: Arc<Registry>,
    synced: Gauge,
    revision: Gauge,
    host_endpoints: Gauge,
    relists: Counter,
    last_write: Gauge<f64, AtomicU64>,
    /// Whether the first listing has started: later ones are relists.
    listed: bool,
}

impl AgentMetrics {
    /// Registers every metric; `watcher` is the watcher's [`Stats`].
    pub(crate) fn new(watcher: Stats) -> Self {
        let mut registry = Registry::with_prefix("hep_agent");
        let synced = Gauge::default();
        registry.register(
            "synced",
            "1 once a listing completed and while no relist is under way, else 0",
            synced.clone(),
        );
        let revision = Gauge::default();
        registry.register(
            "revision",
            "The store revision the state file reflects",
            revision.clone(),
        );
        let host_endpoints = Gauge::default();
        registry.register(
            "host_endpoints",
            "The node's host endpoints the agent knows",
            host_endpoints.clone(),
        );
        let relists = Counter::default();
        registry.register(
            "relists",
            "Listings after the first (the watch position was gone)",
            relists.clone(),
        );
        let last_write = Gauge::default();
        registry.register(
            "state_file_last_write_timestamp_seconds",
            "When the state file was last written, in seconds since the Unix epoch",
            last_write.clone(),
        );
        registry.register_collector(Box::new(WatcherCollector(watcher)));
        Self {
            registry: Arc::new(registry),
            synced,
            revision,
            host_endpoints,
            relists,
            last_write,
            listed: false,
        }
    }

    /// Serves `/metrics` on `addr` until the returned endpoint is dropped.
    pub(crate) async fn serve(&self, addr: SocketAddr) -> std::io::Result<MetricsServer> {
        let registry = Arc::clone(&self.registry);
        let router = Router::new().route(
            "/metrics",
            get(move |headers: HeaderMap| async move { exposition(&registry, &headers) }),
        );
        metrics_http::serve(addr, router).await
    }

    /// A listing started.
    pub(crate) fn listing_started(&mut self) {
        if std::mem::replace(&mut self.listed, true) {
            self.relists.inc();
        }
    }

    /// What the agent knows now.
    pub(crate) fn known(&self, synced: bool, revision: u64, host_endpoints: usize) {
        self.synced.set(i64::from(synced));
        self.revision
            .set(i64::try_from(revision).unwrap_or(i64::MAX));
        self.host_endpoints
            .set(i64::try_from(host_endpoints).unwrap_or(i64::MAX));
    }

    /// The state file was just written.
    pub(crate) fn state_file_written(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.last_write.set(now.as_secs_f64());
    }
}

/// `hep_agent_reconnects_total`, read from the watcher's [`Stats`].
#[derive(Debug)]
struct WatcherCollector(Stats);

impl Collector for WatcherCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let reconnects = ConstCounter::new(self.0.reconnects());
        reconnects.encode(encoder.encode_descriptor(
            "reconnects",
            "Times the watch stream failed or could not be opened, and was opened again",
            None,
            reconnects.metric_type(),
        )?)
    }
}
