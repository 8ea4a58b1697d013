//! The etcd v3 backend, in Calico's own key layout, for users who outgrow one machine: several
//! hostendpointd replicas over one etcd cluster, each fanning watches out to node agents.
//!
//! - A write is one etcd transaction decided on this replica's copy of the object ([`write`]):
//!   create-if-absent (`create_revision == 0`) or compare-mod-revision, else get the key.
//!   resource_version is etcd's mod_revision; store_uid is the etcd cluster id.
//! - Each replica keeps one etcd watch on the prefix and an in-memory [`View`] of every object,
//!   fed by it ([`feed`]). Get, List and Watch are served from the view. A write returns once
//!   this replica's view has it, so a client reads its own writes on the replica it wrote to.
//! - Watch catch-up beyond the in-memory buffer reads etcd's history with a short etcd watch;
//!   etcd's compaction becomes the watch contract's OUT_OF_RANGE.
//! - A replica whose watch falls far behind its etcd relists at a revision rather than have
//!   etcd replay the backlog ([`lag`]).
//! - Values that cannot be parsed or break Calico's rules (written by someone else) are logged,
//!   counted and skipped; they never stop the server.
//!
//! # Layout
//! - [`codec`]: keys and Calico's v3 JSON.
//! - [`members`]: connections to the cluster members, with failover.
//! - [`write`]: the write transaction, and settling attempts whose answer was lost.
//! - [`feed`]: the initial listing, the etcd watch that feeds the view, and history reads.
//! - [`lag`]: how far that watch is behind etcd, and when to stop waiting for it.
//! - [`own_writes`]: this replica's writes, which its watch takes without parsing them again.
//! - [`startup`]: waiting for an etcd that is not up yet.
//! - [`invalid`]: the invalid values seen, each warned about once.
//! - [`proto`]: the client of etcd's v3 API, generated from `server/etcd-proto/`.

pub mod codec;
mod feed;
mod invalid;
mod lag;
mod lost_delete;
mod members;
mod own_writes;
pub mod proto;
mod startup;
mod tls;
mod write;

use std::{sync::Arc, time::Duration};

use futures::TryFutureExt as _;
use hostendpoint_api::model::{HostEndpoint, Revision};
use tonic::Status;
use tracing::{info, instrument};

use self::proto::etcdserverpb::{
    PutRequest, RangeRequest, RangeResponse, ResponseHeader, request_op::Request as Op,
};
use self::{
    invalid::InvalidValues,
    members::{Members, request},
    own_writes::OwnWrites,
    write::Committed,
};
pub use self::{lag::LagLimits, tls::EtcdTls};
use super::{Change, Error, Result, Store, View, write::Write};
use crate::metrics::{EtcdMetrics, StoreProbe, StoreSample, store::BackendSample};

/// How the log line of a relist for a watch far behind ends (benchmarks count it).
pub const BEHIND_RELIST: &str = "relisting rather than having etcd replay the backlog";

/// How long a write waits for this replica's view to show it.
const VISIBLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the etcd backend keeps host endpoints.
#[derive(Clone, Debug)]
pub struct EtcdConfig {
    /// Client URLs of the cluster's members.
    pub endpoints: Vec<String>,
    /// The key prefix; Calico's by default.
    pub prefix: String,
    /// How many changes the in-memory change stream buffers.
    pub change_buffer: usize,
    /// TLS for https:// endpoints.
    pub tls: EtcdTls,
    /// When the watch is too far behind etcd to wait for.
    pub lag_limits: LagLimits,
    /// Where the watch's restarts are counted.
    pub metrics: EtcdMetrics,
}

impl EtcdConfig {
    /// Calico's layout on `endpoints`.
    pub fn new(endpoints: Vec<String>) -> Self {
        Self {
            endpoints,
            prefix: codec::DEFAULT_PREFIX.into(),
            change_buffer: super::view::DEFAULT_CHANGE_BUFFER,
            tls: EtcdTls::default(),
            lag_limits: LagLimits::default(),
            metrics: EtcdMetrics::default(),
        }
    }
}

/// Why the etcd backend could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// An endpoint is not a URL.
    #[error("invalid etcd endpoint: {0}")]
    Endpoint(tonic::transport::Error),
    /// The TLS settings cannot be used.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// The etcd backend. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EtcdStore {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    members: Members,
    prefix: String,
    store_uid: String,
    view: Arc<View>,
    /// Values skipped because they are not valid host endpoints.
    invalid: InvalidValues,
    /// This replica's writes on their way through its watch.
    own_writes: OwnWrites,
    lag_limits: LagLimits,
    metrics: EtcdMetrics,
}

