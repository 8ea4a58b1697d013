//! Checkpoints: making sled itself durable, so that start-up replays little of the log.
//!
//! Writes are durable once in the [log](super::wal); sled applies them in memory and writes
//! its own log lazily. A checkpoint runs every [`CHECKPOINT_INTERVAL`] while writes come in,
//! and when the store closes: it flushes sled and syncs its files with a real `fdatasync`
//! (sled 0.34's `flush` ends in `sync_file_range` on Linux, sled issue 1452, which neither
//! flushes the drive cache nor the file's size). So start-up replays at most about one
//! interval of writes, and compaction may remove the log segments at or below it.
//! Only checkpoints flush sled: concurrent `flush_async` calls deadlock (sled issue 1308).

use std::{
    collections::HashSet,
    fs::File,
    io,
    path::{Path, PathBuf},
    time::Duration,
};

/// How often sled is made durable while writes come in.
pub(super) const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// sled's files, to be synced.
#[derive(Debug)]
pub(super) struct SledFiles {
    db: sled::Db,
    /// sled's log file.
    log_file: File,
    /// Large values are written to files of their own, without a sync of sled's.
    blob_dir: PathBuf,
    synced_blobs: HashSet<PathBuf>,
}

impl SledFiles {
    pub(super) fn open(db: sled::Db, dir: &Path) -> io::Result<Self> {
        let log_file = File::open(dir.join("db"))?;
        let mut files = Self {
            db,
            log_file,
            blob_dir: dir.join("blobs"),
            synced_blobs: HashSet::new(),
        };
        // Files sled created at start-up need their directory entries on disk too.
        files.sync()?;
        File::open(dir)?.sync_all()?;
        Ok(files)
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
