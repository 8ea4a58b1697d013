//! A damaged write-ahead log is loud: start-up refuses it naming the segment and the offset,
//! and changes nothing; only an incomplete last record is cut, with a warning; an explicit
//! flag starts anyway, under a new store_uid. Sled only: etcd keeps no log of ours.

use std::{
    collections::BTreeMap,
    fs,
    os::unix::fs::FileExt as _,
    path::{Path, PathBuf},
};

use hostendpoint_api::pb;
use hostendpoint_tests::{faults::assert_acknowledged, watching::watch, *};

/// The writes before the fault.
const WRITES: usize = 400;
/// The annotation that makes 130 writes fill more than one 16 MiB segment.
const BIG_ANNOTATION: usize = 140 * 1024;

/// Creates `count` objects, one by one, with an annotation of `size` bytes; returns them as
/// acknowledged.
async fn create_many(
    client: &mut ApiClient,
    count: usize,
    size: usize,
) -> BTreeMap<String, pb::HostEndpoint> {
    let mut acked = BTreeMap::new();
    for i in 0..count {
        let name = format!("hep-{i:04}");
        let mut hep = mk_hep(&name, "node-1");
        meta_mut(&mut hep)
            .annotations
            .insert("payload".into(), "x".repeat(size));
        acked.insert(name, create(client, hep).await);
    }
    acked
}

/// The log's segments, oldest first.
fn segments(data_dir: &Path) -> Vec<PathBuf> {
    let mut segments: Vec<_> = fs::read_dir(data_dir.join("wal"))
        .expect("the log exists")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
        .collect();
    segments.sort();
    segments
}

/// Where each record of a segment starts, and how long its change is.
fn records(segment: &Path) -> Vec<(u64, u64)> {
    let bytes = fs::read(segment).expect("the segment is readable");
    let mut records = Vec::new();
    let mut offset = 0usize;
    while let Some(header) = bytes.get(offset..offset + 8) {
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        if len == 0 {
            break;
        }
        records.push((offset as u64, len as u64));
        offset += 8 + len;
    }
    records
}

/// Flips a byte of `segment` at `offset`.
fn flip(segment: &Path, offset: u64) {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(segment)
        .expect("open");
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, offset).expect("read");
    file.write_all_at(&[byte[0] ^ 0x10], offset).expect("flip");
    file.sync_all().expect("sync");
}

/// Every file of the data directory with its bytes.
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(dir).expect("readable") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            files.extend(contents(&path));
        } else {
            files.insert(path.clone(), fs::read(&path).expect("readable"));
        }
    }
    files
}

/// Asserts that start-up refuses the data directory, names the damage and the way out, and
/// changes nothing in the log.
async fn assert_refused(server: &ServerProcess, segment: &Path, offset: u64) {
    let wal = server.data_dir().join("wal");
    let before = contents(&wal);
    let output = run_to_exit(&server.data_dir(), &[]).await;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "the start must fail:\n{stderr}");
    let name = segment.file_name().expect("a name").to_string_lossy();
    assert!(stderr.contains(&*name), "names the segment:\n{stderr}");
    assert!(
        stderr.contains(&format!("byte {offset}")),
        "names the offset:\n{stderr}"
    );
    assert!(
        stderr.contains("--discard-damaged-wal"),
        "says what to do:\n{stderr}"
    );
    assert_eq!(
        contents(&wal),
        before,
        "a refused start changes nothing in the log"
    );
}

/// The revision of a segment's first record: its name.
fn first_revision(segment: &Path) -> u64 {
    segment
        .file_stem()
        .and_then(|stem| stem.to_str())
        .and_then(|digits| digits.parse().ok())
        .expect("a segment is named after its first revision")
}

/// The acknowledged writes below revision `below`.
fn below(
    acked: &BTreeMap<String, pb::HostEndpoint>,
    below: u64,
) -> BTreeMap<String, pb::HostEndpoint> {
    acked
        .iter()
        .filter(|(_, hep)| meta(hep).resource_version < below)
        .map(|(name, hep)| (name.clone(), hep.clone()))
        .collect()
}

/// The store_uid a fresh watch reports.
async fn store_uid(client: &mut ApiClient) -> String {
    let watch = watch(client, "", 0).await.expect("watch opens");
    watch.store_uid().expect("a store_uid").to_owned()
}

/// Starts with `--discard-damaged-wal`; expects a new store_uid, every write before revision
/// `damaged` as acknowledged, and the cut in the log.
async fn start_discarding(
    server: &mut ServerProcess,
    acked: &BTreeMap<String, pb::HostEndpoint>,
    uid: &str,
    damaged: u64,
) {
    server.start_again_with(&["--discard-damaged-wal"]);
    let mut client = server.client().await;
    assert_ne!(
        store_uid(&mut client).await,
        uid,
        "a new store_uid: agents relist"
    );
    assert_acknowledged(&mut client, &below(acked, damaged)).await;
    assert!(
        server.log_text().contains("--discard-damaged-wal"),
        "the cut is logged"
    );
}

