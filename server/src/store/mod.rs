//! Storage: the one seam ([`Store`]) between the API and watch code and a durable backend.
//!
//! Every backend keeps a single revision counter, writes each change durably together with an
//! entry in its change history, and feeds committed changes, in revision order, into a
//! [`View`]: the in-memory, consistent state that reads, listings and watches are served from.
//!
//! # Layout
//! - [`write`]: the backend-independent decisions of a write (preconditions, no-op detection,
//!   server-set metadata).
//! - [`view`]: the in-memory state and its snapshots.
//! - `changes`: the view's live change streams, the fan-out of each write to the watchers it
//!   concerns.
//! - [`sled`]: the embedded default backend.
//! - [`etcd`]: the etcd v3 backend, in Calico's key layout.
//! - `memory` (tests only): a store in memory, for tests of what sits on the seam.

mod changes;
pub mod etcd;
#[cfg(test)]
pub(crate) mod memory;
pub mod sled;
pub mod view;
pub mod write;

use std::{
    future::Future,
    ops::Deref,
    sync::{Arc, OnceLock},
};

use bytes::Bytes;
use hostendpoint_api::{
    model::{HostEndpoint, Revision},
    pb,
};
use prost::Message as _;

pub use self::{
    view::{Availability, Snapshot, View},
    write::{Preconditions, Write},
};

