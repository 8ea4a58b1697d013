//! Writes: one etcd transaction, decided on this replica's copy of the object, as Calico's
//! client writes with one transaction decided on the copy it read.
//!
//! The transaction compares the key's mod revision with the copy's (or, for a copy that says
//! absent, that the key does not exist), puts or deletes, and otherwise gets the key: a stale
//! copy costs a second transaction, decided on what etcd returned, never a read of its own.
//! A refusal (the object exists, is missing, or a precondition fails) or a no-op decided on
//! the copy is confirmed with a read from etcd first, as the copy may be behind. A write
//! returns once this replica's view shows it, so that reads here see it (read-your-writes).
//!
//! An attempt whose answer was lost with the connection is settled from etcd: see
//! [`Shared::deleted_after`](super::lost_delete) for deletes; a put is found stored by its uid
//! and content.

use hostendpoint_api::model::{HostEndpoint, Revision};
use tonic::Status;
use tracing::warn;

use super::{
    Shared, codec, etcd_error,
    members::{self, request},
    proto::{
        etcdserverpb::{
            Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest,
            compare::{CompareResult, CompareTarget, TargetUnion},
            request_op::Request as Op,
            response_op::Response,
        },
        mvccpb::KeyValue,
    },
    revision_of,
};
use crate::store::{
    Error, Object, Result,
    write::{Plan, Write},
};

/// How often a write decides again after another writer changed the object first, its copy
/// was stale, or a transport error left an attempt's outcome unknown.
const WRITE_ATTEMPTS: usize = 8;

/// The object as stored, with the key's mod revision (which a value that is not a valid host
/// endpoint has too, with no object).
#[derive(Debug, Default)]
pub(super) struct Stored {
    pub(super) object: Option<HostEndpoint>,
    pub(super) revision: Option<Revision>,
}

/// What an attempt decides on.
enum Known {
    /// This replica's copy, which may be behind etcd.
    Replica,
    /// What etcd returned.
    Etcd(Box<Stored>),
    /// Nothing: etcd must be read.
    Unknown,
}

/// What a transaction did.
pub(super) enum Committed {
    /// It wrote, at this revision.
    At(Revision),
    /// The key was not as expected; this is what it holds.
    Conflict(Option<KeyValue>),
}