#[tokio::test]
async fn a_damaged_record_in_the_newest_segment_stops_the_start() {
    if etcd_backend() {
        return;
    }
    // The first and a middle record after a SIGKILL; the last one after a clean stop, when
    // sled holds it (nothing valid follows it, but it was acknowledged).
    for (position, clean_stop) in [("first", false), ("middle", false), ("last", true)] {
        let mut server = ServerProcess::start();
        let mut client = server.client().await;
        let acked = create_many(&mut client, WRITES, 100).await;
        let uid = store_uid(&mut client).await;
        if clean_stop {
            server.stop_cleanly().await;
        } else {
            server.kill().await;
        }
        let segment = segments(&server.data_dir()).pop().expect("a segment");
        let records = records(&segment);
        let index = match position {
            "first" => 0,
            "middle" => records.len() / 2,
            _ => records.len() - 1,
        };
        let (offset, len) = records[index];
        flip(&segment, offset + 8 + len / 2);
        assert_refused(&server, &segment, offset).await;
        let damaged = first_revision(&segment) + u64::try_from(index).expect("fits");
        start_discarding(&mut server, &acked, &uid, damaged).await;
    }
}

#[tokio::test]
async fn a_damaged_record_in_an_older_segment_stops_the_start() {
    if etcd_backend() {
        return;
    }
    let mut server = ServerProcess::start();
    let mut client = server.client().await;
    // More than one 16 MiB segment; sled holds every record after the clean stop.
    let acked = create_many(&mut client, 130, BIG_ANNOTATION).await;
    let uid = store_uid(&mut client).await;
    let status = server.terminate().await;
    assert!(status.success(), "{status}\n{}", server.log_text());
    let segments = segments(&server.data_dir());
    assert!(segments.len() >= 2, "{segments:?}");
    let oldest = &segments[0];
    let records = records(oldest);
    let index = records.len() / 2;
    let (offset, len) = records[index];
    flip(oldest, offset + 8 + len / 2);
    assert_refused(&server, oldest, offset).await;
    let damaged = first_revision(oldest) + u64::try_from(index).expect("fits");
    start_discarding(&mut server, &acked, &uid, damaged).await;
    // sled held every write: none is lost, only the history is.
    let mut client = server.client().await;
    assert_acknowledged(&mut client, &acked).await;
}

#[tokio::test]
async fn a_torn_last_record_is_cut_with_a_warning_and_nothing_acknowledged_is_lost() {
    if etcd_backend() {
        return;
    }
    let mut server = ServerProcess::start();
    let mut client = server.client().await;
    let acked = create_many(&mut client, WRITES, 100).await;
    let uid = store_uid(&mut client).await;
    server.kill().await;
    let segment = segments(&server.data_dir()).pop().expect("a segment");
    let (offset, len) = *records(&segment).last().expect("records");
    // A record whose header and first bytes reached the disk, the rest not.
    let end = offset + 8 + len;
    let file = fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .expect("open");
    let mut torn = 500u32.to_le_bytes().to_vec();
    torn.extend_from_slice(&[0xab; 4 + 100]);
    file.write_all_at(&torn, end).expect("tear");
    server.start_again();
    let mut client = server.client().await;
    assert_eq!(store_uid(&mut client).await, uid, "the history goes on");
    assert_acknowledged(&mut client, &acked).await;
    let log = server.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("cutting an incomplete last record") && l.contains("\"bytes\":108")),
        "the cut is logged with its size:\n{log}"
    );
}

#[tokio::test]
async fn a_missing_log_directory_stops_the_start() {
    if etcd_backend() {
        return;
    }
    let mut server = ServerProcess::start();
    let mut client = server.client().await;
    create_many(&mut client, 5, 0).await;
    let uid = store_uid(&mut client).await;
    // SIGKILL: the writes may be in the log only.
    server.kill().await;
    std::fs::remove_dir_all(server.data_dir().join("wal")).expect("the log is removed");
    let output = run_to_exit(&server.data_dir(), &[]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the start must fail:\n{stderr}");
    assert!(
        stderr.contains("the write-ahead log directory is missing"),
        "says why:\n{stderr}"
    );
    server.start_again_with(&["--discard-damaged-wal"]);
    let mut client = server.client().await;
    assert_ne!(
        store_uid(&mut client).await,
        uid,
        "a new store_uid: agents relist"
    );
}
