//! Bringing sled back after it failed.
//!
//! sled 0.34 keeps the first I/O error it meets (a full disk during its flush, say) and
//! fails every later operation with it. The log holds every write, so sled is rebuilt in place
//! without a restart: every handle is dropped (sled releases its lock only then), sled is
//! opened again on what it holds durably, and the log's records since the last checkpoint are
//! written into it again. Until that succeeds writes go on in the log, and checkpoints wait;
//! the sled writer's backlog is dropped meanwhile, as the replay brings it back.

use std::{
    path::PathBuf,
    sync::{PoisonError, Weak, atomic::Ordering},
    time::Duration,
};

use hostendpoint_api::model::Revision;
use tracing::{info, warn};

use super::{Shared, checkpoint::SledFiles, codec, wal, write_change};

/// The first and the longest wait between attempts to reopen sled.
const FIRST_ATTEMPT: Duration = Duration::from_millis(200);
const LONGEST_WAIT: Duration = Duration::from_secs(5);

/// What it takes to open sled again.
#[derive(Clone, Debug)]
pub(super) struct SledOpener {
    pub(super) path: PathBuf,
    pub(super) cache_bytes: u64,
}

impl SledOpener {
    /// Opens sled with the store's settings, first removing what a failed start left.
    pub(super) fn open(&self) -> sled::Result<sled::Db> {
        super::open::remove_unfinished_snapshots(&self.path)?;
        sled::Config::new()
            .path(&self.path)
            .cache_capacity(self.cache_bytes)
            // Checkpoints flush; sled's own flusher would race them (see `checkpoint`).
            .flush_every_ms(None)
            .open()
    }

    /// Replaces the failed `db` with a new one that holds every change up to the latest
    /// published revision; retries with backoff until it does. `None` once the store is gone.
    pub(super) fn reopen(&self, db: sled::Db, shared: &Weak<Shared>) -> Option<sled::Db> {
        let old_files = {
            let shared = shared.upgrade()?;
            shared.backlog.drop_until_kept();
            lock_files(&shared).take()
        };
        // Dropping a failed sled flushes it, which can wait for good (after a failed blob
        // write, say): not on this thread. sled opens again only once that is done, as it
        // locks its files; until then checkpoints fail and the attempts go on.
        let dropped = std::thread::Builder::new()
            .name("sled-drop".into())
            .spawn(move || drop((db, old_files)));
        if let Err(err) = dropped {
            warn!(error = %err, "cannot drop the failed sled on a thread of its own");
        }
        let mut wait = FIRST_ATTEMPT;
        loop {
            let shared = shared.upgrade()?;
            match self.try_reopen(&shared) {
                Ok(reopened) => {
                    info!("sled is open again; checkpoints go on");
                    return Some(reopened);
                }
                Err(err) => {
                    warn!(error = %err, "cannot reopen sled yet; retrying");
                    shared.backlog.drop_until_kept();
                }
            }
            drop(shared);
            std::thread::sleep(wait);
            wait = (wait * 2).min(LONGEST_WAIT);
        }
    }

    fn try_reopen(&self, shared: &Shared) -> std::io::Result<sled::Db> {
        // From here the backlog keeps what is published: the replay below may not reach it.
        shared.backlog.keep();
        let reopened = self.open().map_err(std::io::Error::other)?;
        let from = shared.checkpointed.load(Ordering::Acquire);
        let written = replay_published(&reopened, shared, from)?;
        let files = SledFiles::open(reopened.clone(), &self.path)?;
        *lock_files(shared) = Some(files);
        shared.backlog.set_written(written);
        // Only now: until the new files are in place, checkpoints must not sync the old ones.
        shared.sled_failed.store(false, Ordering::Release);
        Ok(reopened)
    }
}

fn lock_files(shared: &Shared) -> std::sync::MutexGuard<'_, Option<SledFiles>> {
    shared.files.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes the log's published records from `from` on into `db`; returns the last revision.
fn replay_published(db: &sled::Db, shared: &Shared, from: Revision) -> std::io::Result<Revision> {
    let published = shared.view.revision();
    let revision = |entry: &[u8]| codec::change_revision(entry).map_err(|e| e.to_string());
    // The newest segment is being written: only its published records count.
    let replay =
        wal::replay(&shared.wal_dir, from, true, revision).map_err(std::io::Error::other)?;
    let mut last = from;
    for record in replay.records.iter().filter(|r| r.revision <= published) {
        let change = codec::decode_change(&record.entry).map_err(std::io::Error::other)?;
        write_change(db, &change).map_err(std::io::Error::other)?;
        last = record.revision;
    }
    // sled must hold every published change before it takes new ones: a log that stops short
    // (damage) keeps sled closed, so checkpoints cannot move past the hole and compaction
    // cannot remove the evidence; the attempts go on, loudly.
    if last < published {
        return Err(std::io::Error::other(format!(
            "the write-ahead log holds revisions up to {last} only, not {published}: it may be \
             damaged; sled stays closed and the log is kept"
        )));
    }
    Ok(last)
}
