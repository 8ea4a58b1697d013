//! The embedded default backend: sled, with one revision counter, a change log on disk, and a
//! write-ahead log with group commit behind every acknowledgement.
//!
//! A write takes the writer lock, decides against the stored object, and applies one atomic
//! sled batch holding the object, its log entry and the new revision. It then queues its log
//! record for the [`commit`] task, still under the lock so that the queue is in revision
//! order, and waits for the sync outside it. sled itself is made durable by [`checkpoint`]s;
//! [`SledStore::open`] applies what the [`wal`] holds beyond them.

mod checkpoint;
mod codec;
mod commit;
mod wal;

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, MutexGuard, PoisonError, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use hostendpoint_api::model::{HostEndpoint, Revision};
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument as _, debug, info, info_span, instrument, warn};

use self::{
    checkpoint::{CHECKPOINT_INTERVAL, SledFiles},
    codec::{
        FORMAT_VERSION, FORMAT_VERSION_WITHOUT_WAL, KEY_COMPACTED, KEY_FORMAT, KEY_REVISION,
        KEY_STORE_UID, OBJECT_PREFIX,
    },
    commit::{Logged, Pending},
};
use super::{
    Change, Error, Object, Result, Snapshot, Store, View,
    write::{Plan, Write},
};

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
/// The most log entries one compaction batch removes, so a compaction never holds sled long.
const COMPACTION_CHUNK: u64 = 1024;
/// The most replayed log records applied to sled in one batch.
const REPLAY_CHUNK: usize = 1024;

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
        }
    }
}

/// Why a sled store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// sled could not open the directory.
    #[error("cannot open the data directory {path}: {source}")]
    Sled {
        /// The data directory.
        path: PathBuf,
        /// What sled said.
        #[source]
        source: sled::Error,
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
    #[error("cannot replay the write-ahead log in {path}: {source}")]
    Replay {
        /// The data directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: wal::ReplayError,
    },
    /// The files could not be synced.
    #[error("cannot sync the data directory {path}: {source}")]
    Io {
        /// The data directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The sled backend. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SledStore {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    db: sled::Db,
    store_uid: String,
    view: Arc<View>,
    writer: Mutex<Writer>,
    /// sled's files, synced by checkpoints.
    files: Mutex<SledFiles>,
    wal_dir: PathBuf,
    /// The revision up to which sled is durable.
    checkpointed: AtomicU64,
}

/// What the writer lock protects.
#[derive(Debug)]
struct Writer {
    revision: Revision,
    /// `None` once the store is closed.
    commits: Option<mpsc::UnboundedSender<Pending>>,
    /// Set when a sync failed: the store takes no more writes.
    failed: Option<String>,
}

/// A write that was applied and now waits for durability.
struct Applied {
    result: HostEndpoint,
    synced: Option<oneshot::Receiver<Result<()>>>,
}

// === impl SledStore ===

impl SledStore {
    /// Opens (or creates) the store in `config.path` and starts its group-commit task. Must be
    /// called within a Tokio runtime.
    pub fn open(config: &SledConfig) -> Result<Self, OpenError> {
        let path = &config.path;
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(config.cache_bytes)
            // Checkpoints flush; sled's own flusher would race them (see `checkpoint`).
            .flush_every_ms(None)
            .open()
            .map_err(|source| OpenError::Sled {
                path: path.clone(),
                source,
            })?;
        let (store_uid, sled_revision) = read_or_init_meta(&db, path)?;
        let wal_dir = path.join("wal");
        let revision = replay_wal(&db, path, &wal_dir, sled_revision)?;
        let snapshot = load_objects(&db, path, revision)?;
        let io_err = |source| OpenError::Io {
            path: path.clone(),
            source,
        };
        // sled now holds every logged write durably, so the log starts anew.
        let files = SledFiles::open(db.clone(), path).map_err(io_err)?;
        wal::remove_all(&wal_dir).map_err(io_err)?;
        let wal = wal::Wal::create(&wal_dir, revision + 1).map_err(io_err)?;
        info!(
            path = %path.display(), %store_uid, revision, objects = snapshot.len(),
            replayed = revision - sled_revision, "opened sled store"
        );
        let view = Arc::new(View::new(snapshot, config.change_buffer));
        let (commits, queue) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            db,
            store_uid,
            view: Arc::clone(&view),
            writer: Mutex::new(Writer {
                revision,
                commits: Some(commits),
                failed: None,
            }),
            files: Mutex::new(files),
            wal_dir,
            checkpointed: AtomicU64::new(revision),
        });
        let weak = Arc::downgrade(&shared);
        let on_failure = move |reason: &str| {
            if let Some(shared) = weak.upgrade() {
                shared.lock_writer().failed = Some(reason.to_owned());
                // Reads would show state that can no longer be made durable.
                shared.view.set_unavailable(Some(reason.to_owned()));
            }
        };
        std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || commit::run(wal, queue, view, on_failure))
            .map_err(io_err)?;
        let checkpoints = checkpoint_periodically(Arc::downgrade(&shared));
        tokio::spawn(checkpoints.instrument(info_span!("checkpoint")));
        let compaction = compact_periodically(
            Arc::downgrade(&shared),
            config.retained_revisions,
            config.compaction_interval,
        );
        tokio::spawn(compaction.instrument(info_span!("compaction")));
        Ok(Self { shared })
    }
}

