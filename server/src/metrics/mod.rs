//! Prometheus metrics and the HTTP probes: the one home of every metric definition.
//!
//! [`Metrics`] owns the registry. The parts that update metrics get small handles from it
//! ([`GrpcMetrics`], [`WalMetrics`], [`WatchMetrics`], [`EtcdMetrics`]): atomic counters,
//! gauges and histograms, so the hot paths take no lock of ours and allocate nothing. What
//! can be read from the store at scrape time (revision, objects, etcd's reachability, the
//! log's size) is read then ([`store`]), not kept up to date on every write.
//!
//! # Layout
//! - [`grpc`]: go-grpc-prometheus' server metrics, as a tower layer on the tonic server.
//! - [`store`]: the store, log, watch and etcd metrics.
//! - [`process`]: the standard `process_*` metrics, read from /proc.
//! - [`http`]: `/metrics`, `/livez` and `/readyz`.

pub mod grpc;
pub mod http;
mod process;
pub mod store;

use std::sync::{Arc, OnceLock};

use prometheus_client::{
    metrics::{family::Family, gauge::Gauge},
    registry::Registry,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use self::{
    grpc::{GrpcMetrics, GrpcMetricsLayer},
    store::{EtcdMetrics, StoreProbe, StoreSample, WalMetrics, WatchMetrics},
};
use crate::store::Availability;

/// The prefix of the server's own metrics.
const PREFIX: &str = "hostendpointd";

/// Every metric of the server, and what the probes answer from.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// The gRPC server's metrics.
    pub grpc: Arc<GrpcMetrics>,
    /// The sled backend's write-ahead log and checkpoints.
    pub wal: WalMetrics,
    /// The watch streams.
    pub watch: WatchMetrics,
    /// The etcd backend.
    pub etcd: EtcdMetrics,
    /// The store, once it is open: read at scrape time.
    probe: Arc<store::StoreCollector>,
    readiness: Readiness,
}

/// What `/readyz` answers from.
#[derive(Debug)]
struct Readiness {
    draining: CancellationToken,
    /// Set once the store is open.
    availability: OnceLock<watch::Receiver<Availability>>,
}

impl Metrics {
    /// Registers every metric; `/readyz` fails once `draining` is cancelled.
    pub fn new(draining: CancellationToken) -> Self {
        let mut registry = Registry::default();
        let grpc = Arc::new(GrpcMetrics::register(&mut registry));
        let ours = registry.sub_registry_with_prefix(PREFIX);
        register_build_info(ours);
        let wal = WalMetrics::register(ours);
        let watch = WatchMetrics::register(ours);
        let etcd = EtcdMetrics::register(ours);
        let probe = Arc::new(store::StoreCollector::default());
        ours.register_collector(Box::new(Arc::clone(&probe)));
        registry.register_collector(Box::new(process::ProcessCollector));
        Self {
            registry,
            grpc,
            wal,
            watch,
            etcd,
            probe,
            readiness: Readiness {
                draining,
                availability: OnceLock::new(),
            },
        }
    }

    /// Starts reading the store's figures at scrape time, and answering `/readyz` from its
    /// availability. Called once, when the store is open.
    pub fn attach_store(
        &self,
        store: Arc<dyn StoreProbe>,
        availability: watch::Receiver<Availability>,
    ) {
        self.probe.attach(store);
        let _ = self.readiness.availability.set(availability);
    }

    /// Why the server is not ready, or `None` when it is.
    pub fn not_ready(&self) -> Option<String> {
        if self.readiness.draining.is_cancelled() {
            return Some("draining".into());
        }
        let Some(availability) = self.readiness.availability.get() else {
            return Some("the store is not open yet".into());
        };
        // A sled write fault (`cannot_write`) does not make the server unready: reads and
        // watches are still served, and with one replica there is nowhere else to send the
        // writes; `hostendpointd_store_writable` and gRPC health show it.
        availability.borrow().unavailable.clone()
    }

    /// The registry, for encoding.
    fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// `hostendpointd_build_info{version,commit}`, always 1: joins the build onto other series.
fn register_build_info(registry: &mut Registry) {
    use hostendpoint_api::build_info;
    let info = Family::<Vec<(String, String)>, Gauge>::default();
    let labels = vec![
        ("version".into(), build_info::VERSION.into()),
        ("commit".into(), build_info::COMMIT.into()),
    ];
    info.get_or_create(&labels).set(1);
    registry.register("build_info", "The version of this build; always 1", info);
}
