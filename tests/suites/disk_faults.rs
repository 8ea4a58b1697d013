//! Disk faults against the real binary: a full disk, a fault that goes away, a removed data
//! directory. Writes fail with a plain reason and change nothing; reads, lists and watches go
//! on from memory; writes work again by themselves once the cause is gone; nothing
//! acknowledged is lost. Sled only; the full disks are small tmpfs mounts (root only: skipped
//! with a message elsewhere).

use std::{
    collections::BTreeMap,
    fs,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use hostendpoint_api::pb;
use hostendpoint_tests::{
    faults::{Tmpfs, assert_acknowledged, fill_disk, health},
    wait_for,
    watching::watch,
    *,
};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

/// How long a fault or its healing may take to show.
const SETTLE: Duration = Duration::from_secs(15);
/// Large enough that a few hundred writes fill a 16 MiB log segment.
const BIG_ANNOTATION: usize = 140 * 1024;

/// An object `name` with an annotation of `size` bytes.
fn mk_sized(name: &str, size: usize) -> pb::HostEndpoint {
    let mut hep = mk_hep(name, "node-1");
    meta_mut(&mut hep)
        .annotations
        .insert("payload".into(), "p".repeat(size));
    hep
}

/// Creates `count` objects named `prefix-N`; returns them as acknowledged.
async fn create_many(
    client: &mut ApiClient,
    prefix: &str,
    count: usize,
) -> BTreeMap<String, pb::HostEndpoint> {
    let mut acked = BTreeMap::new();
    for i in 0..count {
        let name = format!("{prefix}-{i:03}");
        acked.insert(name.clone(), create(client, mk_sized(&name, 200)).await);
    }
    acked
}

/// Creates objects of `size` bytes until one is refused, recording the acknowledged ones;
/// returns the refused name and status.
async fn write_until_refused(
    client: &mut ApiClient,
    acked: &mut BTreeMap<String, pb::HostEndpoint>,
    size: usize,
) -> (String, tonic::Status) {
    let deadline = Instant::now() + Duration::from_secs(120);
    for i in 0.. {
        assert!(Instant::now() < deadline, "no write was refused");
        let name = format!("late-{i:04}");
        let request = pb::CreateHostEndpointRequest {
            host_endpoint: Some(mk_sized(&name, size)),
        };
        match client.create_host_endpoint(request).await {
            Ok(response) => {
                let stored = response.into_inner().host_endpoint.expect("the object");
                acked.insert(name, stored);
            }
            Err(status) => return (name, status),
        }
    }
    unreachable!("the loop only ends by returning")
}

/// Retries creating `name` until it succeeds (the fault healed by itself).
async fn create_once_healed(client: &mut ApiClient, name: &str) -> pb::HostEndpoint {
    wait_for("writes to work again", SETTLE, || {
        let mut client = client.clone();
        async move {
            let request = pb::CreateHostEndpointRequest {
                host_endpoint: Some(mk_sized(name, 200)),
            };
            let response = client.create_host_endpoint(request).await.ok()?;
            response.into_inner().host_endpoint
        }
    })
    .await
}

/// Waits until the server's health is `status`.
async fn wait_for_health(server: &ServerProcess, status: ServingStatus) {
    let channel = server.channel().await;
    wait_for(&format!("health {status:?}"), SETTLE, || {
        let channel = channel.clone();
        async move { (health(channel).await == status as i32).then_some(()) }
    })
    .await;
}

/// Waits until sled, if the fault made it fail (it keeps a failed flush's error), was opened
/// again without a restart.
async fn wait_for_sled_reopened(server: &ServerProcess) {
    wait_for("sled to be reopened", SETTLE, || async {
        let log = server.log_text();
        let failed = log.matches("reopening sled").count();
        (failed > 0 && log.matches("sled is open again").count() >= failed).then_some(())
    })
    .await;
}

/// Asserts that a refused write left nothing, and that reads, lists and a new watch are
/// served from memory with every acknowledged write.
async fn assert_reads_work(
    client: &mut ApiClient,
    acked: &BTreeMap<String, pb::HostEndpoint>,
    refused: &str,
) {
    assert_code(get(client, refused).await, Code::NotFound);
    assert_acknowledged(client, acked).await;
    let mut listed = 0;
    let mut token = String::new();
    loop {
        let page = list(client, "", 20, &token).await;
        listed += page.host_endpoints.len();
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(listed, acked.len());
    let mut watching = watch(client, "", 0).await.expect("a watch opens");
    let (snapshot, _) = watching.expect_snapshot().await;
    assert_eq!(snapshot.len(), acked.len());
}

/// Asserts that a client is told a plain reason, with no detail of the server's disk.
fn assert_plain(status: &tonic::Status) {
    let message = status.message();
    for detail in [
        "os error",
        "Operation not permitted",
        "/",
        "No space left on device",
    ] {
        assert!(!message.contains(detail), "{message:?} leaks {detail:?}");
    }
}

/// A tmpfs of `size_mib` for a server's data directory, in `dir`.
fn small_disk(dir: &tempfile::TempDir, size_mib: u64) -> Option<Tmpfs> {
    if etcd_backend() {
        return None;
    }
    Tmpfs::mount(&dir.path().join("data"), size_mib)
}

#[tokio::test]
async fn a_full_disk_refuses_writes_keeps_reads_and_heals_once_space_is_freed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(_disk) = small_disk(&dir, 40) else {
        return;
    };
    let mut server = ServerProcess::start_in(dir, &[]);
    let mut client = server.client().await;
    let mut acked = create_many(&mut client, "early", 50).await;
    let mut live = watch(&mut client, "", 0).await.expect("a watch opens");
    live.expect_snapshot().await;

    let filler = fill_disk(&server.data_dir());
    let (refused, status) = write_until_refused(&mut client, &mut acked, 4096).await;
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status
            .message()
            .contains("no space left on the data directory's disk")
    );
    assert_plain(&status);
    assert_reads_work(&mut client, &acked, &refused).await;
    wait_for_health(&server, ServingStatus::NotServing).await;
    // sled's own flush meets the full disk too.
    wait_for("a checkpoint to fail", SETTLE, || async {
        let log = server.log_text();
        log.lines()
            .any(|l| l.contains("\"what\":\"checkpoint\"") && l.contains("failed"))
            .then_some(())
    })
    .await;

    fs::remove_file(filler).expect("space is freed");
    let healed = create_once_healed(&mut client, "healed").await;
    wait_for_health(&server, ServingStatus::Serving).await;
    acked.insert("healed".into(), healed.clone());
    wait_for_sled_reopened(&server).await;
    // The open watch saw every acknowledged write and nothing of the refused ones.
    let events = live
        .object_events_until(meta(&healed).resource_version)
        .await;
    let seen: Vec<_> = events
        .iter()
        .filter_map(|e| e.host_endpoint.as_ref())
        .map(|hep| meta(hep).name.clone())
        .collect();
    assert!(!seen.contains(&refused), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("healed"));

    server.stop_cleanly().await;
    server.start_again();
    let mut client = server.client().await;
    assert_acknowledged(&mut client, &acked).await;
    assert_code(get(&mut client, &refused).await, Code::NotFound);
}

