//! Reading the log back at start-up.
//!
//! Groups are written one after another, each only once the one before is synced, so a torn
//! or half-written record can only be the tail of the newest segment: there it ends the log.
//! Anywhere else a bad record means the disk lost data that was acknowledged, and start-up
//! stops.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

use hostendpoint_api::model::Revision;

use super::{HEADER_BYTES, segment::list_segments};

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
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A record before the newest segment's tail is damaged.
    #[error("{segment}: bad record at byte {offset} before the end of the log")]
    Corrupt { segment: String, offset: usize },
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
}

/// Reads the records from `applied` on from the segments in `dir`, reading only the segments
/// that can hold them: the record of `applied` itself too (when the log still has it), as
/// sled may hold that revision without its object. `revision` reads a record's revision from
/// its encoded change.
pub(in crate::store::sled) fn replay(
    dir: &Path,
    applied: Revision,
    revision: impl Fn(&[u8]) -> Result<Revision, String>,
) -> Result<Replay, ReplayError> {
    let segments = list_segments(dir)?;
    // Segments whose successor starts at or below `applied` hold nothing from `applied` on.
    let skip = segments.partition_point(|(first, _)| *first <= applied);
    let mut replay = Replay {
        records: Vec::new(),
        newest: None,
    };
    let mut last = applied;
    for (index, (first, path)) in segments.iter().enumerate().skip(skip.saturating_sub(1)) {
        let is_newest = index + 1 == segments.len();
        let bytes = fs::read(path)?;
        let segment = path.display().to_string();
        let (entries, valid_bytes) = read_segment(&bytes, is_newest, &segment)?;
        let mut last_in_segment = first.saturating_sub(1);
        for (offset, entry) in &entries {
            let found = revision(entry).map_err(|reason| ReplayError::Undecodable {
                segment: segment.clone(),
                offset: *offset,
                reason,
            })?;
            last_in_segment = found;
            if found < applied {
                continue;
            }
            if found == applied {
                replay.records.push(Record {
                    revision: found,
                    entry: entry.to_vec(),
                });
                continue;
            }
            if found != last + 1 {
                return Err(ReplayError::Gap {
                    previous: last,
                    found,
                });
            }
            last = found;
            replay.records.push(Record {
                revision: found,
                entry: entry.to_vec(),
            });
        }
        if is_newest {
            replay.newest = Some(NewestSegment {
                path: path.clone(),
                valid_bytes: valid_bytes as u64,
                last_revision: last_in_segment,
                empty: entries.is_empty(),
            });
        }
    }
    Ok(replay)
}

/// A record's change and the offset of its record in the segment.
type Located<'a> = (usize, &'a [u8]);

/// The records of one segment with their offsets, up to its end: a zero length, the end of
/// the file, or (in the newest segment only) a torn record. Also returns where that end is.
fn read_segment<'a>(
    bytes: &'a [u8],
    newest: bool,
    segment: &str,
) -> Result<(Vec<Located<'a>>, usize), ReplayError> {
    let mut records = Vec::new();
    let mut offset = 0;
    while let Some(header) = bytes.get(offset..offset + HEADER_BYTES) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        if len == 0 {
            break;
        }
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let start = offset + HEADER_BYTES;
        let entry = bytes.get(start..start + len);
        match entry {
            Some(entry) if crc32fast::hash(entry) == crc => records.push((offset, entry)),
            _ if newest => break,
            _ => {
                return Err(ReplayError::Corrupt {
                    segment: segment.to_owned(),
                    offset,
                });
            }
        }
        offset = start + len;
    }
    Ok((records, offset))
}
