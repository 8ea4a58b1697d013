//! The log against its readers: what is appended comes back, across segments, and a damaged
//! log ends or stops the replay where it must.

use std::{
    fs,
    os::unix::fs::FileExt as _,
    path::Path,
    time::{Duration, Instant},
};

use super::{
    History, Position, ReplayError, Wal, remove_covered, replay,
    segment::{SEGMENT_BYTES, links, list_segments},
};

/// A record whose first 8 bytes are its revision, padded to `size` bytes.
fn entry(revision: u64, size: usize) -> Vec<u8> {
    let mut entry = revision.to_le_bytes().to_vec();
    entry.resize(size.max(8), revision as u8);
    entry
}

fn revision_of(entry: &[u8]) -> Result<u64, String> {
    let bytes: [u8; 8] = entry
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or("short entry")?;
    Ok(u64::from_le_bytes(bytes))
}

fn append(wal: &mut Wal, revisions: std::ops::RangeInclusive<u64>, size: usize) {
    let entries: Vec<_> = revisions.map(|r| (r, entry(r, size))).collect();
    let records: Vec<_> = entries.iter().map(|(r, e)| (*r, &e[..])).collect();
    wal.append(&records).expect("append");
}

fn records_after(dir: &Path, held: u64) -> Result<Vec<super::replay::Record>, ReplayError> {
    replay(dir, held, false, revision_of).map(|replay| replay.records)
}

/// A log of records 1 to 3 (100 bytes each, 108 with the header) with `bytes` written over
/// it at `offset`.
fn three_records_damaged_at(offset: u64, bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), 1).expect("create");
    append(&mut wal, 1..=3, 100);
    let (_, path) = list_segments(dir.path()).expect("list").remove(0);
    let file = fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open");
    file.write_all_at(bytes, offset).expect("damage");
    dir
}

fn replayed(dir: &Path, held: u64) -> Vec<u64> {
    records_after(dir, held)
        .expect("replay")
        .iter()
        .map(|r| {
            assert_eq!(revision_of(&r.entry), Ok(r.revision));
            r.revision
        })
        .collect()
}

#[test]
fn appended_groups_come_back_in_order_above_the_revision_sled_holds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), 1).expect("create");
    append(&mut wal, 1..=3, 100);
    append(&mut wal, 4..=4, 5000);
    wal.append(&[]).expect("an empty group");
    append(&mut wal, 5..=9, 10);
    assert_eq!(replayed(dir.path(), 0), (1..=9).collect::<Vec<_>>());
    // The revision sled holds comes again: sled may hold it without its object.
    assert_eq!(replayed(dir.path(), 6), vec![6, 7, 8, 9]);
    assert_eq!(replayed(dir.path(), 9), vec![9]);
    assert_eq!(replayed(dir.path(), 10), Vec::<u64>::new());
}

#[test]
fn a_full_segment_goes_on_in_the_next_and_covered_segments_are_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), 1).expect("create");
    let size = 1024 * 1024;
    let per_segment = (SEGMENT_BYTES as usize / (size + 8)) as u64;
    let last = per_segment * 2 + 3;
    append(&mut wal, 1..=last, size);
    let segments = list_segments(dir.path()).expect("list");
    assert!(segments.len() >= 3, "{segments:?}");
    assert_eq!(replayed(dir.path(), 0), (1..=last).collect::<Vec<_>>());

    // Only segments whose every record is durable elsewhere go; the newest always stays.
    let second_first = segments[1].0;
    remove_covered(dir.path(), second_first - 2).expect("remove");
    assert_eq!(list_segments(dir.path()).expect("list"), segments);
    remove_covered(dir.path(), second_first - 1).expect("remove");
    assert_eq!(list_segments(dir.path()).expect("list"), segments[1..]);
    remove_covered(dir.path(), last).expect("remove");
    assert_eq!(
        list_segments(dir.path()).expect("list"),
        segments[segments.len() - 1..]
    );
    let newest_first = segments[segments.len() - 1].0;
    assert_eq!(
        replayed(dir.path(), newest_first - 1),
        (newest_first..=last).collect::<Vec<_>>()
    );
}

#[test]
fn a_torn_tail_of_the_newest_segment_ends_the_log() {
    // Record 3 starts at 2 * 108; damage its last byte as a torn write would.
    let dir = three_records_damaged_at(3 * 108 - 1, &[0xff]);
    assert_eq!(replayed(dir.path(), 0), vec![1, 2]);
    let newest = newest_of(dir.path());
    assert_eq!((newest.valid_bytes, newest.torn_bytes), (2 * 108, 108));
}

#[test]
fn a_half_written_last_record_is_a_torn_tail() {
    // Its header is there, the rest of its bytes are still zero.
    let dir = three_records_damaged_at(2 * 108 + 8, &[0; 100]);
    assert_eq!(replayed(dir.path(), 0), vec![1, 2]);
    // Only its header is missing, its bytes are there: nothing after it verifies either.
    let dir = three_records_damaged_at(2 * 108, &[0; 8]);
    assert_eq!(replayed(dir.path(), 0), vec![1, 2]);
    assert_eq!(newest_of(dir.path()).torn_bytes, 108);
}

