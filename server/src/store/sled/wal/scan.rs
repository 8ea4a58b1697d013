//! Reading one segment's bytes: where its records are, and whether a bad record is a torn
//! tail or damage.
//!
//! Groups are written one after another, each only once the one before is synced, into
//! segments that read as zeroes beyond what was written (zero-filled in advance, or sparse).
//! So a crash can only leave an unsynced last group: bytes that do not form a valid record,
//! with nothing valid after them. A record that fails its checksum while a record after it
//! verifies cannot come from a crash: the disk lost or changed data that was written before,
//! and possibly acknowledged.

use super::HEADER_BYTES;

/// A record that verifies.
#[derive(Debug)]
pub(super) struct Located<'a> {
    /// Where it starts in the segment.
    pub(super) offset: usize,
    /// Its change.
    pub(super) entry: &'a [u8],
    /// Whether damage comes right before it: the revisions need not follow on.
    pub(super) after_damage: bool,
}

/// What one segment holds.
#[derive(Debug, Default)]
pub(super) struct Scan<'a> {
    /// The records that verify, in order (also those after damage).
    pub(super) records: Vec<Located<'a>>,
    /// Where the first bad record starts that valid records follow.
    pub(super) damage: Option<usize>,
    /// Bytes after the last valid record that are not a valid record, with nothing valid
    /// after them.
    pub(super) torn: Option<Torn>,
    /// The end of the last valid record.
    pub(super) end: usize,
}

/// An incomplete last record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Torn {
    /// Where it starts.
    pub(super) offset: usize,
    /// How many bytes from there up to the last non-zero one.
    pub(super) bytes: usize,
}

/// Reads a segment's records up to its end: the end of the file, or zeroes to its end.
pub(super) fn scan(bytes: &[u8]) -> Scan<'_> {
    let mut scan = Scan::default();
    let mut offset = 0;
    let mut after_damage = false;
    loop {
        if let Some((entry, next)) = record_at(bytes, offset) {
            scan.records.push(Located {
                offset,
                entry,
                after_damage: std::mem::take(&mut after_damage),
            });
            scan.end = next;
            offset = next;
            continue;
        }
        let rest = bytes.get(offset..).unwrap_or_default();
        let Some(last_nonzero) = rest.iter().rposition(|b| *b != 0) else {
            return scan;
        };
        match next_valid(bytes, offset + 1) {
            Some(next) => {
                scan.damage.get_or_insert(offset);
                after_damage = true;
                offset = next;
            }
            None => {
                scan.torn = Some(Torn {
                    offset,
                    bytes: last_nonzero + 1,
                });
                return scan;
            }
        }
    }
}

/// The record at `offset` if it is complete and verifies: its change and where the next
/// record starts.
fn record_at(bytes: &[u8], offset: usize) -> Option<(&[u8], usize)> {
    let header = bytes.get(offset..offset.checked_add(HEADER_BYTES)?)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if len == 0 {
        return None;
    }
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let start = offset + HEADER_BYTES;
    let entry = bytes.get(start..start.checked_add(len)?)?;
    (crc32fast::hash(entry) == crc).then_some((entry, start + len))
}

/// The first offset from `from` on where a record verifies. Every offset is tried: a damaged
/// length hides where the next record starts.
fn next_valid(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len().saturating_sub(HEADER_BYTES))
        .filter(|offset| bytes[*offset..*offset + 4] != [0; 4])
        .find(|offset| record_at(bytes, *offset).is_some())
}
