//! Reading the log back at start-up.
//!
//! Groups are written one after another, each only once the one before is synced, so a torn
//! or half-written record can only be the tail of the newest segment: there it ends the log.
//! Anywhere else a bad record means the disk lost data that was acknowledged, and start-up
//! stops.

use std::{fs, io, path::Path};

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

/// Reads every record above `applied` from the segments in `dir`, in revision order. `revision`
/// reads a record's revision from its encoded change.
pub(in crate::store::sled) fn records_after(
    dir: &Path,
    applied: Revision,
    revision: impl Fn(&[u8]) -> Result<Revision, String>,
) -> Result<Vec<Record>, ReplayError> {
    let segments = list_segments(dir)?;
    let mut records = Vec::new();
    let mut last = applied;
    for (index, (_, path)) in segments.iter().enumerate() {
        let newest = index + 1 == segments.len();
        let bytes = fs::read(path)?;
        let segment = path.display().to_string();
        for (offset, entry) in read_segment(&bytes, newest, &segment)? {
            let found = revision(entry).map_err(|reason| ReplayError::Undecodable {
                segment: segment.clone(),
                offset,
                reason,
            })?;
            if found <= last {
                continue;
            }
            if found != last + 1 {
                return Err(ReplayError::Gap {
                    previous: last,
                    found,
                });
            }
            last = found;
            records.push(Record {
                revision: found,
                entry: entry.to_vec(),
            });
        }
    }
    Ok(records)
}

/// The records of one segment with their offsets, up to its end: a zero length, the end of
/// the file, or (in the newest segment only) a torn record.
fn read_segment<'a>(
    bytes: &'a [u8],
    newest: bool,
    segment: &str,
) -> Result<Vec<(usize, &'a [u8])>, ReplayError> {
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
    Ok(records)
}