#[test]
fn a_log_that_ends_cleanly_has_no_torn_tail() {
    let dir = three_records_damaged_at(0, &[]);
    assert_eq!(replayed(dir.path(), 0), vec![1, 2, 3]);
    let newest = newest_of(dir.path());
    assert_eq!((newest.valid_bytes, newest.torn_bytes), (3 * 108, 0));
}

/// Asserts that the replay refuses the log, naming the damaged record's offset.
fn assert_damaged_at(dir: &Path, offset: usize) {
    let err = records_after(dir, 0).expect_err("damage stops the replay");
    assert!(
        matches!(&err, ReplayError::Damaged { offset: found, .. } if *found == offset),
        "{err}"
    );
}

#[test]
fn a_bad_record_with_a_valid_one_after_it_is_damage_in_the_newest_segment() {
    // The first and the middle record, in their payload, in their checksum, in their length.
    for (at, record) in [(100, 0), (108 + 50, 1), (108 + 5, 1), (108 + 1, 1), (0, 0)] {
        let dir = three_records_damaged_at(at, &[0x5a]);
        assert_damaged_at(dir.path(), record * 108);
    }
    // A zeroed length with valid records after it is no end of the log.
    let dir = three_records_damaged_at(108, &[0; 4]);
    assert_damaged_at(dir.path(), 108);
}

#[test]
fn every_segment_is_checked_also_those_sled_holds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), 1).expect("create");
    append(&mut wal, 1..=6, 4 * 1024 * 1024);
    let segments = list_segments(dir.path()).expect("list");
    assert!(segments.len() >= 2, "{segments:?}");
    let file = fs::OpenOptions::new()
        .write(true)
        .open(&segments[0].1)
        .expect("open");
    file.write_all_at(&[0xff], 100).expect("damage");
    // sled holds every record: the damage is found all the same.
    let err = replay(dir.path(), 6, false, revision_of).expect_err("damage");
    assert!(
        matches!(&err, ReplayError::Damaged { offset: 0, .. }),
        "{err}"
    );
}

#[test]
fn a_bad_last_record_of_a_sealed_segment_is_damage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), 1).expect("create");
    append(&mut wal, 1..=3, 100);
    drop(wal);
    // The next run seals the segment at its last record and goes on in a new one.
    let sealed = list_segments(dir.path()).expect("list").remove(0).1;
    fs::OpenOptions::new()
        .write(true)
        .open(&sealed)
        .and_then(|f| f.set_len(3 * 108))
        .expect("seal");
    let mut wal = Wal::create(dir.path(), 4).expect("create");
    append(&mut wal, 4..=4, 100);
    let file = fs::OpenOptions::new()
        .write(true)
        .open(&sealed)
        .expect("open");
    file.write_all_at(&[0xff], 3 * 108 - 1).expect("damage");
    assert_damaged_at(dir.path(), 2 * 108);
}

#[test]
fn discarding_damage_cuts_the_replay_where_revisions_stop_following_on() {
    let dir = three_records_damaged_at(108 + 50, &[0x5a]);
    let replay = replay(dir.path(), 0, true, revision_of).expect("discarded");
    let revisions: Vec<_> = replay.records.iter().map(|r| r.revision).collect();
    assert_eq!(revisions, vec![1]);
    assert!(matches!(
        replay.discarded,
        Some(ReplayError::Damaged { offset: 108, .. })
    ));
    // Damage in records sled holds costs nothing of what the replay needs.
    let replay = super::replay(dir.path(), 2, true, revision_of).expect("discarded");
    let revisions: Vec<_> = replay.records.iter().map(|r| r.revision).collect();
    assert_eq!(revisions, vec![3]);
}

fn newest_of(dir: &Path) -> super::NewestSegment {
    replay(dir, 0, false, revision_of)
        .expect("replay")
        .newest
        .expect("a newest segment")
}

#[test]
fn a_log_that_starts_after_the_revision_sled_holds_is_a_gap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), 5).expect("create");
    append(&mut wal, 5..=6, 10);
    let err = replay(dir.path(), 3, false, revision_of).expect_err("gap");
    assert!(
        matches!(
            err,
            ReplayError::Gap {
                previous: 3,
                found: 5
            }
        ),
        "{err}"
    );
    assert_eq!(replayed(dir.path(), 4), vec![5, 6]);
}

#[test]
fn a_missing_log_directory_replays_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(replayed(&dir.path().join("wal"), 7), Vec::<u64>::new());
}