/// The result type of store operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Create named an object that exists.
    #[error("resource already exists: HostEndpoint({name})")]
    AlreadyExists {
        /// The object's name.
        name: String,
    },
    /// The named object does not exist.
    #[error("resource does not exist: HostEndpoint({name})")]
    NotFound {
        /// The object's name.
        name: String,
    },
    /// A resource_version precondition did not hold.
    #[error(
        "update conflict: HostEndpoint({name}): resource version '{expected}' is out of date \
         (latest: {actual})"
    )]
    RevisionConflict {
        /// The object's name.
        name: String,
        /// The revision the caller expected.
        expected: Revision,
        /// The stored revision.
        actual: Revision,
    },
    /// A uid precondition did not hold (the object was deleted and created again).
    #[error("precondition failed: HostEndpoint({name}) has uid '{actual}', not '{expected}'")]
    UidConflict {
        /// The object's name.
        name: String,
        /// The uid the caller expected.
        expected: String,
        /// The stored uid.
        actual: String,
    },
    /// The store cannot take this write: it could not be made durable, or the store is
    /// shutting down.
    #[error("store unavailable: {reason}")]
    Unavailable {
        /// What happened.
        reason: String,
    },
    /// The data directory's disk is full: the write was not stored. Writes succeed again
    /// once space is freed.
    #[error("no space left on the data directory's disk; the write was not stored")]
    NoSpace,
    /// The requested history is no longer retained.
    #[error(
        "revision {requested} is compacted: the oldest resumable revision is {oldest}, the \
         current one {current}"
    )]
    Compacted {
        /// The revision asked for.
        requested: Revision,
        /// The oldest revision whose following changes are all retained.
        oldest: Revision,
        /// The latest revision.
        current: Revision,
    },
    /// The backend failed; the cause is logged, not sent to clients.
    #[error("storage backend failed: {cause}")]
    Backend {
        /// What failed.
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// One version of an object, shared by snapshots, changes and watchers. Its protobuf
/// encoding is computed at most once, however many watchers send it.
#[derive(Debug)]
pub struct Object {
    hep: HostEndpoint,
    /// The name, once for every index that keys on it (the view's, the sled writer's).
    name: Arc<str>,
    encoded: OnceLock<Bytes>,
}

/// One committed change: the object before and after it. Shared by every reader of it.
#[derive(Debug, PartialEq)]
pub struct Change {
    /// The revision the change created.
    pub revision: Revision,
    /// The object before the change; `None` for a create.
    pub prev: Option<Arc<Object>>,
    /// The object after the change; `None` for a delete.
    pub next: Option<Arc<Object>>,
    /// The encoded last state stamped with `revision`, as DELETED events carry it.
    tombstone: OnceLock<Bytes>,
}

// === impl Object ===

impl Object {
    /// Wraps one version of an object.
    pub fn new(hep: HostEndpoint) -> Arc<Self> {
        Arc::new(Self {
            name: Arc::from(hep.metadata.name.as_str()),
            hep,
            encoded: OnceLock::new(),
        })
    }

    /// The object's name, shared by the indexes that key on it.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The object as a `hostendpoint.v1.HostEndpoint` message, encoded on first use.
    pub fn encoded(&self) -> Bytes {
        self.encoded
            .get_or_init(|| pb::HostEndpoint::from(&self.hep).encode_to_vec().into())
            .clone()
    }
}

impl Deref for Object {
    type Target = HostEndpoint;

    fn deref(&self) -> &HostEndpoint {
        &self.hep
    }
}

impl PartialEq for Object {
    fn eq(&self, other: &Self) -> bool {
        self.hep == other.hep
    }
}

// === impl Change ===

impl Change {
    /// A change from `prev` to `next` at `revision`.
    pub fn new(revision: Revision, prev: Option<Arc<Object>>, next: Option<Arc<Object>>) -> Self {
        Self {
            revision,
            prev,
            next,
            tombstone: OnceLock::new(),
        }
    }

    /// The last state before the change, stamped with the change's revision and encoded: what
    /// a DELETED event carries. `None` for a create.
    pub fn tombstone(&self) -> Option<Bytes> {
        let prev = self.prev.as_ref()?;
        let bytes = self.tombstone.get_or_init(|| {
            let mut last = pb::HostEndpoint::from(&prev.hep);
            if let Some(meta) = last.metadata.as_mut() {
                meta.resource_version = self.revision;
            }
            last.encode_to_vec().into()
        });
        Some(bytes.clone())
    }
}

/// The seam between the API and watch code and a storage backend.
///
/// Writes return once the change is durable and visible in [`Store::view`].
pub trait Store: Send + Sync + 'static {
    /// Identifies this store; it changes only when the store is wiped or replaced.
    fn store_uid(&self) -> &str;

    /// The in-memory state that reads, listings and watches are served from.
    fn view(&self) -> &View;

    /// Applies one write, deciding it with [`Write::plan`] against the stored object, and
    /// returns the object as stored (for a delete: its last state, stamped with the delete's
    /// revision).
    fn write(&self, write: Write) -> impl Future<Output = Result<HostEndpoint>> + Send;

    /// Stores a new object; the store sets uid, creation_timestamp and resource_version.
    fn create(&self, hep: HostEndpoint) -> impl Future<Output = Result<HostEndpoint>> + Send {
        self.write(Write::Create(hep))
    }

    /// Replaces the labels, annotations and spec of `hep`'s object. A non-zero
    /// `resource_version` or non-empty `uid` in `hep` is a precondition. With `allow_missing`, a
    /// missing object is created instead of failing with [`Error::NotFound`].
    fn update(
        &self,
        hep: HostEndpoint,
        allow_missing: bool,
    ) -> impl Future<Output = Result<HostEndpoint>> + Send {
        self.write(Write::Update { hep, allow_missing })
    }

    /// Deletes an object and returns its last state, stamped with the delete's revision.
    fn delete(
        &self,
        name: String,
        preconditions: Preconditions,
    ) -> impl Future<Output = Result<HostEndpoint>> + Send {
        self.write(Write::Delete {
            name,
            preconditions,
        })
    }

    /// Up to `limit` committed changes after revision `after`, in revision order, read from the
    /// backend's retained history. Fails with [`Error::Compacted`] when `after` is older than
    /// the history retains.
    fn history(
        &self,
        after: Revision,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Arc<Change>>>> + Send;

    /// Stops taking writes and makes everything acknowledged durable.
    fn close(&self) -> impl Future<Output = Result<()>> + Send;
}