/// Writes `write` to etcd, and waits until this replica's view shows it.
pub(super) async fn write(shared: &Shared, write: Write) -> Result<HostEndpoint> {
    let name = write.name().to_owned();
    let key = codec::key(&shared.prefix, &name);
    // The object an attempt whose answer was lost tried to store: finding it stored means
    // that attempt did commit, so its preconditions held (the re-read would no longer pass
    // them) and a create's uid is ours.
    let mut unconfirmed: Option<HostEndpoint> = None;
    // The mod revision a delete whose answer was lost compared against.
    let mut unconfirmed_delete: Option<Revision> = None;
    let mut known = Known::Replica;
    for _ in 0..WRITE_ATTEMPTS {
        let (stored, confirmed) = match std::mem::replace(&mut known, Known::Unknown) {
            Known::Replica => (shared.replica_copy(&name), false),
            Known::Etcd(stored) => (*stored, true),
            Known::Unknown => (shared.read(&key, &name).await?, true),
        };
        if let (None, Some(compared)) = (&stored.object, unconfirmed_delete)
            && let Some(last) = shared.deleted_after(&key, &name, compared).await?
        {
            return Ok(last);
        }
        if let (Some(object), Some(sent)) = (&stored.object, &unconfirmed)
            && object.metadata.uid == sent.metadata.uid
            && object.same_content(sent)
        {
            shared.visible(object.metadata.resource_version).await?;
            return Ok(object.clone());
        }
        let plan = match write.clone().plan(stored.object) {
            // Only etcd can say no, or that nothing changes: the copy may be behind.
            Ok(Plan::Unchanged(_)) | Err(_) if !confirmed => continue,
            Ok(plan) => plan,
            Err(err) => return Err(err),
        };
        let (op, result, put) = match plan {
            Plan::Unchanged(object) => {
                shared.visible(object.metadata.resource_version).await?;
                return Ok(object);
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
        match shared.commit(&key, stored.revision, op).await {
            Ok(Committed::At(revision)) => {
                let mut result = result;
                result.metadata.resource_version = revision;
                let _delivered = put.then(|| {
                    shared
                        .own_writes
                        .expect(revision, Object::new(result.clone()))
                });
                shared.visible(revision).await?;
                return Ok(result);
            }
            // Someone else changed the object first, or the copy was behind: decide again on
            // what etcd holds.
            Ok(Committed::Conflict(kv)) => known = Known::Etcd(Box::new(shared.stored(&name, kv))),
            Err(status) if members::unreachable(&status) => {
                warn!(error = %members::describe(&status), "etcd write interrupted; re-reading");
                unconfirmed_delete = if put { None } else { stored.revision };
                unconfirmed = put.then_some(result);
            }
            Err(status) => return Err(etcd_error(status)),
        }
    }
    Err(Error::Unavailable {
        reason: format!("the write did not settle after {WRITE_ATTEMPTS} attempts against etcd"),
    })
}

impl Shared {
    /// This replica's copy of `name`, which may be behind etcd.
    fn replica_copy(&self, name: &str) -> Stored {
        let object = self
            .view
            .snapshot()
            .get(name)
            .map(|o| HostEndpoint::clone(o));
        let revision = object.as_ref().map(|o| o.metadata.resource_version);
        Stored { object, revision }
    }

    /// The stored object, read from etcd (linearizably, so that the write decides on the
    /// latest).
    pub(super) async fn read(&self, key: &[u8], name: &str) -> Result<Stored> {
        let response = self
            .range(RangeRequest {
                key: key.to_vec(),
                ..RangeRequest::default()
            })
            .await?;
        Ok(self.stored(name, response.kvs.into_iter().next()))
    }

    /// What a key-value holds. A value that is not a valid host endpoint counts as absent,
    /// as it does for Get, List and Watch, so that a create or an apply can repair it; its
    /// revision still guards the write against concurrent changes.
    fn stored(&self, name: &str, kv: Option<KeyValue>) -> Stored {
        let Some(kv) = kv else {
            return Stored::default();
        };
        let revision = Revision::try_from(kv.mod_revision).unwrap_or(0);
        match codec::decode(name, &kv.value, revision) {
            Ok(hep) => Stored {
                object: Some(hep),
                revision: Some(revision),
            },
            Err(err) => {
                warn!(name, revision, error = %err, "the stored value is not a valid host endpoint; writing over it");
                Stored {
                    object: None,
                    revision: Some(revision),
                }
            }
        }
    }

    /// Commits `op` if the key is still at `expected` (its mod_revision, or absent for
    /// `None`); otherwise gets the key, in the same transaction.
    pub(super) async fn commit(
        &self,
        key: &[u8],
        expected: Option<Revision>,
        op: Op,
    ) -> Result<Committed, Status> {
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
        let get = Op::RequestRange(RangeRequest {
            key: key.to_vec(),
            ..RangeRequest::default()
        });
        let txn = TxnRequest {
            compare: vec![compare],
            success: vec![RequestOp { request: Some(op) }],
            failure: vec![RequestOp { request: Some(get) }],
        };
        let response = self
            .members
            .kv_once(|mut kv| async move { kv.txn(request(txn)).await })
            .await?;
        if response.succeeded {
            return Ok(Committed::At(revision_of(response.header.as_ref())));
        }
        let kv = response
            .responses
            .into_iter()
            .find_map(|op| match op.response {
                Some(Response::ResponseRange(range)) => range.kvs.into_iter().next(),
                _ => None,
            });
        Ok(Committed::Conflict(kv))
    }
}
