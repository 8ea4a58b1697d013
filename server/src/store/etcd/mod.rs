//! The etcd v3 backend, in Calico's own key layout, for users who outgrow one machine: several
//! hostendpointd replicas over one etcd cluster, each fanning watches out to node agents.
//!
//! - Writes are etcd transactions: create-if-absent (`create_revision == 0`) and
//!   compare-mod-revision for updates and deletes. resource_version is etcd's mod_revision;
//!   store_uid is the etcd cluster id.
//! - Each replica keeps one etcd watch on the prefix and an in-memory [`View`] of every object,
//!   fed by it ([`feed`]). Get, List and Watch are served from the view. A write returns once
//!   this replica's view has it, so a client reads its own writes on the replica it wrote to.
//! - Watch catch-up beyond the in-memory buffer reads etcd's history with a short etcd watch;
//!   etcd's compaction becomes the watch contract's OUT_OF_RANGE.
//! - Values that cannot be parsed or break Calico's rules (written by someone else) are logged,
//!   counted and skipped; they never stop the server.
//!
//! # Layout
//! - [`codec`]: keys and Calico's v3 JSON.
//! - [`members`]: connections to the cluster members, with failover.
//! - [`feed`]: the initial listing, the etcd watch that feeds the view, and history reads.
//! - [`startup`]: waiting for an etcd that is not up yet.
//! - [`invalid`]: the invalid values seen, each warned about once.
//! - [`proto`]: the client of etcd's v3 API, generated from `server/etcd-proto/`.

pub mod codec;
mod feed;
mod invalid;
mod lost_delete;
mod members;
pub mod proto;
mod startup;
mod tls;

use std::{sync::Arc, time::Duration};

use futures::TryFutureExt as _;
use hostendpoint_api::model::{HostEndpoint, Revision};
use tonic::Status;
use tracing::{info, instrument, warn};

use self::proto::etcdserverpb::{
    Compare, DeleteRangeRequest, PutRequest, RangeRequest, RangeResponse, RequestOp, TxnRequest,
    compare::{CompareResult, CompareTarget, TargetUnion},
    request_op::Request as Op,
};
pub use self::tls::EtcdTls;
use self::{
    invalid::InvalidValues,
    members::{Members, request},
};
use super::{
    Change, Error, Result, Store, View,
    write::{Plan, Write},
};
use crate::metrics::{EtcdMetrics, StoreProbe, StoreSample, store::BackendSample};

