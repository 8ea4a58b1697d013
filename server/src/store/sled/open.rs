//! Opening a sled store: its metadata, the write-ahead log's records that sled missed, the
//! objects for the view, and the tasks that keep it.

use std::{
    path::Path,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, AtomicU64},
    },
};

use hostendpoint_api::model::Revision;
use tracing::{Instrument as _, info, info_span, warn};

use super::{
    OpenError, Shared, SledConfig, SledStore, Writer, add_to_batch, background,
    backlog::SledBacklog,
    checkpoint::{self, SledFiles},
    codec::{
        self, FORMAT_VERSION, FORMAT_VERSIONS_TO_UPGRADE, KEY_FORMAT, KEY_REVISION, KEY_STORE_UID,
    },
    commit::Committer,
    load,
    lock::DirLock,
    reopen::SledOpener,
    sled_writer::SledWriter,
    wal::{self, History, Wal},
};
use crate::store::{Snapshot, View};

/// The most log records replayed into sled in one batch.
const REPLAY_CHUNK: usize = 1024;
/// Keys that stores of formats 1 and 2 kept their history under, before the log did.
const SLED_HISTORY_PREFIX: &[u8] = b"log/";
const SLED_KEY_COMPACTED: &[u8] = b"meta/compacted";

impl SledStore {
    /// Opens (or creates) the store in `config.path` and starts its group-commit thread and
    /// its background tasks. Must be called within a Tokio runtime.
    pub fn open(config: &SledConfig) -> Result<Self, OpenError> {
        let path = &config.path;
        // First: nothing in the directory is touched while another server holds it.
        let lock = DirLock::acquire(path)?;
        let sled_err = |cause| OpenError::Sled {
            path: path.clone(),
            cause,
        };
        let io_err = |cause| OpenError::Io {
            path: path.clone(),
            cause,
        };
        let opener = SledOpener {
            path: path.clone(),
            cache_bytes: config.cache_bytes,
        };
        let db = opener.open().map_err(sled_err)?;
        let (store_uid, sled_revision, had_log) = read_or_init_meta(&db, path)?;
        let wal_dir = path.join("wal");
        // A store that kept its writes in the log has a `wal/` from its first start on.
        let log_missing = (had_log && !wal_dir.exists()).then(|| {
            format!(
                "{}: the write-ahead log directory is missing; writes acknowledged since sled's \
                 last checkpoint (revision {sled_revision}) may be lost",
                wal_dir.display()
            )
        });
        let checkpointed = checkpoint::recorded(&wal_dir);
        let from = checkpointed.map_or(sled_revision, |c| c.min(sled_revision));
        let replay = replay_log(&db, path, &wal_dir, from, config.discard_damaged_wal)?;
        let revision = replay.last.unwrap_or(0).max(sled_revision);
        // What the log must reach: sled's revision, and what a checkpoint found durable there.
        let held = revision.max(checkpointed.unwrap_or(0));
        let continuity =
            settle_damage(&replay, held, log_missing, path, config.discard_damaged_wal)?;
        let store_uid = match continuity {
            Continuity::Continues => store_uid,
            Continuity::Restarts => renew_store_uid(&db).map_err(sled_err)?,
        };
        let snapshot = Snapshot::of_objects(revision, load::load_objects(&db, path)?);
        // sled holds the replayed records (and a format upgrade) durably before the log's
        // tail is cut or a record of the next run is written.
        let files = SledFiles::open(db.clone(), path).map_err(io_err)?;
        std::fs::create_dir_all(&wal_dir).map_err(io_err)?;
        checkpoint::record(&wal_dir, revision).map_err(io_err)?;
        match (&replay.newest, continuity) {
            (_, Continuity::Restarts) => wal::remove_all(&wal_dir).map_err(io_err)?,
            (Some(newest), Continuity::Continues) => {
                end_log_at_its_last_record(newest).map_err(io_err)?;
            }
            (None, Continuity::Continues) => {}
        }
        let wal = Wal::create(&wal_dir, revision + 1)
            .map_err(io_err)?
            .with_metrics(config.metrics.clone());
        info!(
            path = %path.display(), %store_uid, revision, objects = snapshot.len(),
            replayed_from = from, "opened sled store"
        );
        let objects = snapshot.by_name().clone();
        let view = Arc::new(View::new(snapshot, config.change_buffer));
        let backlog = Arc::new(SledBacklog::new(revision));
        let mut committer = None;
        let shared = Arc::new_cyclic(|shared| {
            let commits = Arc::new(Committer::new(
                wal,
                Arc::clone(&view),
                Arc::clone(&backlog),
                Weak::clone(shared),
            ));
            committer = Some(Arc::clone(&commits));
            Shared {
                _lock: lock,
                store_uid,
                view: Arc::clone(&view),
                writer: Mutex::new(Writer {
                    revision,
                    objects,
                    commits: Some(commits),
                }),
                files: Mutex::new(Some(files)),
                history: History::new(&wal_dir),
                wal_dir,
                backlog: Arc::clone(&backlog),
                checkpointed: AtomicU64::new(revision),
                checkpointing: Mutex::new(()),
                sled_failed: AtomicBool::new(false),
                compacted: AtomicU64::new(0),
                metrics: config.metrics.clone(),
            }
        });
        let sled_writer = SledWriter {
            db: db.clone(),
            backlog: Arc::clone(&backlog),
            opener,
            shared: Arc::downgrade(&shared),
        };
        std::thread::Builder::new()
            .name("sled-writer".into())
            .spawn(move || sled_writer.run())
            .map_err(io_err)?;
        // `new_cyclic` ran the closure above, which set it.
        let committer = committer
            .ok_or_else(|| io_err(std::io::Error::other("the committer was not built")))?;
        std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || committer.run())
            .map_err(io_err)?;
        let checkpoints = background::checkpoint_periodically(Arc::downgrade(&shared));
        tokio::spawn(checkpoints.instrument(info_span!("checkpoint")));
        let compaction = background::compact_periodically(
            Arc::downgrade(&shared),
            config.retained_revisions,
            config.compaction_interval,
        );
        tokio::spawn(compaction.instrument(info_span!("compaction")));
        Ok(Self { shared })
    }
}

