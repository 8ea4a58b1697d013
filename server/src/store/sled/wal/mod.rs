//! The write-ahead log: what makes a write durable before it is acknowledged.
//!
//! sled takes every write in memory; syncing sled itself per group commit cost about eight
//! device waits (sled 0.34 waits for the device on every buffer it writes, and its flush is
//! not an `fdatasync`). As etcd's WAL does for bbolt, this log takes a group's changes in one
//! write and one `fdatasync`. A [checkpoint](super::checkpoint) makes sled durable in the
//! background; at start-up the records above sled's revision are replayed into sled. The segments are also the store's change [`History`]; compaction removes
//! the ones that are both older than the retained revisions and held durably by sled.
//!
//! A record is the length and the CRC-32 of its change (`u32` little-endian each), then the
//! change as the store's codec encodes it; a zero length ends a segment.
//!
//! A group whose write or sync fails is undone before anything else is written: the segments
//! it started are removed and what it wrote is cut, so that none of its records, which were
//! answered with an error, is ever read back. An open segment unlinked from the data directory
//! fails the sync that finds it.

mod history;
mod replay;
mod scan;
mod segment;

use std::{
    fs::{self, File},
    io,
    os::unix::fs::{FileExt as _, MetadataExt as _},
    path::{Path, PathBuf},
    thread::JoinHandle,
    time::Instant,
};

use hostendpoint_api::model::Revision;
use tracing::warn;

use self::segment::{SEGMENT_BYTES, list_segments};
pub(super) use self::{
    history::History,
    replay::{NewestSegment, ReplayError, replay},
};
use crate::metrics::WalMetrics;

/// The length and CRC in front of every record.
const HEADER_BYTES: usize = 8;

/// The log's writer, held by whoever commits (see `commit`).
#[derive(Debug)]
pub(super) struct Wal {
    dir: PathBuf,
    active: File,
    /// Where the next record goes in `active`.
    offset: u64,
    /// Whether `active` was zero-filled in advance. A sparse one is left as soon as a
    /// zero-filled one is ready.
    zeroed: bool,
    next: NextSegment,
    buffer: Vec<u8>,
    /// The first revision of `active`: its name.
    active_first: Revision,
    /// Where the log ended when a group that failed began, until its bytes are undone.
    undo: Option<Position>,
    metrics: WalMetrics,
}

/// A place in the log: a segment (by its first revision) and an offset in it.
#[derive(Clone, Copy, Debug)]
struct Position {
    segment: Revision,
    offset: u64,
}

/// The zero-filled segment for the next rotation.
#[derive(Debug)]
enum NextSegment {
    /// Not started: it is written once the active segment is half full, so that writing it
    /// competes with the log's syncs once per segment, not right after every rotation.
    Idle,
    Preparing(JoinHandle<io::Result<()>>),
    Ready,
    /// Writing it failed; tried again after the next rotation.
    Failed,
}

// === impl Wal ===

