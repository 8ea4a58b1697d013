//! The embedded default backend: a write-ahead log with group commit behind every
//! acknowledgement, which is also the change history, and sled holding the current objects.
//!
//! A write takes the writer lock, decides against the writer's own map of the latest objects
//! (which includes writes not yet synced), and queues its encoded change for [`commit`], still
//! under the lock so that the queue is in revision order; it waits for the sync outside it.
//! Whoever commits (the commit thread, or a lone writer itself) syncs the [`wal`], publishes to
//! the view, and only then hands the changes to the [`sled_writer`] through a bounded
//! [`backlog`], so sled never holds a write the log lacks. sled is made durable by
//! [`checkpoint`]s; [`SledStore::open`] replays what the log holds beyond the last one into
//! sled, after checking the whole log for damage.
//!
//! No fault of the disk is permanent: a group that cannot be synced is answered with the
//! error and undone (see [`commit`]), and a failed sled is opened again ([`reopen`]).

mod background;
mod backlog;
mod checkpoint;
mod codec;
mod commit;
mod load;
mod lock;
mod open;
mod reopen;
mod sled_writer;
mod wal;

use std::{
    path::PathBuf,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use hostendpoint_api::model::{HostEndpoint, Revision};
use tokio::sync::oneshot;
use tracing::instrument;

use self::{
    backlog::SledBacklog,
    checkpoint::SledFiles,
    codec::{FORMAT_VERSION, KEY_REVISION},
    commit::{Committer, Logged, Pending},
    wal::History,
};
use super::{
    Change, Error, Object, Result, Store, View,
    view::ByName,
    write::{Plan, Write},
};
use crate::metrics::{StoreProbe, StoreSample, WalMetrics, store::BackendSample};

/// The default size of sled's page cache. Reads are served from the in-memory view, so sled's
/// cache only serves writes and history reads.
pub const DEFAULT_CACHE_BYTES: u64 = 128 * 1024 * 1024;

/// How many revisions the change log keeps by default. An agent that was away for a node
/// reboot or an upgrade (ten minutes, say) while a large cluster churns at 100 writes/s must
/// resume without a relist: that is 60 000 revisions. At about 1 KiB per entry the log then
/// takes about 100 MiB on disk.
pub const DEFAULT_RETAINED_REVISIONS: u64 = 100_000;
/// How often the log is compacted by default.
pub const DEFAULT_COMPACTION_INTERVAL: Duration = Duration::from_secs(5);

/// How long closing waits for sled to take the last writes before its final checkpoint.
const SLED_WAIT_AT_CLOSE: Duration = Duration::from_secs(5);

/// Where and how to open a sled store.
#[derive(Clone, Debug)]
pub struct SledConfig {
    /// The data directory; created when missing.
    pub path: PathBuf,
    /// sled's page cache size in bytes.
    pub cache_bytes: u64,
    /// The change log keeps at least this many revisions.
    pub retained_revisions: u64,
    /// How often the log is compacted.
    pub compaction_interval: Duration,
    /// How many changes the in-memory change stream buffers.
    pub change_buffer: usize,
    /// Start even when the write-ahead log is damaged: it is cut at the damage and the store
    /// gets a new `store_uid`. Otherwise damage stops the start.
    pub discard_damaged_wal: bool,
    /// Where the log's syncs and the checkpoints are recorded.
    pub metrics: WalMetrics,
}

impl SledConfig {
    /// The defaults for a data directory.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            cache_bytes: DEFAULT_CACHE_BYTES,
            retained_revisions: DEFAULT_RETAINED_REVISIONS,
            compaction_interval: DEFAULT_COMPACTION_INTERVAL,
            change_buffer: crate::store::view::DEFAULT_CHANGE_BUFFER,
            discard_damaged_wal: false,
            metrics: WalMetrics::default(),
        }
    }
}