/// Waits until the log sees a zero-filled segment ready for its next rotation: the thread
/// that writes it has finished, not only renamed the file into place.
fn await_zeroed_segment(wal: &mut Wal) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !wal.next_ready() {
        assert!(Instant::now() < deadline, "no segment was zero-filled");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_log_moves_from_a_sparse_segment_to_a_zero_filled_one_once_it_is_ready() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), 1).expect("create");
    assert!(
        !wal.zeroed,
        "no zero-filled segment is ready at the first start"
    );
    append(&mut wal, 1..=2, 100);
    await_zeroed_segment(&mut wal);
    append(&mut wal, 3..=4, 100);
    assert!(wal.zeroed);
    let firsts: Vec<_> = list_segments(dir.path())
        .expect("list")
        .into_iter()
        .map(|(first, _)| first)
        .collect();
    assert_eq!(firsts, vec![1, 3]);
    assert_eq!(replayed(dir.path(), 0), vec![1, 2, 3, 4]);

    // The next one is prepared once the active segment is half full; a start takes it.
    append(&mut wal, 5..=5, SEGMENT_BYTES as usize / 2);
    await_zeroed_segment(&mut wal);
    drop(wal);
    super::remove_all(dir.path()).expect("remove");
    let wal = Wal::create(dir.path(), 5).expect("create");
    assert!(wal.zeroed);
}

fn history_read(history: &History, after: u64, upto: u64, limit: usize) -> Option<Vec<u64>> {
    let revision = |entry: &[u8]| revision_of(entry).map_err(std::io::Error::other);
    let entries = history.read(after, upto, limit, revision).expect("read");
    entries.map(|entries| {
        entries
            .iter()
            .map(|e| revision_of(e).expect("an entry"))
            .collect()
    })
}

#[test]
fn history_reads_across_segments_within_the_limit_and_the_published_revision() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), 1).expect("create");
    let size = 1024 * 1024;
    append(&mut wal, 1..=40, size);
    let segments = list_segments(dir.path()).expect("list");
    assert!(segments.len() >= 3, "{segments:?}");
    let history = History::new(dir.path());
    assert_eq!(history.oldest_resumable().expect("oldest"), Some(0));

    // A watcher catching up in batches of 7 gets every revision once, across segments.
    let mut after = 0;
    let mut seen = Vec::new();
    while after < 35 {
        let batch = history_read(&history, after, 35, 7).expect("retained");
        assert!(!batch.is_empty() && batch.len() <= 7, "{batch:?}");
        after = *batch.last().expect("non-empty");
        seen.extend(batch);
    }
    assert_eq!(seen, (1..=35).collect::<Vec<_>>());
    assert_eq!(history_read(&history, 35, 35, 7), Some(vec![]));
    assert_eq!(history_read(&history, 20, 22, 100), Some(vec![21, 22]));

    // Once the segment holding a revision is gone, it cannot be read.
    let second_first = segments[1].0;
    remove_covered(dir.path(), second_first - 1).expect("remove");
    assert_eq!(
        history.oldest_resumable().expect("oldest"),
        Some(second_first - 1)
    );
    assert_eq!(history_read(&history, 0, 40, 10), None);
    assert_eq!(
        history_read(&history, second_first - 1, 40, 2),
        Some(vec![second_first, second_first + 1])
    );
}

#[test]
fn history_stops_at_a_record_still_being_written() {
    // Record 3 half-written: its length is there, its bytes are not all.
    let dir = three_records_damaged_at(2 * 108 + 8, &[0; 50]);
    let history = History::new(dir.path());
    assert_eq!(history_read(&history, 0, 10, 10), Some(vec![1, 2]));
}

#[test]
fn a_failed_group_is_undone_in_the_log_also_across_a_rotation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal = Wal::create(dir.path(), 1).expect("create");
    append(&mut wal, 1..=3, 100);
    // Where the log ends before the group, as `append` notes it.
    let before = Position {
        segment: wal.active_first,
        offset: wal.offset,
    };
    // The group goes on in a new segment, and then fails (its sync, say).
    append(&mut wal, 4..=6, 7 * 1024 * 1024);
    assert!(list_segments(dir.path()).expect("list").len() >= 2);
    wal.undo = Some(before);
    wal.finish_undo().expect("undo");
    assert_eq!(list_segments(dir.path()).expect("list").len(), 1);
    assert_eq!(replayed(dir.path(), 0), vec![1, 2, 3]);
    assert_eq!(newest_of(dir.path()).torn_bytes, 0, "nothing of it is left");
    // The next group takes the revisions again, where the log ended.
    append(&mut wal, 4..=4, 100);
    assert_eq!(replayed(dir.path(), 0), vec![1, 2, 3, 4]);
}

#[test]
fn an_open_segment_counts_its_links_and_none_once_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("segment");
    let file = fs::File::create(&path).expect("create");
    assert_eq!(links(&file).expect("statx"), 1);
    fs::hard_link(&path, dir.path().join("another")).expect("link");
    assert_eq!(links(&file).expect("statx"), 2);
    fs::remove_file(&path).expect("remove");
    fs::remove_file(dir.path().join("another")).expect("remove");
    assert_eq!(links(&file).expect("statx"), 0);
}
