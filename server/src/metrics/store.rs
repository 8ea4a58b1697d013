//! The store, log, watch and etcd metrics (all prefixed `hostendpointd_`).
//!
//! Handles that the write path and the watch streams update are atomics (histograms take a
//! short lock of their own, once per sync or checkpoint, never per write). Figures the store
//! already knows, such as its revision, are read when Prometheus scrapes.

use std::sync::{Arc, OnceLock};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{
        counter::{ConstCounter, Counter},
        family::Family,
        gauge::{ConstGauge, Gauge},
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

/// The sled backend's write-ahead log and checkpoints.
#[derive(Clone, Debug)]
pub struct WalMetrics {
    /// How long each `fdatasync` of the log takes.
    pub fsync_seconds: Histogram,
    /// How many writes each sync of the log makes durable.
    pub group_commit_writes: Histogram,
    /// How long each checkpoint (sled's flush and sync) takes.
    pub checkpoint_seconds: Histogram,
}

impl Default for WalMetrics {
    /// Handles that no registry reads: for a store opened without metrics.
    fn default() -> Self {
        Self {
            // etcd's etcd_disk_wal_fsync_duration_seconds buckets: 1 ms doubling to ~8 s.
            fsync_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            group_commit_writes: Histogram::new(exponential_buckets(1.0, 2.0, 13)),
            checkpoint_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
        }
    }
}

impl WalMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let this = Self::default();
        registry.register(
            "wal_fsync_duration_seconds",
            "The latency of the write-ahead log's fdatasync calls (sled backend)",
            this.fsync_seconds.clone(),
        );
        registry.register(
            "wal_group_commit_writes",
            "The writes made durable by one sync of the write-ahead log (sled backend)",
            this.group_commit_writes.clone(),
        );
        registry.register(
            "checkpoint_duration_seconds",
            "The latency of checkpoints, which flush and sync sled (sled backend)",
            this.checkpoint_seconds.clone(),
        );
        this
    }
}

/// What a watch selects, as the `filter` label of `hostendpointd_watchers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchKind {
    /// Every host endpoint.
    All,
    /// One node's, without a selector.
    Node,
    /// A label selector (with or without a node).
    Selector,
}

/// The watch streams.
#[derive(Clone, Debug, Default)]
pub struct WatchMetrics {
    /// Open watches: all, node, selector.
    watchers: [Gauge; 3],
    /// Events sent on every watch, SYNCED and BOOKMARK included.
    pub events_sent: Counter,
    /// Watchers that fell behind the in-memory buffer and read the history.
    pub catchups: Counter,
    /// Watches refused or ended because their revision was compacted.
    pub compacted: Counter,
}

impl WatchMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let watchers = Family::<[(&'static str, &'static str); 1], Gauge>::default();
        let this = Self {
            watchers: ["all", "node", "selector"]
                .map(|kind| watchers.get_or_create(&[("filter", kind)]).clone()),
            ..Self::default()
        };
        registry.register(
            "watchers",
            "Open WatchHostEndpoints streams, by what they select",
            watchers,
        );
        registry.register(
            "watch_events_sent",
            "Events sent on watch streams, SYNCED and BOOKMARK included",
            this.events_sent.clone(),
        );
        registry.register(
            "watch_catchups",
            "Watchers that fell behind the in-memory change buffer and caught up from the history",
            this.catchups.clone(),
        );
        registry.register(
            "watch_compacted",
            "Watches refused or ended because their revision is no longer in the history",
            this.compacted.clone(),
        );
        this
    }

    /// Counts one open watch of `kind` until the guard is dropped.
    pub fn open_watch(&self, kind: WatchKind) -> OpenWatch {
        let gauge = self.watchers[kind as usize].clone();
        gauge.inc();
        OpenWatch(gauge)
    }
}

/// One open watch in `hostendpointd_watchers`, until dropped.
#[derive(Debug)]
pub struct OpenWatch(Gauge);

