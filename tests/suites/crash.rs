//! Crash safety: SIGKILL in the middle of concurrent writes loses no acknowledged write and never
//! moves the revision backwards; a data directory the server cannot use stops it at start-up
//! with a message and a non-zero exit.

use std::{
    collections::{BTreeMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use hostendpoint_api::pb;
use hostendpoint_tests::{
    watching::{Rebuilt, watch as open_watch},
    *,
};
use tokio::sync::watch;
use tonic::Code;

/// Concurrent writers, each with its own connection and its own objects.
const WRITERS: usize = 16;
/// The objects each writer creates, updates and deletes.
const OBJECTS_PER_WRITER: usize = 4;
/// For each round, how many writes are acknowledged before the SIGKILL.
const ACKS_BEFORE_KILL: [usize; 5] = [150, 400, 50, 600, 250];
/// Upper bound on reaching a round's acknowledgements, and on the writers noticing the kill.
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);
/// The size of the annotation some objects carry, so that sled writes some values as blob
/// files of their own (values over a quarter of its 512 KiB segments).
const BIG_ANNOTATION: usize = 140 * 1024;

/// What the test knows of one object.
#[derive(Debug)]
struct Tracked {
    name: String,
    /// The state of the last acknowledged write, or the state verified after a restart.
    acked: Option<pb::HostEndpoint>,
    /// The revision of that write (or of the listing that verified it).
    acked_revision: u64,
    /// The write that was sent but never answered, because the server died.
    in_flight: Option<InFlight>,
}

#[derive(Clone, Debug)]
struct InFlight {
    /// The content a create or update would store; `None` for a delete.
    put: Option<pb::HostEndpoint>,
    /// Whether the request was sent before the kill (else it can only have failed).
    sent_before_kill: bool,
}

/// What a writer hands back once the server is gone.
#[derive(Debug)]
struct WriterReport {
    objects: Vec<Tracked>,
    /// The revision of every acknowledged write.
    revisions: Vec<u64>,
    /// The error that ended it.
    error: tonic::Status,
    /// Whether that error came before the kill (a real failure).
    error_before_kill: bool,
}

/// A tiny deterministic PRNG (xorshift64), so runs are reproducible per writer and round.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % n as u64).expect("below n")
    }
}

/// Labels, annotations and spec: what a write stores besides the server-set metadata.
fn same_content(a: &pb::HostEndpoint, b: &pb::HostEndpoint) -> bool {
    meta(a).name == meta(b).name
        && meta(a).labels == meta(b).labels
        && meta(a).annotations == meta(b).annotations
        && a.spec == b.spec
}

/// The content of the `seq`th write of `writer` to `name`.
fn content(name: &str, writer: usize, round: usize, seq: u64, big: bool) -> pb::HostEndpoint {
    let mut hep = mk_hep(name, &format!("node-{}", writer % 4));
    let m = meta_mut(&mut hep);
    m.labels.insert("writer".into(), writer.to_string());
    m.labels.insert("round".into(), round.to_string());
    m.labels.insert("seq".into(), seq.to_string());
    if big && seq.is_multiple_of(2) {
        m.annotations.insert(
            "payload".into(),
            format!("{seq:08x}").repeat(BIG_ANNOTATION / 8),
        );
    }
    let s = spec_mut(&mut hep);
    s.interface_name = format!("eth{}", seq % 10);
    s.expected_ips = vec![format!("10.{}.{}.{}", writer, seq % 250, 1 + seq % 200)];
    hep
}