/// Why a sled store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// sled could not open the directory.
    #[error("cannot open the data directory {path}: {cause}")]
    Sled {
        /// The data directory.
        path: PathBuf,
        /// What sled said.
        cause: sled::Error,
    },
    /// Another process holds the data directory's lock.
    #[error("another hostendpointd is using {path}")]
    Locked {
        /// The data directory.
        path: PathBuf,
    },
    /// The directory holds a store of another format version.
    #[error(
        "the data directory {path} has on-disk format version {found}; this build reads \
         version {FORMAT_VERSION}"
    )]
    Version {
        /// The data directory.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
    /// Stored bytes could not be decoded.
    #[error("the data directory {path} is unreadable: {what}: {reason}")]
    Corrupt {
        /// The data directory.
        path: PathBuf,
        /// Which record.
        what: String,
        /// Why.
        reason: String,
    },
    /// The write-ahead log could not be read back.
    #[error("cannot replay the write-ahead log in {path}: {cause}")]
    Replay {
        /// The data directory.
        path: PathBuf,
        /// Why.
        cause: wal::ReplayError,
    },
    /// The write-ahead log is damaged: acknowledged writes may be lost. Nothing was changed.
    #[error(
        "the write-ahead log in {path} is damaged: {what}. Nothing was changed. Restore the \
         data directory from a backup, or start once with --discard-damaged-wal \
         (HOSTENDPOINTD_DISCARD_DAMAGED_WAL=true) to cut the log at the damage: writes after it \
         may be lost, and the store gets a new store_uid so that every agent relists"
    )]
    Damaged {
        /// The data directory.
        path: PathBuf,
        /// Which segment and offset, and what is wrong.
        what: String,
    },
    /// The files could not be synced.
    #[error("cannot sync the data directory {path}: {cause}")]
    Io {
        /// The data directory.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
}

/// The sled backend. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SledStore {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Held while the store is open: one server per data directory.
    _lock: lock::DirLock,
    store_uid: String,
    view: Arc<View>,
    writer: Mutex<Writer>,
    /// sled's files, synced by checkpoints; `None` while sled is being reopened.
    files: Mutex<Option<SledFiles>>,
    /// The change history: the write-ahead log's segments.
    history: History,
    wal_dir: PathBuf,
    /// The changes on their way into sled, and how far sled got.
    backlog: Arc<SledBacklog>,
    /// The revision up to which sled is durable.
    checkpointed: AtomicU64,
    /// Held by a checkpoint: the periodic one and a clean stop's would otherwise record the
    /// revision through the same temporary file at once.
    checkpointing: Mutex<()>,
    /// Set when a checkpoint found sled failed: the sled thread reopens it.
    sled_failed: AtomicBool,
    /// Resumes after older revisions are refused (the history keeps what compaction has not
    /// removed yet, but no more than `--retained-revisions` are promised).
    compacted: AtomicU64,
    metrics: WalMetrics,
}

/// What the writer lock protects.
#[derive(Debug)]
struct Writer {
    revision: Revision,
    /// Every object as of `revision`, including writes not yet synced.
    /// A copy of the view's index at start-up, so that a start does not build another.
    objects: ByName,
    /// `None` once the store is closed.
    commits: Option<Arc<Committer>>,
}

impl Drop for Writer {
    /// A store dropped without [`Store::close`] still ends its commit thread.
    fn drop(&mut self) {
        if let Some(commits) = self.commits.take() {
            commits.close();
        }
    }
}

/// A write that was decided and queued, and now waits for durability.
struct Queued {
    result: HostEndpoint,
    synced: Option<(Arc<Committer>, oneshot::Receiver<Result<()>>)>,
}

impl Store for SledStore {
    fn store_uid(&self) -> &str {
        &self.shared.store_uid
    }

    fn view(&self) -> &View {
        &self.shared.view
    }

    // The API's span names the object at info already: this one costs a span per write.
    #[instrument(level = "debug", skip_all, fields(name = %write.name()))]
    async fn write(&self, write: Write) -> Result<HostEndpoint> {
        let queued = self.shared.queue_write(write)?;
        if let Some((commits, synced)) = queued.synced {
            commits.commit_queued();
            synced.await.map_err(|_| Error::Unavailable {
                reason: "the store closed before the write was synced".into(),
            })??;
        }
        Ok(queued.result)
    }

