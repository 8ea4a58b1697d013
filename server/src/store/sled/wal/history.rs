//! The log read as the store's change history, for watchers that resume or catch up.
//!
//! A read finds the segment that holds the first revision it wants and reads on from there,
//! across segments. Each read remembers where the record after its last one starts, so a
//! watcher catching up in batches reads every record once instead of from its segment's start.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{self, BufReader, Seek as _, SeekFrom},
    path::{Path, PathBuf},
    sync::{Mutex, PoisonError},
};

use hostendpoint_api::model::Revision;

use super::{HEADER_BYTES, segment::list_segments};

/// How many read positions are remembered; about one per watcher catching up at once.
const REMEMBERED_POSITIONS: usize = 4096;
/// The read buffer of one history read.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// Reads of the log's history.
#[derive(Debug)]
pub(in crate::store::sled) struct History {
    dir: PathBuf,
    /// Where the record of a revision starts: `(segment's first revision, offset)`.
    positions: Mutex<BTreeMap<Revision, (Revision, u64)>>,
}

/// A read's progress through the log.
struct Cursor {
    segment: Revision,
    offset: u64,
}

impl History {
    pub(in crate::store::sled) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            positions: Mutex::new(BTreeMap::new()),
        }
    }

    /// The oldest revision the log can resume after: the revision before its oldest segment.
    pub(in crate::store::sled) fn oldest_resumable(&self) -> io::Result<Option<Revision>> {
        Ok(list_segments(&self.dir)?
            .first()
            .map(|(first, _)| first.saturating_sub(1)))
    }

    /// Up to `limit` encoded changes after `after` and at or below `upto`, in log order.
    /// `None` when the segment holding `after + 1` is gone (compacted). `revision` reads a
    /// record's revision from its encoded change.
    pub(in crate::store::sled) fn read(
        &self,
        after: Revision,
        upto: Revision,
        limit: usize,
        revision: impl Fn(&[u8]) -> io::Result<Revision>,
    ) -> io::Result<Option<Vec<Vec<u8>>>> {
        let segments = list_segments(&self.dir)?;
        let holding = segments.partition_point(|(first, _)| *first <= after + 1);
        let Some(start) = holding.checked_sub(1) else {
            return Ok(None);
        };
        let mut cursor = self.start(after, segments[start].0);
        let mut changes = Vec::new();
        for (first, path) in &segments[start..] {
            if cursor.segment != *first {
                cursor = Cursor {
                    segment: *first,
                    offset: 0,
                };
            }
            let file = match File::open(path) {
                Ok(file) => file,
                Err(err) if err.kind() == io::ErrorKind::NotFound && changes.is_empty() => {
                    return Ok(None);
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound => break,
                Err(err) => return Err(err),
            };
            let done = read_segment(file, &mut cursor, |entry| {
                let found = revision(entry)?;
                if found > upto {
                    return Ok(Step::Done {
                        consumed: false,
                        next: found,
                    });
                }
                if found > after {
                    changes.push(entry.to_vec());
                }
                Ok(if changes.len() == limit {
                    Step::Done {
                        consumed: true,
                        next: found + 1,
                    }
                } else {
                    Step::Next
                })
            })?;
            if let Some(next) = done {
                self.remember(next, &cursor);
                break;
            }
        }
        Ok(Some(changes))
    }

    /// Where to start reading for `after + 1` in the segment starting at `segment`.
    fn start(&self, after: Revision, segment: Revision) -> Cursor {
        let positions = self
            .positions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let known = positions
            .range(segment..=after + 1)
            .next_back()
            .filter(|(_, (in_segment, _))| *in_segment == segment);
        Cursor {
            segment,
            offset: known.map_or(0, |(_, (_, offset))| *offset),
        }
    }

    fn remember(&self, revision: Revision, cursor: &Cursor) {
        let mut positions = self
            .positions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        positions.insert(revision, (cursor.segment, cursor.offset));
        while positions.len() > REMEMBERED_POSITIONS {
            positions.pop_first();
        }
    }
}

/// What a read does after a record.
enum Step {
    Next,
    /// The read is complete, with or without this record; `next` is the revision of the
    /// record it would read next.
    Done {
        consumed: bool,
        next: Revision,
    },
}

/// Reads records from `cursor` on, handing each to `visit`, until `visit` is done (returns the
/// revision it would read next) or the segment ends (returns `None`).
fn read_segment(
    file: File,
    cursor: &mut Cursor,
    mut visit: impl FnMut(&[u8]) -> io::Result<Step>,
) -> io::Result<Option<Revision>> {
    let file_len = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, file);
    reader.seek(SeekFrom::Start(cursor.offset))?;
    let mut entry = Vec::new();
    loop {
        let mut header = [0u8; HEADER_BYTES];
        if !read_full(&mut reader, &mut header)? {
            return Ok(None);
        }
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        // A zero length, or one beyond the file (a damaged header must not make this read
        // allocate gigabytes), or a record still being written ends what can be read.
        if len == 0 || cursor.offset + (HEADER_BYTES + len) as u64 > file_len {
            return Ok(None);
        }
        entry.resize(len, 0);
        if !read_full(&mut reader, &mut entry)? || crc32fast::hash(&entry) != crc {
            return Ok(None);
        }
        let size = (HEADER_BYTES + len) as u64;
        match visit(&entry)? {
            Step::Next => cursor.offset += size,
            Step::Done { consumed, next } => {
                if consumed {
                    cursor.offset += size;
                }
                return Ok(Some(next));
            }
        }
    }
}

/// Fills `buf`; `false` at the end of the file.
fn read_full(reader: &mut impl io::Read, buf: &mut [u8]) -> io::Result<bool> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(err) => Err(err),
    }
}