/// The files a failed start must not leave behind.
fn leftovers(data_dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for dir in [data_dir.to_owned(), data_dir.join("wal")] {
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".generating") || name == "zeroed.tmp" {
                found.push(name);
            }
        }
    }
    found
}

#[tokio::test]
async fn a_start_on_a_full_disk_fails_and_leaves_nothing_that_stops_the_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(_disk) = small_disk(&dir, 40) else {
        return;
    };
    let mut server = ServerProcess::start_in(dir, &[]);
    let mut client = server.client().await;
    let acked = create_many(&mut client, "early", 100).await;
    server.stop_cleanly().await;

    let filler = fill_disk(&server.data_dir());
    for _ in 0..3 {
        let output = run_to_exit(&server.data_dir(), &[]).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "a full disk stops the start:\n{stderr}"
        );
        assert!(
            stderr.contains("No space left on device"),
            "says why:\n{stderr}"
        );
        assert_eq!(leftovers(&server.data_dir()), Vec::<String>::new());
    }
    fs::remove_file(filler).expect("space is freed");
    server.start_again();
    let mut client = server.client().await;
    assert_acknowledged(&mut client, &acked).await;
}

#[tokio::test]
async fn an_8_mib_disk_takes_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(_disk) = small_disk(&dir, 8) else {
        return;
    };
    let mut server = ServerProcess::start_in(dir, &[]);
    let mut client = server.client().await;
    let acked = create_many(&mut client, "small", 100).await;
    assert_eq!(leftovers(&server.data_dir()), Vec::<String>::new());
    wait_for_health(&server, ServingStatus::Serving).await;
    server.stop_cleanly().await;
    server.start_again();
    let mut client = server.client().await;
    assert_acknowledged(&mut client, &acked).await;
}