/// Removes the snapshot files sled was still writing when a start failed (on a full disk, say):
/// sled 0.34 reads the newest-named one, which would stop every later start as corrupt. They
/// are unfinished by construction: sled renames one once it is complete.
pub(super) fn remove_unfinished_snapshots(path: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            warn!(file = %entry.path().display(), "removing a snapshot sled left unfinished");
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// What start-up found in the log, once replayed into sled.
struct Replayed {
    /// The last revision replayed; `None` when the log held nothing from `from` on.
    last: Option<Revision>,
    newest: Option<wal::NewestSegment>,
    /// The damage that was dropped, on request.
    discarded: Option<wal::ReplayError>,
}

/// Whether the history continues what clients have seen.
#[derive(Clone, Copy)]
enum Continuity {
    Continues,
    /// It may have gone backwards: clients must not trust their revisions.
    Restarts,
}

/// Replays the log's records from `from` on into sled.
fn replay_log(
    db: &sled::Db,
    path: &Path,
    wal_dir: &Path,
    from: Revision,
    discard_damaged: bool,
) -> Result<Replayed, OpenError> {
    let replay = wal::replay(wal_dir, from, discard_damaged, |entry| {
        codec::change_revision(entry).map_err(|err| err.to_string())
    })
    .map_err(|cause| match cause {
        wal::ReplayError::Io(_) => OpenError::Replay {
            path: path.to_owned(),
            cause,
        },
        damage => OpenError::Damaged {
            path: path.to_owned(),
            what: damage.to_string(),
        },
    })?;
    for chunk in replay.records.chunks(REPLAY_CHUNK) {
        let mut batch = sled::Batch::default();
        for record in chunk {
            let change = codec::decode_change(&record.entry).map_err(|err| OpenError::Corrupt {
                path: path.to_owned(),
                what: format!("write-ahead log record {}", record.revision),
                reason: err.to_string(),
            })?;
            add_to_batch(&mut batch, &change);
        }
        db.apply_batch(batch).map_err(|cause| OpenError::Sled {
            path: path.to_owned(),
            cause,
        })?;
    }
    Ok(Replayed {
        last: replay.records.last().map(|record| record.revision),
        newest: replay.newest,
        discarded: replay.discarded,
    })
}

/// Decides what damage means for the start: it stops it, unless the operator asked to drop the
/// damaged records, in which case the history restarts under a new `store_uid`. sled holding
/// (or a checkpoint having recorded) `held`, a revision the log lacks, is damage too: sled only
/// takes synced records.
fn settle_damage(
    replay: &Replayed,
    held: Revision,
    log_missing: Option<String>,
    path: &Path,
    discard: bool,
) -> Result<Continuity, OpenError> {
    let behind = replay
        .newest
        .as_ref()
        .filter(|newest| newest.last_revision < held)
        .map(|newest| {
            format!(
                "{}: the log ends at revision {} (byte {}) but sled holds revision {held}",
                newest.path.display(),
                newest.last_revision,
                newest.valid_bytes
            )
        });
    let what = match (&replay.discarded, behind.or(log_missing)) {
        (Some(damage), _) => damage.to_string(),
        (None, Some(behind)) => behind,
        (None, None) => return Ok(Continuity::Continues),
    };
    if !discard {
        return Err(OpenError::Damaged {
            path: path.to_owned(),
            what,
        });
    }
    warn!(
        path = %path.display(), damage = %what,
        "--discard-damaged-wal: the damaged write-ahead log is cut and its history dropped; \
         acknowledged writes after the damage may be lost; the store gets a new store_uid, so \
         every agent relists"
    );
    Ok(Continuity::Restarts)
}

/// Gives the store a new identity: its history no longer continues the old one.
fn renew_store_uid(db: &sled::Db) -> sled::Result<String> {
    let store_uid = uuid::Uuid::new_v4().to_string();
    db.insert(KEY_STORE_UID, store_uid.as_bytes())?;
    Ok(store_uid)
}

/// Cuts a torn write off the newest segment, which becomes an ordinary sealed one; the log
/// goes on in a new segment.
fn end_log_at_its_last_record(newest: &wal::NewestSegment) -> std::io::Result<()> {
    if newest.torn_bytes > 0 {
        warn!(
            segment = %newest.path.display(), offset = newest.valid_bytes,
            bytes = newest.torn_bytes,
            "cutting an incomplete last record off the write-ahead log (a write torn by a crash, \
             never acknowledged)"
        );
    }
    if newest.empty {
        return std::fs::remove_file(&newest.path);
    }
    let file = std::fs::OpenOptions::new().write(true).open(&newest.path)?;
    file.set_len(newest.valid_bytes)?;
    file.sync_all()
}

/// Reads the store's identity and revision, or writes them for a new store.
/// The store's uid, sled's revision, and whether the store already kept its writes in the
/// log (format 3 before this start): then a missing log means lost writes.
fn read_or_init_meta(db: &sled::Db, path: &Path) -> Result<(String, Revision, bool), OpenError> {
    let corrupt = |what: &str, reason: String| OpenError::Corrupt {
        path: path.to_owned(),
        what: what.to_owned(),
        reason,
    };
    let sled_err = |cause| OpenError::Sled {
        path: path.to_owned(),
        cause,
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
        return Ok((store_uid, 0, false));
    };
    let found = codec::decode_u32("meta/format", &format)
        .map_err(|e| corrupt("meta/format", e.to_string()))?;
    if FORMAT_VERSIONS_TO_UPGRADE.contains(&found) {
        upgrade_to_log_history(db, path).map_err(sled_err)?;
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
    Ok((store_uid, revision, found == FORMAT_VERSION))
}

/// Formats 1 and 2 kept the history in sled; format 3 keeps it in the log. The old history is
/// dropped (watchers further behind relist once), and the version changes so that an older
/// build refuses a store whose latest writes may be in the log only.
fn upgrade_to_log_history(db: &sled::Db, path: &Path) -> sled::Result<()> {
    let mut batch = sled::Batch::default();
    for key in db.scan_prefix(SLED_HISTORY_PREFIX).keys() {
        batch.remove(key?);
    }
    batch.remove(SLED_KEY_COMPACTED);
    batch.insert(KEY_FORMAT, &FORMAT_VERSION.to_be_bytes());
    db.apply_batch(batch)?;
    info!(path = %path.display(), "upgraded the store to on-disk format {FORMAT_VERSION}");
    Ok(())
}