impl Store for SledStore {
    fn store_uid(&self) -> &str {
        &self.shared.store_uid
    }

    fn view(&self) -> &View {
        &self.shared.view
    }

    #[instrument(skip_all, fields(name = %write.name()))]
    async fn write(&self, write: Write) -> Result<HostEndpoint> {
        let applied = self.shared.apply(write)?;
        if let Some(synced) = applied.synced {
            synced.await.map_err(|_| Error::Unavailable {
                reason: "the store closed before the write was synced".into(),
            })??;
        }
        Ok(applied.result)
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
            let _ = commits.send(Pending { logged: None, ack });
            synced
        };
        barrier.await.map_err(|_| Error::Unavailable {
            reason: "the group-commit task ended".into(),
        })??;
        // So that the next start has nothing to replay.
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || shared.checkpoint())
            .await
            .map_err(backend)?
            .map_err(backend)
    }
}

// === impl Shared ===

impl Shared {
    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        // Every update of the writer state is a single assignment, so it is consistent even
        // after a panic elsewhere.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn apply(&self, write: Write) -> Result<Applied> {
        let mut writer = self.lock_writer();
        if let Some(reason) = &writer.failed {
            return Err(Error::Unavailable {
                reason: reason.clone(),
            });
        }
        let Some(commits) = writer.commits.clone() else {
            return Err(Error::Unavailable {
                reason: "the server is shutting down".into(),
            });
        };
        let current = self.read_object(write.name())?;
        let plan = write.plan(current.clone())?;
        let (result, change) = match plan {
            Plan::Unchanged(stored) => return Ok(self.unchanged(stored, &commits)),
            Plan::Put(mut next) => {
                let revision = writer.revision + 1;
                next.metadata.resource_version = revision;
                let change = Change::new(
                    revision,
                    current.map(Object::new),
                    Some(Object::new(next.clone())),
                );
                (next, change)
            }
            Plan::Delete(prev) => {
                let revision = writer.revision + 1;
                let mut last = prev.clone();
                last.metadata.resource_version = revision;
                let change = Change::new(revision, Some(Object::new(prev)), None);
                (last, change)
            }
        };
        let entry = sled::IVec::from(codec::encode_change(&change));
        let mut batch = sled::Batch::default();
        add_to_batch(&mut batch, &change, entry.clone());
        self.db.apply_batch(batch).map_err(backend)?;
        writer.revision = change.revision;
        let (ack, synced) = oneshot::channel();
        let pending = Pending {
            logged: Some(Logged {
                change: Arc::new(change),
                entry,
            }),
            ack,
        };
        // Queued under the lock, so the commit task sees revision order.
        commits.send(pending).map_err(|_| Error::Unavailable {
            reason: "the group-commit task ended".into(),
        })?;
        Ok(Applied {
            result,
            synced: Some(synced),
        })
    }

    /// A write that changes nothing still must not answer before the stored object is durable.
    fn unchanged(&self, stored: HostEndpoint, commits: &mpsc::UnboundedSender<Pending>) -> Applied {
        if stored.metadata.resource_version <= self.view.revision() {
            return Applied {
                result: stored,
                synced: None,
            };
        }
        let (ack, synced) = oneshot::channel();
        let _ = commits.send(Pending { logged: None, ack });
        Applied {
            result: stored,
            synced: Some(synced),
        }
    }

    /// Reads the log after `after`, up to the latest revision published to the view: later
    /// entries may be applied to sled but are not durable yet.
    fn read_history(&self, after: Revision, limit: usize) -> Result<Vec<Arc<Change>>> {
        let current = self.view.revision();
        let oldest = self.oldest_resumable()?;
        if after < oldest {
            return Err(Error::Compacted {
                requested: after,
                oldest,
                current,
            });
        }
        if after >= current {
            return Ok(Vec::new());
        }
        let range = codec::log_key(after + 1)..=codec::log_key(current);
        let mut changes = Vec::new();
        for entry in self.db.range(range).take(limit) {
            let (_, value) = entry.map_err(backend)?;
            let change = codec::decode_change(&value).map_err(backend)?;
            // Every revision has an entry; a hole means compaction overtook this read.
            if change.revision != after + 1 + changes.len() as u64 {
                return Err(Error::Compacted {
                    requested: after,
                    oldest: self.oldest_resumable()?,
                    current,
                });
            }
            changes.push(Arc::new(change));
        }
        if changes.is_empty() && after < current {
            return Err(Error::Compacted {
                requested: after,
                oldest: self.oldest_resumable()?,
                current,
            });
        }
        Ok(changes)
    }

    /// Removes log entries older than the last `retained` revisions, a chunk per batch.
    /// Writers only append above the current revision, so this needs no writer lock.
    fn compact(&self, retained: u64) -> Result<()> {
        let target = self.view.revision().saturating_sub(retained);
        let mut done = self.oldest_resumable()?;
        while done < target {
            let upto = target.min(done + COMPACTION_CHUNK);
            let mut batch = sled::Batch::default();
            for key in self
                .db
                .range(codec::log_key(done + 1)..=codec::log_key(upto))
                .keys()
            {
                batch.remove(key.map_err(backend)?);
            }
            batch.insert(KEY_COMPACTED, &codec::encode_u64(upto));
            self.db.apply_batch(batch).map_err(backend)?;
            done = upto;
        }
        Ok(())
    }

    /// The oldest revision after which the log holds every change.
    fn oldest_resumable(&self) -> Result<Revision> {
        match self.db.get(KEY_COMPACTED).map_err(backend)? {
            Some(bytes) => codec::decode_u64("meta/compacted", &bytes).map_err(backend),
            None => Ok(0),
        }
    }

    /// Makes sled durable up to the current revision and removes the log segments that
    /// covers. Returns without a sync when nothing was written since the last one.
    fn checkpoint(&self) -> std::io::Result<()> {
        let revision = self.lock_writer().revision;
        if revision == self.checkpointed.load(Ordering::Acquire) {
            return Ok(());
        }
        // Every write up to `revision` was applied to sled before the writer lock was
        // released, so this sync covers it.
        self.files
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .sync()?;
        self.checkpointed.store(revision, Ordering::Release);
        wal::remove_covered(&self.wal_dir, revision)
    }

    fn read_object(&self, name: &str) -> Result<Option<HostEndpoint>> {
        let Some(bytes) = self.db.get(codec::object_key(name)).map_err(backend)? else {
            return Ok(None);
        };
        codec::decode_object(&bytes).map(Some).map_err(backend)
    }
}

