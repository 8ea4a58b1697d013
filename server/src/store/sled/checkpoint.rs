//! Checkpoints: making sled itself durable, so that start-up replays little of the log.
//!
//! Writes are durable once in the [log](super::wal); sled takes them in memory and writes
//! its own log lazily. A checkpoint runs every [`CHECKPOINT_INTERVAL`] while writes come in,
//! and when the store closes: it flushes sled and syncs its files with a real `fdatasync`
//! (sled 0.34's `flush` ends in `sync_file_range` on Linux, sled issue 1452, which neither
//! flushes the drive cache nor the file's size). So start-up replays at most about one
//! interval of writes, and compaction may remove the log segments at or below it.
//! Only checkpoints flush sled: concurrent `flush_async` calls deadlock (sled issue 1308).

use std::{
    collections::HashSet,
    fs::File,
    io::{self, Write as _},
    path::{Path, PathBuf},
    time::Duration,
};

use hostendpoint_api::model::Revision;

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

    /// Makes everything written into sled so far durable: the blobs the log's entries point
    /// to first, then the log.
    pub(super) fn sync(&mut self) -> io::Result<()> {
        self.db.flush().map_err(io::Error::other)?;
        self.sync_new_blobs()?;
        self.log_file.sync_data()
    }

    fn sync_new_blobs(&mut self) -> io::Result<()> {
        let mut present = HashSet::new();
        let mut fresh = false;
        for entry in std::fs::read_dir(&self.blob_dir)? {
            let path = entry?.path();
            if !self.synced_blobs.contains(&path) {
                match File::open(&path) {
                    Ok(blob) => blob.sync_data()?,
                    // sled removed it since the listing: a value overwritten or deleted.
                    Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                    Err(err) => return Err(err),
                }
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

/// The file that names the revision of the last checkpoint, in the log's directory.
const CHECKPOINT_FILE: &str = "checkpoint";

/// Records durably that sled holds every change up to `revision`. Start-up replays the log
/// from there rather than from sled's own revision key: sled may recover writes beyond a
/// checkpoint only in part (a large value's blob file is not synced with its log).
pub(super) fn record(wal_dir: &Path, revision: Revision) -> io::Result<()> {
    let tmp = wal_dir.join(format!("{CHECKPOINT_FILE}.tmp"));
    let mut file = File::create(&tmp)?;
    file.write_all(&revision.to_be_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, wal_dir.join(CHECKPOINT_FILE))?;
    File::open(wal_dir)?.sync_all()
}

/// The revision of the last recorded checkpoint; `None` when there is none (a new store, or
/// one from before checkpoints were recorded) or it is unreadable.
pub(super) fn recorded(wal_dir: &Path) -> Option<Revision> {
    let bytes = std::fs::read(wal_dir.join(CHECKPOINT_FILE)).ok()?;
    Some(Revision::from_be_bytes(bytes.try_into().ok()?))
}
