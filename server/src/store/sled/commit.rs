//! Group commit: the one task that makes sled's writes durable.
//!
//! Writers apply their batch to sled and queue it here, in revision order. This task takes
//! every queued write, makes them durable with one sync, then publishes them to the [`View`]
//! and acknowledges them. So concurrent writes share one sync, and nothing is visible or
//! acknowledged before it is on disk.
//!
//! The sync is a real `fdatasync`: sled 0.34's `flush` ends in `sync_file_range` on Linux
//! (sled issue 1452), which neither flushes the drive cache nor the file's size. And only this
//! task ever flushes, because concurrent `flush_async` calls deadlock (sled issue 1308).

use std::{
    collections::HashSet,
    fs::File,
    io,
    path::{Path, PathBuf},
    sync::Arc,
};

use tokio::sync::{mpsc, oneshot};
use tracing::{error, instrument};

use crate::store::{Change, Error, Result, View};

/// The most writes one sync acknowledges; a bound on the latency of the first of them.
const MAX_GROUP: usize = 4096;

/// A write waiting for its sync.
#[derive(Debug)]
pub(super) struct Pending {
    /// The change to publish; `None` for a barrier that only waits for the sync.
    pub(super) change: Option<Arc<Change>>,
    pub(super) ack: oneshot::Sender<Result<()>>,
}

/// The files whose data must reach the disk before an acknowledgement.
#[derive(Debug)]
pub(super) struct SyncTarget {
    db: sled::Db,
    /// sled's log file, synced with `fdatasync`.
    log_file: File,
    /// Large values are written to files of their own, without a sync of sled's.
    blob_dir: PathBuf,
    synced_blobs: HashSet<PathBuf>,
}

impl SyncTarget {
    pub(super) fn open(db: sled::Db, dir: &Path) -> io::Result<Self> {
        let log_file = File::open(dir.join("db"))?;
        let mut target = Self {
            db,
            log_file,
            blob_dir: dir.join("blobs"),
            synced_blobs: HashSet::new(),
        };
        // Files sled created at start-up need their directory entries on disk too.
        target.sync()?;
        File::open(dir)?.sync_all()?;
        Ok(target)
    }

    /// Makes everything sled has applied so far durable.
    pub(super) fn sync(&mut self) -> io::Result<()> {
        self.db.flush().map_err(io::Error::other)?;
        self.log_file.sync_data()?;
        self.sync_new_blobs()
    }

    fn sync_new_blobs(&mut self) -> io::Result<()> {
        let mut present = HashSet::new();
        let mut fresh = false;
        for entry in std::fs::read_dir(&self.blob_dir)? {
            let path = entry?.path();
            if !self.synced_blobs.contains(&path) {
                File::open(&path)?.sync_data()?;
                fresh = true;
            }
            present.insert(path);
        }
        if fresh {
            File::open(&self.blob_dir)?.sync_all()?;
        }
        self.synced_blobs = present;
        Ok(())
    }
}

/// Runs group commits until every sender of `queue` is gone.
#[instrument(name = "group_commit", skip_all)]
pub(super) async fn run(
    mut target: SyncTarget,
    mut queue: mpsc::UnboundedReceiver<Pending>,
    view: Arc<View>,
    on_failure: impl Fn(&str) + Send + 'static,
) {
    let mut group = Vec::new();
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        let synced = tokio::task::spawn_blocking(move || {
            let result = target.sync();
            (target, result)
        })
        .await;
        let (returned, result) = match synced {
            Ok(pair) => pair,
            Err(panic) => {
                error!(%panic, "the sync task panicked; the store stops taking writes");
                on_failure("the sync task panicked");
                fail(group.drain(..), "the sync task panicked");
                return;
            }
        };
        target = returned;
        match result {
            Ok(()) => publish(&view, group.drain(..)),
            Err(err) => {
                error!(%err, "sync failed; the store stops taking writes");
                let reason = format!("sync failed: {err}");
                on_failure(&reason);
                fail(group.drain(..), &reason);
                // Later writes were applied to sled but cannot be made durable: fail them too.
                while let Ok(pending) = queue.try_recv() {
                    fail(std::iter::once(pending), &reason);
                }
            }
        }
    }
}

fn publish(view: &View, group: impl Iterator<Item = Pending>) {
    let group: Vec<_> = group.collect();
    let changes: Vec<_> = group.iter().filter_map(|p| p.change.clone()).collect();
    view.apply(&changes);
    for pending in group {
        // The writer may have gone (its client cancelled); the write stands regardless.
        let _ = pending.ack.send(Ok(()));
    }
}

fn fail(group: impl Iterator<Item = Pending>, reason: &str) {
    for pending in group {
        let _ = pending.ack.send(Err(Error::Unavailable {
            reason: reason.to_owned(),
        }));
    }
}