async fn compact_periodically(shared: Weak<Shared>, retained: u64, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let compacted = tokio::task::spawn_blocking(move || shared.compact(retained)).await;
        match compacted {
            Ok(Ok(())) => debug!("compacted"),
            Ok(Err(err)) => warn!(error = %err, "log compaction failed; retrying later"),
            Err(panic) => warn!(%panic, "log compaction panicked; retrying later"),
        }
    }
}

async fn checkpoint_periodically(shared: Weak<Shared>) {
    let mut interval = tokio::time::interval(CHECKPOINT_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        match tokio::task::spawn_blocking(move || shared.checkpoint()).await {
            Ok(Ok(())) => {}
            // The log still holds every write, so this costs only replay time at start-up.
            Ok(Err(err)) => warn!(error = %err, "checkpoint failed; retrying later"),
            Err(panic) => warn!(%panic, "checkpoint panicked; retrying later"),
        }
    }
}

/// Adds a change to `batch`: its object, its log `entry` and the store's revision.
fn add_to_batch(batch: &mut sled::Batch, change: &Change, entry: sled::IVec) {
    match (&change.prev, &change.next) {
        (_, Some(next)) => batch.insert(codec::object_key(next.name()), codec::encode_object(next)),
        (Some(prev), None) => batch.remove(codec::object_key(prev.name())),
        (None, None) => {}
    }
    batch.insert(codec::log_key(change.revision), entry);
    batch.insert(KEY_REVISION, &codec::encode_u64(change.revision));
}