    async fn history(&self, after: Revision, limit: usize) -> Result<Vec<Arc<Change>>> {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || shared.read_history(after, limit))
            .await
            .map_err(backend)?
    }

    async fn close(&self) -> Result<()> {
        let barrier = {
            let mut writer = self.shared.lock_writer();
            let Some(commits) = writer.commits.take() else {
                return Ok(());
            };
            let (ack, synced) = oneshot::channel();
            commits.enqueue(Pending { logged: None, ack })?;
            commits.close();
            synced
        };
        barrier.await.map_err(|_| Error::Unavailable {
            reason: "the group-commit thread ended".into(),
        })??;
        // So that the next start has nothing to replay.
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || {
            shared.wait_for_sled();
            shared.checkpoint()
        })
        .await
        .map_err(backend)?
        .map_err(backend)
    }
}

impl StoreProbe for SledStore {
    fn sample(&self) -> StoreSample {
        let snapshot = self.shared.view.snapshot();
        StoreSample {
            revision: snapshot.revision(),
            objects: snapshot.len(),
            writable: self.shared.view.availability().cannot_write.is_none(),
            backend: BackendSample::Sled {
                // Unreadable only while the directory is being removed: then nothing is kept.
                wal_bytes: wal::disk_bytes(&self.shared.wal_dir).unwrap_or(0),
            },
        }
    }
}

// === impl Shared ===