impl Wal {
    /// Starts the log in `dir` (created when missing) with a segment whose first record will
    /// be `next`. Every earlier segment must have been removed.
    pub(super) fn create(dir: &Path, next: Revision) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let ready = segment::zeroed_ready(dir)?;
        let (active, zeroed) = segment::create_segment(dir, next, ready)?;
        let mut wal = Self {
            dir: dir.to_owned(),
            active,
            offset: 0,
            zeroed,
            next: NextSegment::Idle,
            buffer: Vec::new(),
            active_first: next,
            undo: None,
            metrics: WalMetrics::default(),
        };
        // A sparse segment is created on a full disk too: the log could take no write.
        if !zeroed && segment::free_bytes(dir)? < segment::PROBE_FREE_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on the data directory's disk for the write-ahead log",
            ));
        }
        if !zeroed {
            wal.prepare_next();
        }
        Ok(wal)
    }

    /// Records the log's syncs and groups in `metrics`.
    pub(super) fn with_metrics(mut self, metrics: WalMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Appends `records` (encoded changes in revision order) and syncs them. On failure the
    /// log is brought back to where it ended before (now, or before the next group when that
    /// fails too): no record of a failed group may be read back.
    pub(super) fn append(&mut self, records: &[(Revision, &[u8])]) -> io::Result<()> {
        self.finish_undo()?;
        if records.is_empty() {
            return Ok(());
        }
        self.undo = Some(Position {
            segment: self.active_first,
            offset: self.offset,
        });
        let appended = self.append_synced(records);
        match &appended {
            Ok(()) => {
                self.undo = None;
                self.metrics
                    .group_commit_writes
                    .observe(records.len() as f64);
            }
            Err(err) => {
                if let Err(undo) = self.finish_undo() {
                    warn!(error = %err, %undo, "cannot undo a failed write in the log yet");
                }
            }
        }
        appended
    }

    /// Whether appending records of `entries` is one write and one sync: no rotation to a new
    /// segment and no undo of a failed group on the way. Asked by a writer before it commits on
    /// its own thread, which may wait for one sync but not for more.
    pub(super) fn appends_in_place<'a>(&self, entries: impl IntoIterator<Item = &'a [u8]>) -> bool {
        let bytes: usize = entries
            .into_iter()
            .map(|entry| HEADER_BYTES + entry.len())
            .sum();
        let end = self.offset + (self.buffer.len() + bytes) as u64;
        let leaves_sparse =
            !self.zeroed && matches!(self.next, NextSegment::Preparing(_) | NextSegment::Ready);
        self.undo.is_none() && !leaves_sparse && end <= SEGMENT_BYTES
    }

    /// Checks, without a record, that the log can take writes again: a failed group is
    /// undone, its segment is still in the data directory, the disk has room, and a file can
    /// be created, written and synced next to it (as a new segment must be).
    pub(super) fn probe(&mut self) -> io::Result<()> {
        self.finish_undo()?;
        self.check_linked()?;
        if !self.zeroed && segment::free_bytes(&self.dir)? < segment::PROBE_FREE_BYTES {
            return Err(io::Error::from(io::ErrorKind::StorageFull));
        }
        segment::probe_file(&self.dir)
    }

    fn append_synced(&mut self, records: &[(Revision, &[u8])]) -> io::Result<()> {
        let Some(&(first, _)) = records.first() else {
            return Ok(());
        };
        if !self.zeroed && self.next_ready() {
            self.rotate(first)?;
        }
        for &(revision, entry) in records {
            let used = self.offset + self.buffer.len() as u64;
            if used > 0 && used + (HEADER_BYTES + entry.len()) as u64 > SEGMENT_BYTES {
                self.write_buffer()?;
                self.sync()?;
                self.rotate(revision)?;
            }
            let len = u32::try_from(entry.len())
                .map_err(|_| io::Error::other("a change of 4 GiB or more"))?;
            self.buffer.extend_from_slice(&len.to_le_bytes());
            self.buffer
                .extend_from_slice(&crc32fast::hash(entry).to_le_bytes());
            self.buffer.extend_from_slice(entry);
        }
        self.write_buffer()?;
        self.sync()?;
        self.check_linked()?;
        if self.offset > SEGMENT_BYTES / 2 {
            self.prepare_next();
        }
        Ok(())
    }

    /// Syncs the active segment's data, timed.
    fn sync(&mut self) -> io::Result<()> {
        let start = Instant::now();
        self.active.sync_data()?;
        self.metrics
            .fsync_seconds
            .observe(start.elapsed().as_secs_f64());
        Ok(())
    }

    /// Fails when the active segment was unlinked (its data directory removed): what is
    /// written to it is gone at the next start.
    fn check_linked(&self) -> io::Result<()> {
        if segment::links(&self.active)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "the open log segment was removed from the data directory",
            ));
        }
        Ok(())
    }

    /// Brings the log back to where a failed group began: removes the segments it started,
    /// and cuts what it wrote (the segment's rest then reads as zeroes, sparse).
    fn finish_undo(&mut self) -> io::Result<()> {
        let Some(to) = self.undo else {
            return Ok(());
        };
        self.buffer.clear();
        for (first, path) in list_segments(&self.dir)? {
            if first > to.segment {
                fs::remove_file(path)?;
            }
        }
        let path = segment::segment_path(&self.dir, to.segment);
        let file = fs::OpenOptions::new().write(true).open(path)?;
        file.set_len(to.offset)?;
        file.set_len(SEGMENT_BYTES)?;
        file.sync_all()?;
        segment::sync_dir(&self.dir)?;
        self.active = file;
        self.active_first = to.segment;
        self.offset = to.offset;
        self.zeroed = false;
        self.undo = None;
        self.prepare_next();
        Ok(())
    }

    fn write_buffer(&mut self) -> io::Result<()> {
        self.active.write_all_at(&self.buffer, self.offset)?;
        self.offset += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// Moves on to a new segment whose first record will be `first`.
    fn rotate(&mut self, first: Revision) -> io::Result<()> {
        let ready = self.next_ready();
        let (active, zeroed) = segment::create_segment(&self.dir, first, ready)?;
        self.active = active;
        self.active_first = first;
        self.offset = 0;
        self.zeroed = zeroed;
        if matches!(self.next, NextSegment::Ready | NextSegment::Failed) {
            self.next = NextSegment::Idle;
        }
        if !zeroed {
            // A sparse segment is left as soon as a zero-filled one is ready.
            self.prepare_next();
        }
        Ok(())
    }

    /// Starts writing the next zero-filled segment unless one is ready or being written.
    fn prepare_next(&mut self) {
        if matches!(self.next, NextSegment::Idle) {
            self.next = NextSegment::Preparing(segment::prepare_zeroed(&self.dir));
        }
    }

    /// Whether a zero-filled segment is ready, without waiting for one.
    fn next_ready(&mut self) -> bool {
        if let NextSegment::Preparing(handle) = &self.next {
            if !handle.is_finished() {
                return false;
            }
            let NextSegment::Preparing(handle) =
                std::mem::replace(&mut self.next, NextSegment::Failed)
            else {
                return false;
            };
            match handle.join() {
                Ok(Ok(())) => self.next = NextSegment::Ready,
                Ok(Err(err)) => warn!(%err, "cannot zero-fill the next log segment"),
                Err(_) => warn!("the thread zero-filling the next log segment panicked"),
            }
        }
        matches!(self.next, NextSegment::Ready)
    }
}

/// Removes the segments whose every record is at or below `upto` (which sled must hold
/// durably). The newest segment always stays: the writer appends to it.
pub(super) fn remove_covered(dir: &Path, upto: Revision) -> io::Result<()> {
    let segments = list_segments(dir)?;
    for pair in segments.windows(2) {
        let [(_, path), (next_first, _)] = pair else {
            continue;
        };
        if *next_first > upto + 1 {
            break;
        }
        fs::remove_file(path)?;
    }
    Ok(())
}

/// The bytes the log's files in `dir` take on disk: its segments, and the next one while it is
/// zero-filled in advance.
pub(super) fn disk_bytes(dir: &Path) -> io::Result<u64> {
    fs::read_dir(dir)?.try_fold(0, |total, entry| {
        Ok(total + entry?.metadata()?.blocks() * 512)
    })
}

/// Removes every segment: the history starts anew.
pub(super) fn remove_all(dir: &Path) -> io::Result<()> {
    list_segments(dir)?
        .into_iter()
        .try_for_each(|(_, path)| fs::remove_file(path))
}

#[cfg(test)]
mod tests;