/// Applies the log's records above `applied` to sled; returns the revision after them.
fn replay_wal(
    db: &sled::Db,
    path: &Path,
    wal_dir: &Path,
    applied: Revision,
) -> Result<Revision, OpenError> {
    let replay_err = |source| OpenError::Replay {
        path: path.to_owned(),
        source,
    };
    let records = wal::records_after(wal_dir, applied, |entry| {
        codec::change_revision(entry).map_err(|err| err.to_string())
    })
    .map_err(replay_err)?;
    let mut revision = applied;
    for chunk in records.chunks(REPLAY_CHUNK) {
        let mut batch = sled::Batch::default();
        for record in chunk {
            let change = codec::decode_change(&record.entry).map_err(|err| OpenError::Corrupt {
                path: path.to_owned(),
                what: format!("write-ahead log record {}", record.revision),
                reason: err.to_string(),
            })?;
            add_to_batch(&mut batch, &change, record.entry.as_slice().into());
            revision = record.revision;
        }
        db.apply_batch(batch).map_err(|source| OpenError::Sled {
            path: path.to_owned(),
            source,
        })?;
    }
    Ok(revision)
}

fn backend(err: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Backend(Box::new(err))
}

/// Reads the store's identity and revision, or writes them for a new store.
fn read_or_init_meta(db: &sled::Db, path: &Path) -> Result<(String, Revision), OpenError> {
    let corrupt = |what: &str, reason: String| OpenError::Corrupt {
        path: path.to_owned(),
        what: what.to_owned(),
        reason,
    };
    let sled_err = |source| OpenError::Sled {
        path: path.to_owned(),
        source,
    };
    let Some(format) = db.get(KEY_FORMAT).map_err(sled_err)? else {
        if !db.is_empty() {
            return Err(corrupt(
                "meta/format",
                "missing in a non-empty store".into(),
            ));
        }
        let store_uid = uuid::Uuid::new_v4().to_string();
        let mut batch = sled::Batch::default();
        batch.insert(KEY_FORMAT, &FORMAT_VERSION.to_be_bytes());
        batch.insert(KEY_STORE_UID, store_uid.as_bytes());
        batch.insert(KEY_REVISION, &codec::encode_u64(0));
        db.apply_batch(batch).map_err(sled_err)?;
        return Ok((store_uid, 0));
    };
    let found = codec::decode_u32("meta/format", &format)
        .map_err(|e| corrupt("meta/format", e.to_string()))?;
    if found == FORMAT_VERSION_WITHOUT_WAL {
        // The same layout without a log, so nothing to convert; the version changes so that
        // an older build refuses a store whose latest writes may be in the log only. The
        // first checkpoint makes it durable, before the log takes any write.
        db.insert(KEY_FORMAT, &FORMAT_VERSION.to_be_bytes())
            .map_err(sled_err)?;
        info!(path = %path.display(), "upgraded the store to on-disk format {FORMAT_VERSION}");
    } else if found != FORMAT_VERSION {
        return Err(OpenError::Version {
            path: path.to_owned(),
            found,
        });
    }
    let uid = db.get(KEY_STORE_UID).map_err(sled_err)?;
    let store_uid = uid
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
        .ok_or_else(|| corrupt("meta/store_uid", "missing or not UTF-8".into()))?;
    let revision = db.get(KEY_REVISION).map_err(sled_err)?;
    let revision = revision
        .ok_or_else(|| corrupt("meta/revision", "missing".into()))
        .and_then(|b| {
            codec::decode_u64("meta/revision", &b)
                .map_err(|e| corrupt("meta/revision", e.to_string()))
        })?;
    Ok((store_uid, revision))
}

fn load_objects(db: &sled::Db, path: &Path, revision: Revision) -> Result<Snapshot, OpenError> {
    let mut objects = Vec::new();
    for entry in db.scan_prefix(OBJECT_PREFIX) {
        let (key, value) = entry.map_err(|source| OpenError::Sled {
            path: path.to_owned(),
            source,
        })?;
        let hep = codec::decode_object(&value).map_err(|e| OpenError::Corrupt {
            path: path.to_owned(),
            what: String::from_utf8_lossy(&key).into_owned(),
            reason: e.to_string(),
        })?;
        objects.push(hep);
    }
    Ok(Snapshot::new(revision, objects))
}
