//! Reading the log back at start-up.
//!
//! Every retained segment is read and checked, also those whose records sled holds already:
//! a damaged one would otherwise only show when a watcher resumes from it. Only an incomplete
//! last record of the newest segment is a torn write (see [`scan`](super::scan)); any other
//! bad record, or a gap in the revisions, stops start-up, unless the operator asked to drop
//! the damaged records.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

use hostendpoint_api::model::Revision;

use super::{
    scan::{Torn, scan},
    segment::list_segments,
};

/// One record read back: the revision it carries and its encoded change.
#[derive(Debug)]
pub(in crate::store::sled) struct Record {
    pub(in crate::store::sled) revision: Revision,
    pub(in crate::store::sled) entry: Vec<u8>,
}

/// Why the log could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A segment could not be read.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// A record fails its checksum while valid records follow it, or a sealed segment ends
    /// in a bad record: the disk lost data that was written before.
    #[error(
        "{segment}: the record at byte {offset} is damaged (it fails its checksum and the log \
         goes on after it)"
    )]
    Damaged { segment: String, offset: usize },
    /// A record's change cannot be decoded.
    #[error("{segment}: record at byte {offset} is unreadable: {reason}")]
    Undecodable {
        segment: String,
        offset: usize,
        reason: String,
    },
    /// Revisions are missing between sled and the log, or within the log.
    #[error("revision {found} follows revision {previous}: the log has a gap")]
    Gap { previous: Revision, found: Revision },
}

/// What start-up finds in the log.
#[derive(Debug)]
pub(in crate::store::sled) struct Replay {
    /// The records above the revision sled holds, in revision order.
    pub(in crate::store::sled) records: Vec<Record>,
    /// The newest segment; `None` when there is none.
    pub(in crate::store::sled) newest: Option<NewestSegment>,
    /// The first damage found and dropped, when the operator asked for that.
    pub(in crate::store::sled) discarded: Option<ReplayError>,
}

/// The segment the last run appended to.
#[derive(Debug)]
pub(in crate::store::sled) struct NewestSegment {
    pub(in crate::store::sled) path: PathBuf,
    /// The bytes up to the end of its last valid record: a torn write may follow.
    pub(in crate::store::sled) valid_bytes: u64,
    /// The last revision the log holds.
    pub(in crate::store::sled) last_revision: Revision,
    /// Whether it holds no record.
    pub(in crate::store::sled) empty: bool,
    /// The bytes of a torn last record, cut at start-up.
    pub(in crate::store::sled) torn_bytes: u64,
}

/// Reads the records from `held` (the revision sled holds) on from the segments in `dir`,
/// checking every segment: the record of `held` itself too (when the log still has it), as
/// sled may hold that revision without its object. `revision` reads a record's revision from its encoded change. With
/// `discard_damaged`, damage ends the replay where the revisions stop following on, rather
/// than failing it.
pub(in crate::store::sled) fn replay(
    dir: &Path,
    held: Revision,
    discard_damaged: bool,
    revision: impl Fn(&[u8]) -> Result<Revision, String>,
) -> Result<Replay, ReplayError> {
    let segments = list_segments(dir)?;
    let mut replay = Replay {
        records: Vec::new(),
        newest: None,
        discarded: None,
    };
    let mut reader = Reader {
        held,
        needed: held,
        previous: None,
    };
    for (index, (first, path)) in segments.iter().enumerate() {
        let is_newest = index + 1 == segments.len();
        let bytes = fs::read(path)?;
        let segment = path.display().to_string();
        let scanned = scan(&bytes);
        let torn = scanned.torn.filter(|_| is_newest);
        let damage = scanned
            .damage
            .or_else(|| scanned.torn.filter(|_| !is_newest).map(|t| t.offset));
        if let Some(offset) = damage {
            let damaged = ReplayError::Damaged { segment, offset };
            if !discard_damaged {
                return Err(damaged);
            }
            replay.discarded.get_or_insert(damaged);
        }
        let mut last_in_segment = first.saturating_sub(1);
        for record in &scanned.records {
            let found = revision(record.entry).map_err(|reason| ReplayError::Undecodable {
                segment: path.display().to_string(),
                offset: record.offset,
                reason,
            })?;
            if record.after_damage {
                // The damaged records are missing from the revisions: only those the replay
                // needs must follow on.
                reader.previous = None;
            }
            match reader.next(found) {
                Ok(true) => replay.records.push(Record {
                    revision: found,
                    entry: record.entry.to_vec(),
                }),
                Ok(false) => {}
                // Past the damage the log no longer follows on: what is left is dropped.
                Err(gap) if discard_damaged => {
                    replay.discarded.get_or_insert(gap);
                    return Ok(replay);
                }
                Err(gap) => return Err(gap),
            }
            last_in_segment = found;
        }
        if is_newest {
            replay.newest = Some(NewestSegment {
                path: path.clone(),
                valid_bytes: scanned.end as u64,
                last_revision: last_in_segment,
                empty: scanned.records.is_empty(),
                torn_bytes: torn.map_or(0, |Torn { bytes, .. }| bytes as u64),
            });
        }
    }
    Ok(replay)
}

/// Follows the revisions through the log.
struct Reader {
    held: Revision,
    /// The last revision the replay has: the next record above `held` must follow it.
    needed: Revision,
    /// The revision of the last record read.
    previous: Option<Revision>,
}

impl Reader {
    /// Checks the next record's revision; returns whether the replay needs it.
    fn next(&mut self, found: Revision) -> Result<bool, ReplayError> {
        let previous = self.previous.replace(found);
        let gap = |previous| ReplayError::Gap { previous, found };
        if let Some(previous) = previous.filter(|p| found != p + 1) {
            return Err(gap(previous));
        }
        if found < self.held {
            return Ok(false);
        }
        if found > self.held {
            if found != self.needed + 1 {
                return Err(gap(self.needed));
            }
            self.needed = found;
        }
        Ok(true)
    }
}