/// Creates, updates and deletes `objects` in a loop until a call fails, checking every answer
/// and recording every acknowledged write.
async fn writer(
    server: String,
    id: usize,
    round: usize,
    mut objects: Vec<Tracked>,
    acks: Arc<watch::Sender<usize>>,
    killed: Arc<AtomicBool>,
) -> WriterReport {
    let mut client = ApiClient::connect(server)
        .await
        .expect("the server accepts connections");
    let mut rng = Rng::new((round * WRITERS + id) as u64 + 1);
    let mut revisions = Vec::new();
    for seq in 1.. {
        let obj = &mut objects[rng.below(OBJECTS_PER_WRITER)];
        let big = id < 2 && obj.name.ends_with("-o0");
        let dice = rng.below(10);
        let sent_before_kill = !killed.load(Ordering::SeqCst);
        let result = match &obj.acked {
            None => {
                let input = content(&obj.name, id, round, seq, big);
                obj.in_flight = Some(InFlight {
                    put: Some(input.clone()),
                    sent_before_kill,
                });
                let answer = if dice < 5 {
                    client
                        .create_host_endpoint(pb::CreateHostEndpointRequest {
                            host_endpoint: Some(input.clone()),
                        })
                        .await
                        .map(|r| r.into_inner().host_endpoint)
                } else {
                    client
                        .update_host_endpoint(pb::UpdateHostEndpointRequest {
                            host_endpoint: Some(input.clone()),
                            allow_missing: true,
                        })
                        .await
                        .map(|r| r.into_inner().host_endpoint)
                };
                answer.map(|stored| {
                    let stored = stored.expect("a write returns the object");
                    let m = meta(&stored);
                    assert!(same_content(&stored, &input), "{stored:?} vs {input:?}");
                    assert!(
                        m.resource_version > obj.acked_revision,
                        "{}: created at {} after {}",
                        obj.name,
                        m.resource_version,
                        obj.acked_revision
                    );
                    assert!(!m.uid.is_empty() && m.creation_timestamp.is_some());
                    (m.resource_version, Some(stored))
                })
            }
            Some(current) if dice < 8 => {
                let mut input = content(&obj.name, id, round, seq, big);
                // Half of the updates carry the optimistic-concurrency precondition.
                if dice.is_multiple_of(2) {
                    meta_mut(&mut input).resource_version = meta(current).resource_version;
                }
                obj.in_flight = Some(InFlight {
                    put: Some(input.clone()),
                    sent_before_kill,
                });
                let answer = client
                    .update_host_endpoint(pb::UpdateHostEndpointRequest {
                        host_endpoint: Some(input.clone()),
                        allow_missing: false,
                    })
                    .await;
                answer.map(|r| {
                    let stored = r.into_inner().host_endpoint.expect("the object");
                    let (m, c) = (meta(&stored), meta(current));
                    assert!(same_content(&stored, &input), "{stored:?} vs {input:?}");
                    assert!(m.resource_version > c.resource_version, "{stored:?}");
                    assert_eq!(
                        (&m.uid, m.creation_timestamp),
                        (&c.uid, c.creation_timestamp)
                    );
                    (m.resource_version, Some(stored))
                })
            }
            Some(current) => {
                let c = meta(current);
                let (resource_version, uid) = if dice == 8 {
                    (c.resource_version, c.uid.clone())
                } else {
                    (0, String::new())
                };
                obj.in_flight = Some(InFlight {
                    put: None,
                    sent_before_kill,
                });
                let answer = client
                    .delete_host_endpoint(pb::DeleteHostEndpointRequest {
                        name: obj.name.clone(),
                        resource_version,
                        uid,
                    })
                    .await;
                answer.map(|r| {
                    let last = r.into_inner().host_endpoint.expect("the last state");
                    assert!(same_content(&last, current), "{last:?} vs {current:?}");
                    assert_eq!(meta(&last).uid, c.uid);
                    assert!(meta(&last).resource_version > c.resource_version);
                    (meta(&last).resource_version, None)
                })
            }
        };
        match result {
            Ok((revision, state)) => {
                obj.acked = state;
                obj.acked_revision = revision;
                obj.in_flight = None;
                revisions.push(revision);
                acks.send_modify(|n| *n += 1);
            }
            Err(error) => {
                return WriterReport {
                    objects,
                    revisions,
                    error_before_kill: !killed.load(Ordering::SeqCst),
                    error,
                };
            }
        }
    }
    unreachable!("the loop ends with the server")
}