/// How often a write re-reads and retries after another writer changed the object first (for
/// writes without a resource_version precondition) or after an ambiguous transport error.
const WRITE_ATTEMPTS: usize = 8;
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
            value: initial,
            ..PutRequest::default()
        });
        // Fails harmlessly when another replica created it first.
        self.shared
            .commit(key, None, put)
            .await
            .map_err(etcd_error)?;
        let response = self
            .shared
            .range(RangeRequest {
                key: key.to_vec(),
                ..RangeRequest::default()
            })
            .await?;
        response
            .kvs
            .into_iter()
            .next()
            .map(|kv| kv.value)
            .ok_or_else(|| Error::Unavailable {
                reason: format!(
                    "etcd lost {} after creating it",
                    String::from_utf8_lossy(key)
                ),
            })
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

    #[instrument(skip_all, fields(name = %write.name()))]
    async fn write(&self, write: Write) -> Result<HostEndpoint> {
        let shared = &self.shared;
        let key = codec::key(&shared.prefix, write.name());
        // The object an attempt whose answer was lost tried to store: finding it stored means
        // that attempt did commit, so its preconditions held (the re-read would no longer pass
        // them) and a create's uid is ours.
        let mut unconfirmed: Option<HostEndpoint> = None;
        // The mod revision a delete whose answer was lost compared against.
        let mut unconfirmed_delete: Option<Revision> = None;
        for _ in 0..WRITE_ATTEMPTS {
            let (current, expected) = shared.read(&key, write.name()).await?;
            if let (None, Some(compared)) = (&current, unconfirmed_delete)
                && let Some(last) = shared.deleted_after(&key, write.name(), compared).await?
            {
                return Ok(last);
            }
            if let (Some(stored), Some(sent)) = (&current, &unconfirmed)
                && stored.metadata.uid == sent.metadata.uid
                && stored.same_content(sent)
            {
                shared.visible(stored.metadata.resource_version).await?;
                return Ok(stored.clone());
            }
            let plan = write.clone().plan(current)?;
            let (op, result, put) = match plan {
                Plan::Unchanged(stored) => {
                    shared.visible(stored.metadata.resource_version).await?;
                    return Ok(stored);
                }
                Plan::Put(next) => {
                    let put = Op::RequestPut(PutRequest {
                        key: key.clone(),
                        value: codec::encode(&next),
                        ..PutRequest::default()
                    });
                    (put, next, true)
                }
                Plan::Delete(prev) => {
                    let delete = Op::RequestDeleteRange(DeleteRangeRequest {
                        key: key.clone(),
                        ..DeleteRangeRequest::default()
                    });
                    (delete, prev, false)
                }
            };
            match shared.commit(&key, expected, op).await {
                Ok(Some(revision)) => {
                    shared.visible(revision).await?;
                    let mut result = result;
                    result.metadata.resource_version = revision;
                    return Ok(result);
                }
                // Someone else changed the object first: decide again on the new state.
                Ok(None) => continue,
                Err(status) if members::unreachable(&status) => {
                    warn!(error = %members::describe(&status), "etcd write interrupted; re-reading");
                    unconfirmed_delete = if put { None } else { expected };
                    unconfirmed = put.then_some(result);
                    continue;
                }
                Err(status) => return Err(etcd_error(status)),
            }
        }
        Err(Error::Unavailable {
            reason: format!(
                "the write did not settle after {WRITE_ATTEMPTS} attempts against etcd"
            ),
        })
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
    /// The stored object, read from etcd (not the view) so that writes decide on the latest.
    /// The stored object, and the key's mod_revision. A value that is not a valid host
    /// endpoint counts as absent, as it does for Get, List and Watch, so that a create or an
    /// apply can repair it; the revision still guards the write against concurrent changes.
    async fn read(
        &self,
        key: &[u8],
        name: &str,
    ) -> Result<(Option<HostEndpoint>, Option<Revision>)> {
        let response = self
            .range(RangeRequest {
                key: key.to_vec(),
                ..RangeRequest::default()
            })
            .await?;
        let Some(kv) = response.kvs.into_iter().next() else {
            return Ok((None, None));
        };
        let revision = Revision::try_from(kv.mod_revision).unwrap_or(0);
        match codec::decode(name, &kv.value, revision) {
            Ok(hep) => Ok((Some(hep), Some(revision))),
            Err(err) => {
                warn!(name, revision, error = %err, "the stored value is not a valid host endpoint; writing over it");
                Ok((None, Some(revision)))
            }
        }
    }

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

    /// Commits `op` if the key is still at `expected` (its mod_revision, or absent for `None`).
    /// `Ok(None)` when the comparison failed.
    async fn commit(
        &self,
        key: &[u8],
        expected: Option<Revision>,
        op: Op,
    ) -> Result<Option<Revision>, Status> {
        let compare = match expected {
            None => Compare {
                result: CompareResult::Equal as i32,
                target: CompareTarget::Create as i32,
                key: key.to_vec(),
                target_union: Some(TargetUnion::CreateRevision(0)),
                ..Compare::default()
            },
            Some(revision) => Compare {
                result: CompareResult::Equal as i32,
                target: CompareTarget::Mod as i32,
                key: key.to_vec(),
                target_union: Some(TargetUnion::ModRevision(
                    i64::try_from(revision).unwrap_or(i64::MAX),
                )),
                ..Compare::default()
            },
        };
        let txn = TxnRequest {
            compare: vec![compare],
            success: vec![RequestOp { request: Some(op) }],
            failure: Vec::new(),
        };
        let response = self
            .members
            .kv_once(|mut kv| async move { kv.txn(request(txn)).await })
            .await?;
        if !response.succeeded {
            return Ok(None);
        }
        let revision = response.header.map_or(0, |h| h.revision);
        Ok(Some(Revision::try_from(revision).unwrap_or(0)))
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