/// A fault made to happen; ended when dropped, also when the test fails.
struct Injected {
    restore: Box<dyn FnMut() -> bool>,
    ended: bool,
}

impl Injected {
    /// Ends the fault; `false` when that failed.
    fn end(&mut self) -> bool {
        self.ended = true;
        (self.restore)()
    }
}

impl Drop for Injected {
    fn drop(&mut self) {
        if !self.ended {
            (self.restore)();
        }
    }
}

/// Starts a server, makes its writes fail with `inject` (`None`: not possible here, skipped
/// with a message), and checks that a refused write is UNAVAILABLE with a plain reason and
/// changes nothing, that reads go on, and that writes work again by themselves once the
/// fault ends, with every acknowledged write kept across a crash.
async fn a_write_fault_heals(what: &str, inject: impl FnOnce(&ServerProcess) -> Option<Injected>) {
    if etcd_backend() {
        return;
    }
    let mut server = ServerProcess::start();
    let mut client = server.client().await;
    let mut acked = create_many(&mut client, "early", 20).await;
    let Some(mut fault) = inject(&server) else {
        eprintln!("SKIPPED: {what} cannot be made to happen here");
        return;
    };
    // The next segment cannot be started: big writes reach it soon.
    let (refused, status) = write_until_refused(&mut client, &mut acked, BIG_ANNOTATION).await;
    assert_eq!(status.code(), Code::Unavailable, "{what}: {status:?}");
    assert_plain(&status);
    assert_reads_work(&mut client, &acked, &refused).await;
    assert!(fault.end(), "{what}: the fault ends");

    let healed = create_once_healed(&mut client, "healed").await;
    acked.insert("healed".into(), healed);
    wait_for_health(&server, ServingStatus::Serving).await;
    // The log holds every write: a restart after a SIGKILL finds them all. (sled may not have
    // been reopened yet, see the README.)
    server.kill().await;
    server.start_again();
    let mut client = server.client().await;
    assert_acknowledged(&mut client, &acked).await;
    assert_code(get(&mut client, &refused).await, Code::NotFound);
}

/// Runs a command; whether it succeeded.
fn run(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .status()
        .is_ok_and(|status| status.success())
}

#[tokio::test]
async fn a_log_directory_that_cannot_be_written_heals_without_a_restart() {
    // Root ignores permission bits; an immutable directory refuses new files even to root.
    a_write_fault_heals("an immutable log directory", |server| {
        let wal = server.data_dir().join("wal").display().to_string();
        run("chattr", &["+i", &wal]).then(|| Injected {
            restore: Box::new(move || run("chattr", &["-i", &wal])),
            ended: false,
        })
    })
    .await;
}

#[tokio::test]
async fn running_out_of_file_descriptors_heals_without_a_restart() {
    a_write_fault_heals("a file descriptor limit", |server| {
        let pid = server.pid().to_string();
        let soft = Command::new("prlimit")
            .args([
                "--pid",
                &pid,
                "--nofile",
                "--output",
                "SOFT",
                "--noheadings",
            ])
            .output()
            .ok()?;
        let soft = String::from_utf8_lossy(&soft.stdout).trim().to_owned();
        // No new descriptor at all: the lowest free one is above stdio, and descriptors
        // closed meanwhile must not make room either. Those open now keep working.
        run("prlimit", &["--pid", &pid, "--nofile=3:"]).then(|| Injected {
            restore: Box::new(move || {
                run("prlimit", &["--pid", &pid, &format!("--nofile={soft}:")])
            }),
            ended: false,
        })
    })
    .await;
}

#[tokio::test]
async fn a_removed_data_directory_stops_acknowledgements() {
    if etcd_backend() {
        return;
    }
    let server = ServerProcess::start();
    let mut client = server.client().await;
    let acked = create_many(&mut client, "early", 20).await;
    fs::remove_dir_all(server.data_dir()).expect("the data directory is removed");

    let request = pb::CreateHostEndpointRequest {
        host_endpoint: Some(mk_sized("after-removal", 200)),
    };
    let status = client
        .create_host_endpoint(request)
        .await
        .expect_err("a write to a removed data directory is not acknowledged");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("removed"), "{status:?}");
    assert_plain(&status);
    assert_reads_work(&mut client, &acked, "after-removal").await;
    wait_for_health(&server, ServingStatus::NotServing).await;
}