/// Every object, from all pages of one listing, and the listing's revision and store uid.
async fn list_all(client: &mut ApiClient) -> (BTreeMap<String, pb::HostEndpoint>, u64, String) {
    let mut objects = BTreeMap::new();
    let mut token = String::new();
    let mut revision = None;
    loop {
        let page = client
            .list_host_endpoints(pb::ListHostEndpointsRequest {
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("list succeeds")
            .into_inner();
        assert_eq!(
            *revision.get_or_insert(page.resource_version),
            page.resource_version
        );
        for hep in page.host_endpoints {
            objects.insert(meta(&hep).name.clone(), hep);
        }
        if page.next_page_token.is_empty() {
            return (objects, page.resource_version, page.store_uid);
        }
        token = page.next_page_token;
    }
}

/// Checks one object after a restart against what was acknowledged; returns what is wrong.
fn check_object(obj: &Tracked, stored: Option<&pb::HostEndpoint>) -> Option<String> {
    let pending = obj.in_flight.as_ref().map(|f| &f.put);
    let ok = match (&obj.acked, pending, stored) {
        // Nothing written since the acknowledgement: exactly that state.
        (Some(acked), None, Some(s)) => s == acked,
        (None, None, None) => true,
        // An unanswered update may or may not have landed.
        (Some(acked), Some(Some(put)), Some(s)) => {
            s == acked
                || (same_content(s, put)
                    && meta(s).resource_version > meta(acked).resource_version
                    && meta(s).uid == meta(acked).uid
                    && meta(s).creation_timestamp == meta(acked).creation_timestamp)
        }
        // An unanswered delete may or may not have landed.
        (Some(acked), Some(None), Some(s)) => s == acked,
        (Some(_), Some(None), None) => true,
        // An unanswered create may or may not have landed.
        (None, Some(Some(put)), Some(s)) => {
            same_content(s, put) && meta(s).resource_version > obj.acked_revision
        }
        (None, Some(_), None) => true,
        // An acknowledged object is gone, or a deleted one is back.
        (Some(_), None | Some(Some(_)), None) | (None, None | Some(None), Some(_)) => false,
    };
    (!ok).then(|| {
        let in_flight = obj.in_flight.as_ref().map(|f| match &f.put {
            Some(put) => format!("put {}", brief(Some(put))),
            None => "delete".to_owned(),
        });
        format!(
            "{}: acknowledged {} at revision {}, then in flight {in_flight:?}; stored after the \
             restart: {}",
            obj.name,
            brief(obj.acked.as_ref()),
            obj.acked_revision,
            brief(stored)
        )
    })
}

/// An object for a failure message, with big annotations shortened to their size.
fn brief(hep: Option<&pb::HostEndpoint>) -> String {
    let Some(hep) = hep else {
        return "nothing".to_owned();
    };
    let mut hep = hep.clone();
    for value in meta_mut(&mut hep).annotations.values_mut() {
        if value.len() > 64 {
            *value = format!("<{} bytes>", value.len());
        }
    }
    format!("{hep:?}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_concurrent_writes_loses_no_acknowledged_write() {
    let started = Instant::now();
    let mut server = ServerProcess::start();
    let mut client = server.client().await;
    let (mut base_state, mut base_revision, store_uid) = list_all(&mut client).await;
    let mut objects: Vec<Vec<Tracked>> = (0..WRITERS)
        .map(|w| {
            (0..OBJECTS_PER_WRITER)
                .map(|o| Tracked {
                    name: format!("w{w:02}-o{o}"),
                    acked: None,
                    acked_revision: 0,
                    in_flight: None,
                })
                .collect()
        })
        .collect();
    let mut all_revisions = HashSet::new();
    let mut sent_before_kill = 0;

    for (round, target) in ACKS_BEFORE_KILL.into_iter().enumerate() {
        let (acks, mut acked) = watch::channel(0);
        let acks = Arc::new(acks);
        let killed = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = objects
            .drain(..)
            .enumerate()
            .map(|(id, objs)| {
                tokio::spawn(writer(
                    server.endpoint(),
                    id,
                    round,
                    objs,
                    Arc::clone(&acks),
                    Arc::clone(&killed),
                ))
            })
            .collect();
        let reached = tokio::time::timeout(ROUND_TIMEOUT, acked.wait_for(|n| *n >= target))
            .await
            .map(|r| r.map(|_| ()));
        assert!(
            matches!(reached, Ok(Ok(()))),
            "round {round}: only {} of {target} writes acknowledged in {ROUND_TIMEOUT:?}\n{}",
            *acked.borrow(),
            server.log_text()
        );
        killed.store(true, Ordering::SeqCst);
        server.kill().await;

        let mut reports = Vec::new();
        for handle in writers {
            let report = tokio::time::timeout(ROUND_TIMEOUT, handle)
                .await
                .expect("a writer notices the kill")
                .expect("a writer does not panic");
            assert!(
                !report.error_before_kill,
                "round {round}: a write failed while the server was up: {:?}",
                report.error
            );
            assert!(
                !matches!(
                    report.error.code(),
                    Code::InvalidArgument
                        | Code::NotFound
                        | Code::AlreadyExists
                        | Code::Aborted
                        | Code::FailedPrecondition
                ),
                "round {round}: the server answered a write with {:?}",
                report.error
            );
            reports.push(report);
        }

        server.start_again();
        let mut client = server.client().await;
        let (stored, revision, uid) = list_all(&mut client).await;
        assert_eq!(uid, store_uid, "the store uid survives a crash");

        let mut max_acked = base_revision;
        let mut problems = Vec::new();
        let (mut landed, mut in_flight) = (0, 0);
        for report in &reports {
            for &r in &report.revisions {
                assert!(
                    r > base_revision,
                    "round {round}: revision {r} acknowledged, but the store was already at \
                     {base_revision} before the round"
                );
                assert!(
                    all_revisions.insert(r),
                    "round {round}: revision {r} acknowledged twice"
                );
                max_acked = max_acked.max(r);
            }
            for obj in &report.objects {
                let now = stored.get(&obj.name);
                problems.extend(check_object(obj, now));
                if let Some(f) = &obj.in_flight {
                    sent_before_kill += usize::from(f.sent_before_kill);
                    in_flight += usize::from(f.sent_before_kill);
                    let was = obj.acked.as_ref();
                    landed += usize::from(f.sent_before_kill && now != was);
                }
            }
        }
        assert!(
            problems.is_empty(),
            "round {round}: acknowledged writes lost after SIGKILL (store at revision \
             {revision}, highest acknowledged {max_acked}):\n{}\n\nserver log after the restart:\n{}",
            problems.join("\n"),
            server.log_text()
        );
        assert!(
            revision >= max_acked,
            "round {round}: the store is at revision {revision} after the restart, but revision \
             {max_acked} was acknowledged"
        );
        let known: HashSet<_> = reports
            .iter()
            .flat_map(|r| r.objects.iter().map(|o| o.name.as_str()))
            .collect();
        for (name, hep) in &stored {
            assert!(known.contains(name.as_str()), "unknown object {name}");
            assert!(meta(hep).resource_version <= revision, "{hep:?}");
        }
        resume_across_the_crash(
            &mut client,
            round,
            &base_state,
            base_revision,
            &stored,
            revision,
        )
        .await;
        eprintln!(
            "round {round}: {} writes acknowledged, highest revision {max_acked}; {in_flight} in \
             flight at the kill, {landed} of them landed; store at revision {revision} after \
             the restart ({:?} so far)",
            reports.iter().map(|r| r.revisions.len()).sum::<usize>(),
            started.elapsed()
        );

        // The verified state is the starting point of the next round.
        objects = reports
            .into_iter()
            .map(|report| {
                report
                    .objects
                    .into_iter()
                    .map(|obj| {
                        let now = stored.get(&obj.name).cloned();
                        Tracked {
                            acked_revision: now
                                .as_ref()
                                .map_or(revision, |h| meta(h).resource_version),
                            acked: now,
                            in_flight: None,
                            name: obj.name,
                        }
                    })
                    .collect()
            })
            .collect();
        base_revision = revision;
        base_state = stored;
    }
    assert!(
        sent_before_kill > 0,
        "no write was in flight at any kill: the test did not test a crash mid-write"
    );

    // The revision continues from the recovered one.
    let mut client = server.client().await;
    let next = client
        .create_host_endpoint(pb::CreateHostEndpointRequest {
            host_endpoint: Some(mk_hep("after-the-crashes", "n1")),
        })
        .await
        .expect("the store takes writes after the crashes")
        .into_inner()
        .host_endpoint
        .expect("the object");
    assert_eq!(meta(&next).resource_version, base_revision + 1);
}

/// A watch resumed after the last round's revision sees every revision since, once and in
/// order, and they turn the last round's state into the one listed now: the history survived
/// the crash with no hole.
async fn resume_across_the_crash(
    client: &mut ApiClient,
    round: usize,
    base_state: &BTreeMap<String, pb::HostEndpoint>,
    base_revision: u64,
    stored: &BTreeMap<String, pb::HostEndpoint>,
    revision: u64,
) {
    // Revision 0 asks for a snapshot, not a resume; the later rounds resume.
    if base_revision == 0 || revision == base_revision {
        return;
    }
    let mut resumed = open_watch(client, "", base_revision)
        .await
        .unwrap_or_else(|status| panic!("round {round}: resume after {base_revision}: {status:?}"));
    let events = resumed.object_events_until(revision).await;
    let revisions: Vec<_> = events.iter().map(|e| e.resource_version).collect();
    assert_eq!(
        revisions,
        (base_revision + 1..=revision).collect::<Vec<_>>(),
        "round {round}: every revision once, in order"
    );
    let mut rebuilt = Rebuilt {
        objects: base_state.clone(),
        revision: base_revision,
    };
    for event in &events {
        rebuilt.apply(event);
    }
    assert!(
        rebuilt.objects == *stored,
        "round {round}: the resumed events do not lead to the listed state"
    );
}

/// The message and status of a server that must refuse `data_dir`.
async fn refused_start(data_dir: &std::path::Path) -> String {
    let output = run_to_exit(data_dir, &[]).await;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "the server must refuse {}: {}\n{stderr}",
        data_dir.display(),
        output.status
    );
    stderr
}

#[tokio::test]
async fn unknown_on_disk_format_version_stops_the_start() {
    let mut server = ServerProcess::start();
    let mut client = server.client().await;
    client
        .create_host_endpoint(pb::CreateHostEndpointRequest {
            host_endpoint: Some(mk_sample()),
        })
        .await
        .expect("create");
    let status = server.terminate().await;
    assert!(status.success(), "{status}");
    let dir = server.data_dir();
    {
        let db = sled::open(&dir).expect("the stopped server's store opens");
        let format = db.get(b"meta/format").expect("read").expect("a format key");
        assert_eq!(&*format, 3u32.to_be_bytes(), "the store is at format 3");
        db.insert(b"meta/format", &7u32.to_be_bytes())
            .expect("write");
        db.flush().expect("flush");
    }

    let stderr = refused_start(&dir).await;
    assert!(
        stderr.contains("format version 7") && stderr.contains(&dir.display().to_string()),
        "the message names the version and the directory:\n{stderr}"
    );
}

#[tokio::test]
async fn a_store_of_format_1_is_upgraded_in_place_with_its_objects() {
    let mut server = ServerProcess::start();
    let mut client = server.client().await;
    let created = client
        .create_host_endpoint(pb::CreateHostEndpointRequest {
            host_endpoint: Some(mk_sample()),
        })
        .await
        .expect("create")
        .into_inner()
        .host_endpoint
        .expect("the stored object");
    server.stop_cleanly().await;
    let dir = server.data_dir();
    {
        // Format 1 is format 2 without the write-ahead log.
        let db = sled::open(&dir).expect("the stopped server's store opens");
        db.insert(b"meta/format", &1u32.to_be_bytes())
            .expect("write");
        db.flush().expect("flush");
    }
    std::fs::remove_dir_all(dir.join("wal")).expect("remove the log");

    server.restart().await;
    let mut client = server.client().await;
    let got = client
        .get_host_endpoint(pb::GetHostEndpointRequest {
            name: meta(&created).name.clone(),
        })
        .await
        .expect("get after the upgrade")
        .into_inner()
        .host_endpoint;
    assert_eq!(got, Some(created));
    server.stop_cleanly().await;
    let db = sled::open(&dir).expect("the store opens");
    let format = db.get(b"meta/format").expect("read").expect("a format key");
    assert_eq!(
        &*format,
        3u32.to_be_bytes(),
        "the store was upgraded to format 3"
    );
}

#[tokio::test]
async fn a_data_dir_that_is_a_regular_file_stops_the_start() {
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), b"not a store\n").expect("write");
    let stderr = refused_start(file.path()).await;
    assert!(
        stderr.contains(&file.path().display().to_string()),
        "the message names the path:\n{stderr}"
    );
    let kept = std::fs::read(file.path()).expect("the file is still there");
    assert_eq!(kept, b"not a store\n", "the file is left alone");
}

#[tokio::test]
async fn a_store_without_hostendpointd_metadata_stops_the_start() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("data");
    {
        let db = sled::open(&path).expect("a sled store");
        db.insert(b"something/else", b"x".as_slice())
            .expect("write");
        db.flush().expect("flush");
    }
    let stderr = refused_start(&path).await;
    assert!(
        stderr.contains("meta/format") && stderr.contains(&path.display().to_string()),
        "the message names the record and the directory:\n{stderr}"
    );
}