impl Shared {
    /// Waits, briefly, until sled has taken every write: then a checkpoint covers them all.
    /// A sled that does not (it failed) leaves them to the log and the next start.
    fn wait_for_sled(&self) {
        let revision = self.lock_writer().revision;
        self.backlog.catch_up(revision, SLED_WAIT_AT_CLOSE);
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        // Nothing that can panic runs between the writer state's updates, so it is consistent
        // even after a panic elsewhere.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides `write` against the latest objects, records it there, and queues it for
    /// [`commit`]; the caller commits it or waits for its sync.
    fn queue_write(&self, write: Write) -> Result<Queued> {
        let mut writer = self.lock_writer();
        let Some(commits) = writer.commits.clone() else {
            return Err(Error::Unavailable {
                reason: "the server is shutting down".into(),
            });
        };
        let current = writer.objects.get(write.name()).cloned();
        let plan = write.plan(current.as_deref().map(|object| HostEndpoint::clone(object)))?;
        let revision = writer.revision + 1;
        let (result, change) = match plan {
            Plan::Unchanged(stored) => return self.unchanged(stored, commits),
            Plan::Put(mut next) => {
                next.metadata.resource_version = revision;
                let change = Change::new(revision, current, Some(Object::new(next.clone())));
                (next, change)
            }
            Plan::Delete(mut last) => {
                last.metadata.resource_version = revision;
                (last, Change::new(revision, current, None))
            }
        };
        let entry = codec::encode_change(&change);
        let change = Arc::new(change);
        let (ack, synced) = oneshot::channel();
        let pending = Pending {
            logged: Some(Logged {
                change: Arc::clone(&change),
                entry,
            }),
            ack,
        };
        // Queued under the lock, so the queue is in revision order; first, as a refusal must
        // leave the writer's state as it was.
        commits.enqueue(pending)?;
        match &change.next {
            Some(next) => writer
                .objects
                .insert(Arc::clone(next.name()), Arc::clone(next)),
            None => change
                .prev
                .as_ref()
                .and_then(|prev| writer.objects.remove(prev.name())),
        };
        writer.revision = revision;
        Ok(Queued {
            result,
            synced: Some((commits, synced)),
        })
    }

    /// A write that changes nothing still must not answer before the stored object is durable.
    fn unchanged(&self, stored: HostEndpoint, commits: Arc<Committer>) -> Result<Queued> {
        if stored.metadata.resource_version <= self.view.revision() {
            return Ok(Queued {
                result: stored,
                synced: None,
            });
        }
        let (ack, synced) = oneshot::channel();
        commits.enqueue(Pending { logged: None, ack })?;
        Ok(Queued {
            result: stored,
            synced: Some((commits, synced)),
        })
    }

    /// Undoes, in the writers' state, the writes `fail` answers with an error (every write not
    /// yet synced, in revision order): they never happened. Runs `fail` under the writer lock.
    fn undo(&self, fail: impl FnOnce() -> Vec<Arc<Change>>) {
        let mut writer = self.lock_writer();
        let failed = fail();
        for change in failed.iter().rev() {
            match (&change.prev, &change.next) {
                (Some(prev), _) => {
                    writer
                        .objects
                        .insert(Arc::clone(prev.name()), Arc::clone(prev));
                }
                (None, Some(next)) => {
                    writer.objects.remove(next.name());
                }
                (None, None) => {}
            }
        }
        writer.revision = self.view.revision();
    }

    /// Reads the history after `after`, up to the latest revision published to the view:
    /// later records may be in the log but are not durable yet.
    fn read_history(&self, after: Revision, limit: usize) -> Result<Vec<Arc<Change>>> {
        let current = self.view.revision();
        let compacted = |this: &Self| -> Result<Vec<Arc<Change>>> {
            Err(Error::Compacted {
                requested: after,
                oldest: this.oldest_resumable()?,
                current,
            })
        };
        if after < self.oldest_resumable()? {
            return compacted(self);
        }
        if after >= current {
            return Ok(Vec::new());
        }
        let revision = |entry: &[u8]| codec::change_revision(entry).map_err(std::io::Error::other);
        let Some(entries) = self
            .history
            .read(after, current, limit, revision)
            .map_err(backend)?
        else {
            return compacted(self);
        };
        let mut changes = Vec::with_capacity(entries.len());
        for entry in &entries {
            let change = codec::decode_change(entry).map_err(backend)?;
            // Every revision has a record; a hole means compaction overtook this read.
            if change.revision != after + 1 + changes.len() as u64 {
                return compacted(self);
            }
            changes.push(Arc::new(change));
        }
        if changes.is_empty() {
            return compacted(self);
        }
        Ok(changes)
    }

    /// The oldest revision after which the history holds every change.
    fn oldest_resumable(&self) -> Result<Revision> {
        let kept = self.history.oldest_resumable().map_err(backend)?;
        let kept = kept.unwrap_or_else(|| self.view.revision());
        Ok(kept.max(self.compacted.load(Ordering::Acquire)))
    }
}

/// Writes a synced change into sled, in memory: the store's revision, then the object. Called
/// by a reopen before it starts again; the sled writer writes many changes at once with
/// [`write_state`] and [`write_revision`].
///
/// Not as a sled batch: sled 0.34 writes out its I/O buffer, with a wait for the device, for
/// every batch (`PageCache::pin_log`). Start-up replays the log again from the last
/// checkpoint, so what sled recovers beyond it, whole or in part, is overwritten with the
/// logged states.
pub(super) fn write_change(db: &sled::Db, change: &Change) -> sled::Result<()> {
    write_revision(db, change.revision)?;
    match (&change.prev, &change.next) {
        (_, Some(next)) => write_state(db, next.name(), Some(next)),
        (Some(prev), None) => write_state(db, prev.name(), None),
        (None, None) => Ok(()),
    }
}

/// Writes the object `name` into sled as `state` (`None`: deleted), in memory.
pub(super) fn write_state(db: &sled::Db, name: &str, state: Option<&Object>) -> sled::Result<()> {
    let key = codec::object_key(name);
    match state {
        Some(object) => db.insert(key, codec::encode_object(object)).map(drop),
        None => db.remove(key).map(drop),
    }
}

/// Records in sled, in memory, that it holds every change up to `revision`.
pub(super) fn write_revision(db: &sled::Db, revision: Revision) -> sled::Result<()> {
    db.insert(KEY_REVISION, &codec::encode_u64(revision))
        .map(drop)
}

/// Adds a change to `batch`: its object and the store's revision.
fn add_to_batch(batch: &mut sled::Batch, change: &Change) {
    match (&change.prev, &change.next) {
        (_, Some(next)) => batch.insert(codec::object_key(next.name()), codec::encode_object(next)),
        (Some(prev), None) => batch.remove(codec::object_key(prev.name())),
        (None, None) => {}
    }
    batch.insert(KEY_REVISION, &codec::encode_u64(change.revision));
}

fn backend(err: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Backend {
        cause: Box::new(err),
    }
}