impl Drop for OpenWatch {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The etcd backend.
#[derive(Clone, Debug, Default)]
pub struct EtcdMetrics {
    /// Times the etcd watch that feeds the view was lost and reopened.
    pub watch_restarts: Counter,
    /// Relists of the whole prefix after the start, by why.
    relists: Family<Vec<(&'static str, &'static str)>, Counter>,
    /// How many revisions the watch is behind etcd, at the last probe.
    pub watch_lag: Gauge,
}

impl EtcdMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let this = Self::default();
        registry.register(
            "etcd_watch_restarts",
            "Times the etcd watch that feeds this replica was lost and reopened (etcd backend)",
            this.watch_restarts.clone(),
        );
        registry.register(
            "etcd_relists",
            "Relists of every object from etcd after the start, by reason: compacted, behind, \
             stalled, oversized (etcd backend)",
            this.relists.clone(),
        );
        registry.register(
            "etcd_watch_lag_revisions",
            "How many revisions this replica's watch of etcd is behind etcd (etcd backend)",
            this.watch_lag.clone(),
        );
        this
    }

    /// Counts a relist for `reason`.
    pub fn relisted(&self, reason: &'static str) {
        self.relists.get_or_create(&vec![("reason", reason)]).inc();
    }
}

/// The store's figures at one scrape.
#[derive(Clone, Debug)]
pub struct StoreSample {
    /// The latest committed revision.
    pub revision: u64,
    /// How many host endpoints are stored.
    pub objects: usize,
    /// Whether writes can be made durable (false while the sled disk is full, say).
    pub writable: bool,
    /// The backend's own figures.
    pub backend: BackendSample,
}

/// A backend's own figures at one scrape.
#[derive(Clone, Debug)]
pub enum BackendSample {
    /// The sled backend.
    Sled {
        /// The bytes the write-ahead log takes on disk.
        wal_bytes: u64,
    },
    /// The etcd backend.
    Etcd {
        /// Whether this replica's watch of etcd is up.
        up: bool,
        /// Values under the prefix skipped as invalid since start-up.
        invalid_values: u64,
    },
}

/// A store that can be sampled at scrape time.
pub trait StoreProbe: Send + Sync + std::fmt::Debug + 'static {
    /// The store's figures now.
    fn sample(&self) -> StoreSample;
}

/// Encodes the store's figures at scrape time, once a store is attached.
#[derive(Debug, Default)]
pub(super) struct StoreCollector {
    store: OnceLock<Arc<dyn StoreProbe>>,
}

impl StoreCollector {
    pub(super) fn attach(&self, store: Arc<dyn StoreProbe>) {
        let _ = self.store.set(store);
    }
}

impl Collector for StoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(store) = self.store.get() else {
            return Ok(());
        };
        let sample = store.sample();
        let gauge = |encoder: &mut DescriptorEncoder, name, help, value: i64| {
            let metric = ConstGauge::new(value);
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
        };
        let revision = i64::try_from(sample.revision).unwrap_or(i64::MAX);
        let objects = i64::try_from(sample.objects).unwrap_or(i64::MAX);
        gauge(
            &mut encoder,
            "store_revision",
            "The store's latest committed revision.",
            revision,
        )?;
        gauge(
            &mut encoder,
            "store_objects",
            "The host endpoints in the store.",
            objects,
        )?;
        gauge(
            &mut encoder,
            "store_writable",
            "1 while writes can be made durable; 0 while they fail (a full disk, say).",
            i64::from(sample.writable),
        )?;
        match sample.backend {
            BackendSample::Sled { wal_bytes } => gauge(
                &mut encoder,
                "wal_bytes",
                "The bytes the write-ahead log's segments take on disk (sled backend).",
                i64::try_from(wal_bytes).unwrap_or(i64::MAX),
            ),
            BackendSample::Etcd { up, invalid_values } => {
                gauge(
                    &mut encoder,
                    "etcd_up",
                    "1 while this replica's watch of etcd is up (etcd backend).",
                    i64::from(up),
                )?;
                let invalid = ConstCounter::new(invalid_values);
                invalid.encode(encoder.encode_descriptor(
                    "etcd_invalid_values",
                    "Values under the prefix skipped as invalid host endpoints (etcd backend).",
                    None,
                    invalid.metric_type(),
                )?)
            }
        }
    }
}