impl EtcdStore {
    /// Lists the prefix, builds the view and starts the watch that keeps it. Must be called
    /// within a Tokio runtime.
    pub async fn open(config: &EtcdConfig) -> Result<Self, OpenError> {
        // Mistakes in the settings fail at once; an etcd that is not up yet is waited for.
        let tls = config.tls.for_endpoints(&config.endpoints)?;
        let members = Members::new(&config.endpoints, tls).map_err(OpenError::Endpoint)?;
        let invalid = InvalidValues::default();
        let listing = startup::until_ok("the first listing", &members.endpoints(), || {
            feed::list_all(&members, &config.prefix, &invalid)
                .map_err(|status| members::describe(&status))
        })
        .await;
        info!(
            endpoints = %members.endpoints(),
            cluster_id = %listing.store_uid,
            revision = listing.snapshot.revision(),
            objects = listing.snapshot.len(),
            "opened etcd store"
        );
        let view = Arc::new(View::new(listing.snapshot, config.change_buffer));
        let shared = Arc::new(Shared {
            members,
            prefix: config.prefix.clone(),
            store_uid: listing.store_uid,
            view,
            invalid,
            own_writes: OwnWrites::default(),
            lag_limits: config.lag_limits,
            metrics: config.metrics.clone(),
        });
        tokio::spawn(feed::run(Arc::downgrade(&shared)));
        Ok(Self { shared })
    }

    /// The value of `key`, which the first replica to ask creates as `initial`: a secret every
    /// replica of the store shares, such as the key that signs page tokens. `key` lies outside
    /// the objects' prefix, so no watch sees it.
    pub async fn shared_value(&self, key: &[u8], initial: Vec<u8>) -> Result<Vec<u8>> {
        let put = Op::RequestPut(PutRequest {
            key: key.to_vec(),
            value: initial.clone(),
            ..PutRequest::default()
        });
        // When another replica created it first, the transaction returns its value instead.
        match self
            .shared
            .commit(key, None, put)
            .await
            .map_err(etcd_error)?
        {
            Committed::At(_) => Ok(initial),
            Committed::Conflict(Some(kv)) => Ok(kv.value),
            Committed::Conflict(None) => Err(Error::Unavailable {
                reason: format!(
                    "etcd neither created {} nor returned it",
                    String::from_utf8_lossy(key)
                ),
            }),
        }
    }

    /// How many stored values were skipped as invalid since start-up.
    pub fn skipped_values(&self) -> u64 {
        self.shared.invalid.count()
    }
}

impl StoreProbe for EtcdStore {
    fn sample(&self) -> StoreSample {
        let snapshot = self.shared.view.snapshot();
        let availability = self.shared.view.availability();
        StoreSample {
            revision: snapshot.revision(),
            objects: snapshot.len(),
            writable: availability.serving(),
            backend: BackendSample::Etcd {
                up: availability.unavailable.is_none(),
                invalid_values: self.skipped_values(),
            },
        }
    }
}

impl Store for EtcdStore {
    fn store_uid(&self) -> &str {
        &self.shared.store_uid
    }

    fn view(&self) -> &View {
        &self.shared.view
    }

    // The API's span names the object at info already: this one costs a span per write.
    #[instrument(level = "debug", skip_all, fields(name = %write.name()))]
    async fn write(&self, write: Write) -> Result<HostEndpoint> {
        write::write(&self.shared, write).await
    }

    async fn history(&self, after: Revision, limit: usize) -> Result<Vec<Arc<Change>>> {
        feed::history(&self.shared, after, limit).await
    }

    async fn close(&self) -> Result<()> {
        // Every acknowledged write is already durable in etcd.
        Ok(())
    }
}

impl Shared {
    /// One read from etcd, retried on another member when one is unreachable.
    async fn range(&self, range: RangeRequest) -> Result<RangeResponse> {
        self.members
            .kv(|mut kv| {
                let range = range.clone();
                async move { kv.range(request(range)).await }
            })
            .await
            .map_err(etcd_error)
    }

    /// Waits until this replica's view shows `revision`, so reads here see the write.
    async fn visible(&self, revision: Revision) -> Result<()> {
        let mut current = self.view.watch_revision();
        let seen =
            tokio::time::timeout(VISIBLE_TIMEOUT, current.wait_for(|r| *r >= revision)).await;
        match seen {
            Ok(Ok(_)) => Ok(()),
            _ => Err(Error::Unavailable {
                reason: format!(
                    "etcd accepted the write at revision {revision}, but this replica's watch of etcd has not delivered it"
                ),
            }),
        }
    }
}

/// The store revision an etcd response's header states; 0 without a header.
fn revision_of(header: Option<&ResponseHeader>) -> Revision {
    header.map_or(0, |h| Revision::try_from(h.revision).unwrap_or(0))
}

/// The store error for an etcd failure.
fn etcd_error(status: Status) -> Error {
    if members::unreachable(&status) {
        Error::Unavailable {
            reason: format!("etcd is unreachable: {}", members::describe(&status)),
        }
    } else {
        Error::Backend {
            cause: Box::new(status),
        }
    }
}
