//! The etcd v3 datastore against etcd clusters this suite starts itself, on free loopback
//! ports with temporary data directories: a three-member cluster that loses its leader under
//! writes and watches; two replicas over one etcd; Calico's key layout and JSON, both ways;
//! values written by others that are not valid host endpoints; and losing etcd altogether.
//!
//! It runs in the normal run too. The conformance suites run against etcd when
//! `HEP_TEST_DATASTORE=etcdv3`.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant, UNIX_EPOCH},
};

use futures::StreamExt as _;
use hostendpoint_api::pb::{self, EventType};
use hostendpoint_client::{
    BackoffConfig, Client, reflector,
    watcher::{self, Event},
};
use hostendpoint_tests::{
    etcd::{EtcdCluster, etcdctl},
    watching::*,
    *,
};
use hostendpointd::store::etcd::proto::{
    etcdserverpb::{PutRequest, RangeRequest, kv_client::KvClient},
    prefix_end,
};
use rand::{Rng as _, SeedableRng as _, rngs::StdRng};
use serde_json::json;
use tokio::sync::watch as state;
use tonic::{Code, Status, Streaming, transport::Channel};
use tonic_health::pb::{
    HealthCheckRequest, HealthCheckResponse, health_check_response::ServingStatus,
    health_client::HealthClient,
};

/// Where Calico's etcdv3 datastore keeps host endpoints.
const PREFIX: &str = "/calico/resources/v3/projectcalico.org/hostendpoints/";

/// The longest a writer retries one write while etcd elects a new leader.
const WRITE_DEADLINE: Duration = Duration::from_secs(60);

/// A host endpoint as calicoctl stores it: Calico's v3 JSON, without resourceVersion.
const CALICOCTL_VALUE: &str = r#"{"kind":"HostEndpoint","apiVersion":"projectcalico.org/v3","metadata":{"name":"from-calicoctl","uid":"6f1c2b9e-4d0a-4c8e-9a57-1f0e2d3c4b5a","creationTimestamp":"2024-05-01T10:00:00Z","labels":{"type":"database"}},"spec":{"node":"host1","interfaceName":"eth0","expectedIPs":["192.168.0.1"],"profiles":["prof1"],"ports":[{"name":"some-port","protocol":"TCP","port":1234},{"name":"num","protocol":6,"port":80}]}}"#;

/// The etcd key of the host endpoint `name`.
fn key(name: &str) -> String {
    format!("{PREFIX}{name}")
}

/// Runs etcdctl, which must succeed, and returns its output.
fn etcdctl_ok(url: &str, args: &[&str]) -> Vec<u8> {
    let output = etcdctl(url, args);
    assert!(
        output.status.success(),
        "etcdctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Puts `value` under the key of `name`, as another client of etcd would.
fn put(url: &str, name: &str, value: &str) {
    etcdctl_ok(url, &["put", &key(name), value]);
}

/// Puts `value` under the key of `name` through etcd's v3 API, as fast as another client of
/// etcd writes (etcdctl's start takes milliseconds, and an argument is at most 128 KiB);
/// returns the revision of the put.
async fn put_raw(etcd: &mut KvClient<Channel>, name: &str, value: String) -> u64 {
    let put = PutRequest {
        key: key(name).into_bytes(),
        value: value.into_bytes(),
        ..PutRequest::default()
    };
    let response = etcd.put(put).await.expect("etcd takes the put");
    let header = response.into_inner().header.expect("a response header");
    u64::try_from(header.revision).expect("a positive revision")
}

/// The key-value of `name`, as `etcdctl get -w json` prints it.
fn get_kv(url: &str, name: &str) -> serde_json::Value {
    let output = etcdctl_ok(url, &["get", &key(name), "-w", "json"]);
    let response: serde_json::Value = serde_json::from_slice(&output).expect("etcdctl prints JSON");
    response["kvs"][0].clone()
}

/// The mod_revision of `name`'s key.
fn mod_revision(url: &str, name: &str) -> u64 {
    get_kv(url, name)["mod_revision"]
        .as_u64()
        .expect("the key exists")
}

/// The calicoctl value of a minimal host endpoint called `name` on `node`.
fn calico_json(name: &str, node: &str) -> String {
    json!({
        "kind": "HostEndpoint",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": name},
        "spec": {"node": node, "interfaceName": "eth0"},
    })
    .to_string()
}

/// (type, name, revision) of each event.
fn event_names(events: &[pb::WatchEvent]) -> Vec<(EventType, String, u64)> {
    events
        .iter()
        .map(|e| {
            let name = e.host_endpoint.as_ref().map(|h| meta(h).name.clone());
            (kind(e), name.unwrap_or_default(), e.resource_version)
        })
        .collect()
}

/// The events of a resumed watch up to `revision`, skipping bookmarks; a resumed watch never
/// sends a snapshot, so SYNCED fails the test.
async fn changes_until(watch: &mut Watch, revision: u64) -> Vec<pb::WatchEvent> {
    let mut events = Vec::new();
    loop {
        let event = watch.expect_event().await;
        let at = event.resource_version;
        match kind(&event) {
            EventType::Bookmark => assert!(
                at < revision,
                "a bookmark at {at} skipped a change (waiting for {revision}): {events:?}"
            ),
            EventType::Synced => panic!("a resumed watch sent a snapshot"),
            _ => events.push(event),
        }
        if at >= revision {
            return events;
        }
    }
}

/// Every object the server lists, by name, and the listing's revision.
async fn list_all(client: &mut ApiClient) -> (BTreeMap<String, pb::HostEndpoint>, u64) {
    let mut objects = BTreeMap::new();
    let mut token = String::new();
    loop {
        let page = list(client, "", 100, &token).await;
        objects.extend(
            page.host_endpoints
                .into_iter()
                .map(|h| (meta(&h).name.clone(), h)),
        );
        if page.next_page_token.is_empty() {
            return (objects, page.resource_version);
        }
        token = page.next_page_token;
    }
}

// === A node agent: the client library's watcher feeding a reflector ===

/// A watcher and reflector of every host endpoint, driven by a task.
struct Agent {
    store: reflector::Store,
    /// The reflector's revision after each event.
    revision: state::Receiver<u64>,
    /// How many listings the watcher started (1: it never relisted).
    listings: Arc<Mutex<usize>>,
    /// Errors the watcher reported.
    errors: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Agent {
    async fn start(server: &ServerProcess) -> Self {
        let client = Client::connect(server.endpoint()).await.expect("connects");
        let config = watcher::Config {
            backoff: BackoffConfig {
                initial: Duration::from_millis(50),
                max: Duration::from_millis(200),
                reset_after: Duration::from_secs(5),
            },
            ..Default::default()
        };
        let (store, writer) = reflector::store();
        let events = reflector::reflector(writer, watcher::watcher(client, config));
        let (revision_tx, revision) = state::channel(0);
        let listings = Arc::new(Mutex::new(0));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let (store, listings, errors) = (store.clone(), listings.clone(), errors.clone());
            async move {
                let mut events = std::pin::pin!(events);
                while let Some(event) = events.next().await {
                    match event {
                        Ok(Event::Init) => *listings.lock().expect("lock") += 1,
                        Ok(_) => {}
                        Err(error) => errors.lock().expect("lock").push(error.to_string()),
                    }
                    revision_tx.send_replace(store.revision());
                }
            }
        });
        Self {
            store,
            revision,
            listings,
            errors,
            task,
        }
    }

    /// Waits until the agent has applied every change up to `revision`.
    async fn caught_up(&mut self, revision: u64) {
        tokio::time::timeout(EVENT_TIMEOUT, self.revision.wait_for(|r| *r >= revision))
            .await
            .expect("the agent catches up in time")
            .expect("the agent runs");
    }

    /// The agent's objects, as the API sends them.
    fn state(&self) -> BTreeMap<String, pb::HostEndpoint> {
        self.store
            .state()
            .iter()
            .map(|h| (h.metadata.name.clone(), pb::HostEndpoint::from(&**h)))
            .collect()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// === Writers that retry until they get an answer ===

#[derive(Clone, Debug)]
enum Write {
    Create(pb::HostEndpoint),
    Update(pb::HostEndpoint),
    Delete(String),
}

/// Sends `write` until the server answers it with something other than UNAVAILABLE, and
/// returns the object as acknowledged (`None`: deleted). A retried write may find that an
/// earlier attempt, whose answer was lost, did commit.
async fn write_until_answered(client: &mut ApiClient, write: &Write) -> Option<pb::HostEndpoint> {
    let deadline = Instant::now() + WRITE_DEADLINE;
    let mut retried = false;
    loop {
        let answer = match write {
            Write::Create(hep) => client
                .create_host_endpoint(pb::CreateHostEndpointRequest {
                    host_endpoint: Some(hep.clone()),
                })
                .await
                .map(|r| r.into_inner().host_endpoint),
            Write::Update(hep) => update(client, hep.clone(), false).await.map(Some),
            Write::Delete(name) => delete(client, name, 0, "").await.map(|_| None),
        };
        match (write, answer) {
            (_, Ok(after)) => return after,
            (_, Err(status)) if status.code() == Code::Unavailable => {
                assert!(
                    Instant::now() < deadline,
                    "{write:?} still fails: {status:?}"
                );
                retried = true;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (Write::Create(hep), Err(status))
                if retried && status.code() == Code::AlreadyExists =>
            {
                return Some(get_until_found(client, &meta(hep).name).await);
            }
            // Only this writer touches the name, so the object is gone: deleted by an earlier
            // attempt, or by the server's own attempt whose answer etcd lost (the server cannot
            // tell a delete's revision then, and answers NOT_FOUND).
            (Write::Delete(_), Err(status)) if status.code() == Code::NotFound => return None,
            (_, Err(status)) => panic!("{write:?} failed: {status:?}"),
        }
    }
}

/// Gets an object that a write committed, while this replica may still be catching up.
async fn get_until_found(client: &mut ApiClient, name: &str) -> pb::HostEndpoint {
    let deadline = Instant::now() + WRITE_DEADLINE;
    loop {
        match get(client, name).await {
            Ok(hep) => return hep,
            Err(status) => assert!(Instant::now() < deadline, "{name}: {status:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Random creates, relabels, node moves and deletes of the writer's own names; updates carry
/// the acknowledged resource_version and uid as preconditions. Returns what was acknowledged
/// last for each name, and counts acknowledged writes in `progress`.
async fn write_randomly(
    mut client: ApiClient,
    writer: usize,
    ops: usize,
    progress: Arc<state::Sender<usize>>,
) -> BTreeMap<String, Option<pb::HostEndpoint>> {
    let mut rng = StdRng::seed_from_u64(writer as u64);
    let mut acknowledged: BTreeMap<String, Option<pb::HostEndpoint>> = BTreeMap::new();
    for op in 0..ops {
        let name = format!("w{writer}-{}", rng.random_range(0..5));
        let node = format!("n{}", rng.random_range(0..3));
        let write = match acknowledged.get(&name).cloned().flatten() {
            None => Write::Create(mk_hep(&name, &node)),
            Some(_) if rng.random_bool(0.2) => Write::Delete(name.clone()),
            Some(mut hep) => {
                meta_mut(&mut hep)
                    .labels
                    .insert("op".into(), op.to_string());
                spec_mut(&mut hep).node = node;
                Write::Update(hep)
            }
        };
        let after = write_until_answered(&mut client, &write).await;
        acknowledged.insert(name, after);
        progress.send_modify(|n| *n += 1);
    }
    acknowledged
}

/// `count` clients of `client`'s server writing at once, each as [`write_randomly`].
fn spawn_writers(
    client: &ApiClient,
    count: usize,
    ops: usize,
    progress: &Arc<state::Sender<usize>>,
) -> Vec<tokio::task::JoinHandle<BTreeMap<String, Option<pb::HostEndpoint>>>> {
    (0..count)
        .map(|w| tokio::spawn(write_randomly(client.clone(), w, ops, Arc::clone(progress))))
        .collect()
}

/// The objects that exist after the writers' last acknowledged writes.
async fn acknowledged_by(
    writers: Vec<tokio::task::JoinHandle<BTreeMap<String, Option<pb::HostEndpoint>>>>,
) -> BTreeMap<String, pb::HostEndpoint> {
    let mut acknowledged = BTreeMap::new();
    for writer in writers {
        let written = writer.await.expect("the writer finishes");
        acknowledged.extend(
            written
                .into_iter()
                .filter_map(|(name, hep)| Some((name, hep?))),
        );
    }
    acknowledged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_of_three_loses_its_leader_under_writes_and_watches_and_keeps_everything() {
    const WRITERS: usize = 4;
    const OPS: usize = 60;
    let mut cluster = EtcdCluster::start(3);
    // The leader first, so that the server talks to it first and must fail over.
    let leader = cluster.leader().expect("the cluster has a leader");
    let mut endpoints = vec![cluster.members[leader].client_url.clone()];
    endpoints.extend(
        (cluster.members.iter().enumerate())
            .filter(|(i, _)| *i != leader)
            .map(|(_, m)| m.client_url.clone()),
    );
    let server =
        ServerProcess::start_on_etcd(&endpoints.join(","), &["--bookmark-interval", "200ms"]);
    let mut client = server.client().await;
    let mut agent = Agent::start(&server).await;

    let (progress_tx, mut progress) = state::channel(0);
    let progress_tx = Arc::new(progress_tx);
    let writers = spawn_writers(&client, WRITERS, OPS, &progress_tx);
    tokio::time::timeout(
        WRITE_DEADLINE,
        progress.wait_for(|n| *n >= WRITERS * OPS / 2),
    )
    .await
    .expect("half of the writes in time")
    .expect("the writers run");
    cluster.members[leader].kill();

    let acknowledged = acknowledged_by(writers).await;
    let (listed, revision) = list_all(&mut client).await;
    assert_eq!(listed, acknowledged, "the listing is what was acknowledged");
    agent.caught_up(revision).await;
    assert_eq!(agent.state(), acknowledged, "the agent's state too");
    assert_eq!(
        *agent.listings.lock().expect("lock"),
        1,
        "the agent never relisted"
    );
    assert!(agent.errors.lock().expect("lock").is_empty());
    // The server's own watch of etcd was on the leader: it failed over by itself.
    let log = server.log_text();
    let lost = log
        .find("watch of etcd lost; reconnecting")
        .expect("the server lost its watch of etcd");
    assert!(log[lost..].contains("following etcd"), "{log}");
}

#[tokio::test]
async fn two_replicas_share_writes_and_an_agent_moves_between_them_without_a_relist() {
    let cluster = EtcdCluster::start(1);
    let a = ServerProcess::start_on_etcd(&cluster.endpoints(), &[]);
    let b = ServerProcess::start_on_etcd(&cluster.endpoints(), &[]);
    let (mut on_a, mut on_b) = (a.client().await, b.client().await);

    // A write through A reaches a watcher of B.
    let mut watching_b = watch(&mut on_b, "", 0).await.expect("watch on B");
    assert!(watching_b.expect_snapshot().await.0.is_empty());
    let first = create(&mut on_a, mk_hep("first", "n1")).await;
    let event = watching_b.expect_non_bookmark().await;
    assert_eq!(
        (kind(&event), event.resource_version),
        (EventType::Added, meta(&first).resource_version)
    );
    assert_eq!(event.host_endpoint.as_ref(), Some(&first));

    // An agent follows n1 on A, then loses A.
    let mut watching_a = watch(&mut on_a, "n1", 0).await.expect("watch on A");
    let (added, _) = watching_a.expect_snapshot().await;
    assert_eq!(names(&added), ["first"]);
    let second = create(&mut on_a, mk_hep("second", "n1")).await;
    let event = watching_a.expect_non_bookmark().await;
    assert_eq!(event.host_endpoint.as_ref(), Some(&second));
    let seen = event.resource_version;
    let store_uid = watching_a
        .store_uid()
        .expect("a store-uid header")
        .to_owned();
    drop(watching_a);

    // Changes through both replicas while it moves.
    let mut relabelled = first.clone();
    meta_mut(&mut relabelled)
        .labels
        .insert("k".into(), "v".into());
    let relabelled = update(&mut on_b, relabelled, false)
        .await
        .expect("update on B");
    create(&mut on_b, mk_hep("elsewhere", "n2")).await;
    let third = create(&mut on_a, mk_hep("third", "n1")).await;
    let gone = delete(&mut on_b, "second", 0, "")
        .await
        .expect("delete on B");

    // It resumes on B where it was on A: exactly the later changes of n1, no snapshot.
    assert_eq!(list(&mut on_b, "", 0, "").await.store_uid, store_uid);
    let request = pb::WatchHostEndpointsRequest {
        node: "n1".into(),
        resource_version: seen,
        store_uid,
        ..Default::default()
    };
    let mut resumed = watch_with(&mut on_b, request)
        .await
        .expect("B resumes A's position");
    let events = changes_until(&mut resumed, meta(&gone).resource_version).await;
    assert_eq!(
        event_names(&events),
        [
            (
                EventType::Modified,
                "first".into(),
                meta(&relabelled).resource_version
            ),
            (
                EventType::Added,
                "third".into(),
                meta(&third).resource_version
            ),
            (
                EventType::Deleted,
                "second".into(),
                meta(&gone).resource_version
            ),
        ]
    );
    assert_eq!(events[0].host_endpoint.as_ref(), Some(&relabelled));
    assert_eq!(events[2].host_endpoint.as_ref(), Some(&gone));
}

#[tokio::test]
async fn calico_objects_read_back_here_and_ours_are_stored_in_calicos_key_and_json() {
    let cluster = EtcdCluster::start(1);
    let url = cluster.running_url().to_owned();
    let server = ServerProcess::start_on_etcd(&cluster.endpoints(), &[]);
    let mut client = server.client().await;
    let mut live = watch(&mut client, "", 0).await.expect("watch");
    assert!(live.expect_snapshot().await.0.is_empty());

    // calicoctl's object, put with etcdctl, appears in Watch and List.
    put(&url, "from-calicoctl", CALICOCTL_VALUE);
    let revision = mod_revision(&url, "from-calicoctl");
    let mut expected = mk_hep("from-calicoctl", "host1");
    let m = meta_mut(&mut expected);
    m.uid = "6f1c2b9e-4d0a-4c8e-9a57-1f0e2d3c4b5a".into();
    m.creation_timestamp = Some(prost_types::Timestamp {
        seconds: 1_714_557_600,
        nanos: 0,
    });
    m.resource_version = revision;
    m.labels.insert("type".into(), "database".into());
    let s = spec_mut(&mut expected);
    s.expected_ips = vec!["192.168.0.1".into()];
    s.profiles = vec!["prof1".into()];
    s.ports = vec![mk_port("some-port", "TCP", 1234), mk_port("num", "6", 80)];
    let event = live.expect_non_bookmark().await;
    assert_eq!(
        (kind(&event), event.resource_version),
        (EventType::Added, revision)
    );
    assert_eq!(event.host_endpoint.as_ref(), Some(&expected));
    assert_eq!(
        list(&mut client, "", 0, "").await.host_endpoints,
        [expected]
    );

    // Ours is stored under Calico's key, in Calico's JSON, without resourceVersion.
    let created = create(&mut client, mk_sample()).await;
    let keys = etcdctl_ok(&url, &["get", "", "--prefix", "--keys-only"]);
    let keys: Vec<_> = String::from_utf8_lossy(&keys)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    // Besides Calico's keys, only the secret that signs page tokens, shared by the replicas.
    assert_eq!(
        keys,
        [
            "/calico/hostendpointd/page-token-key".to_owned(),
            key("endpoint1"),
            key("from-calicoctl")
        ],
        "every key in etcd"
    );
    let kv = get_kv(&url, "endpoint1");
    assert_eq!(
        kv["mod_revision"].as_u64(),
        Some(meta(&created).resource_version)
    );
    let value = etcdctl_ok(&url, &["get", &key("endpoint1"), "--print-value-only"]);
    let value: serde_json::Value = serde_json::from_slice(&value).expect("the value is JSON");
    let created_at = meta(&created)
        .creation_timestamp
        .expect("a creation timestamp");
    let created_at =
        UNIX_EPOCH + Duration::from_secs(created_at.seconds.try_into().expect("after 1970"));
    assert_eq!(
        value,
        json!({
            "kind": "HostEndpoint",
            "apiVersion": "projectcalico.org/v3",
            "metadata": {
                "name": "endpoint1",
                "uid": meta(&created).uid,
                "creationTimestamp": humantime::format_rfc3339_seconds(created_at).to_string(),
                "labels": {"type": "database"},
            },
            "spec": {
                "node": "host1",
                "interfaceName": "eth0",
                "expectedIPs": ["192.168.0.1"],
                "profiles": ["prof1", "prof2"],
                "ports": [{"name": "some-port", "protocol": "TCP", "port": 1234}],
            },
        })
    );

    // The store_uid is etcd's cluster id.
    let cluster_id = get_kv_header(&url)["cluster_id"]
        .as_u64()
        .expect("a cluster id");
    assert_eq!(
        list(&mut client, "", 0, "").await.store_uid,
        format!("{cluster_id:016x}")
    );
}

/// The response header of a read from etcd.
fn get_kv_header(url: &str) -> serde_json::Value {
    let output = etcdctl_ok(url, &["get", "/", "-w", "json"]);
    let response: serde_json::Value = serde_json::from_slice(&output).expect("etcdctl prints JSON");
    response["header"].clone()
}

#[tokio::test]
async fn invalid_values_are_logged_and_skipped_and_the_server_keeps_serving() {
    let cluster = EtcdCluster::start(1);
    let url = cluster.running_url().to_owned();
    // In the initial listing.
    put(&url, "garbage-early", "not json at all");
    put(&url, "valid-early", &calico_json("valid-early", "host1"));
    let server = ServerProcess::start_on_etcd(&cluster.endpoints(), &[]);
    let mut client = server.client().await;
    assert_eq!(
        names(&list(&mut client, "", 0, "").await.host_endpoints),
        ["valid-early"]
    );
    let mut live = watch(&mut client, "", 0).await.expect("watch");
    let (added, _) = live.expect_snapshot().await;
    assert_eq!(names(&added), ["valid-early"]);

    // In the watch that keeps the view.
    put(&url, "garbage", r#"{"kind":"#);
    put(&url, "bad-node", &calico_json("bad-node", "Bad_Node"));
    put(&url, "other-name", &calico_json("not-the-key", "host1"));
    put(&url, "valid-late", &calico_json("valid-late", "host1"));
    let late = mod_revision(&url, "valid-late");
    let events = live.object_events_until(late).await;
    assert_eq!(
        event_names(&events),
        [(EventType::Added, "valid-late".into(), late)]
    );
    // A valid object overwritten with an invalid value is no longer served.
    put(&url, "valid-early", "garbage");
    let overwritten = mod_revision(&url, "valid-early");
    let events = live.object_events_until(overwritten).await;
    assert_eq!(
        event_names(&events),
        [(EventType::Deleted, "valid-early".into(), overwritten)]
    );
    assert_eq!(
        names(&list(&mut client, "", 0, "").await.host_endpoints),
        ["valid-late"]
    );
    assert_code(get(&mut client, "bad-node").await, Code::NotFound);

    // The server goes on serving.
    let created = create(&mut client, mk_hep("after", "host1")).await;
    let event = live.expect_non_bookmark().await;
    assert_eq!(event.host_endpoint.as_ref(), Some(&created));
    let mut health = HealthClient::new(server.channel().await);
    let status = health
        .check(HealthCheckRequest::default())
        .await
        .expect("health answers")
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
    let log = server.log_text();
    for name in [
        "garbage-early",
        "garbage",
        "bad-node",
        "other-name",
        "valid-early",
    ] {
        let needle = format!("\"key\":\"{}\"", key(name));
        assert!(
            log.lines()
                .any(|l| l.contains("skipping an invalid value") && l.contains(&needle)),
            "{name} is logged:\n{log}"
        );
    }
    // An invalid value reads as absent, so creating the object repairs it; deleting it is
    // NOT_FOUND, as a Get says.
    let deleting = client
        .delete_host_endpoint(pb::DeleteHostEndpointRequest {
            name: "garbage".into(),
            ..Default::default()
        })
        .await;
    assert_code(deleting, tonic::Code::NotFound);
    let repaired = create(&mut client, mk_hep("garbage", "n1")).await;
    assert_eq!(
        get(&mut client, "garbage").await.expect("repaired"),
        repaired
    );
}

#[tokio::test]
async fn an_invalid_value_is_warned_about_once_however_often_it_is_read() {
    let cluster = EtcdCluster::start(1);
    let url = cluster.running_url().to_owned();
    put(&url, "garbage", "not json at all");
    let garbage = mod_revision(&url, "garbage");
    // A one-change buffer: a watch from before the value reads etcd's history, where it is.
    let server = ServerProcess::start_on_etcd(&cluster.endpoints(), &["--watch-buffer", "1"]);
    let mut client = server.client().await;
    create(&mut client, mk_hep("a", "n1")).await;
    let last = create(&mut client, mk_hep("b", "n1")).await;
    let last = last.metadata.expect("metadata").resource_version;
    for _ in 0..2 {
        let mut resumed = watch(&mut client, "", garbage - 1).await.expect("watch");
        let events = resumed.object_events_until(last).await;
        assert_eq!(
            event_names(&events)
                .iter()
                .map(|(_, name, _)| name.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
    }
    let log = server.log_text();
    assert_eq!(
        log.matches("skipping an invalid value").count(),
        1,
        "warned once, at the listing:\n{log}"
    );
}

/// Waits until the health watch reports `want`.
async fn health_turns(updates: &mut Streaming<HealthCheckResponse>, want: ServingStatus) {
    let turned = tokio::time::timeout(EVENT_TIMEOUT, async {
        loop {
            let update = updates.message().await.expect("the health watch goes on");
            if update.expect("the health watch is not over").status == want as i32 {
                return;
            }
        }
    });
    turned
        .await
        .unwrap_or_else(|_| panic!("health turns {want:?} in time"));
}

fn assert_etcd_unavailable<T: std::fmt::Debug>(what: &str, result: Result<T, Status>) {
    let status = result.expect_err("etcd is gone");
    assert_eq!(status.code(), Code::Unavailable, "{what}: {status:?}");
    assert!(
        status.message().contains("etcd is unreachable"),
        "{what}: {status:?}"
    );
}

#[tokio::test]
async fn losing_etcd_makes_calls_unavailable_until_it_is_back_and_watches_resume() {
    let mut cluster = EtcdCluster::start(1);
    let server =
        ServerProcess::start_on_etcd(&cluster.endpoints(), &["--bookmark-interval", "100ms"]);
    let mut client = server.client().await;
    let mut health = HealthClient::new(server.channel().await);
    let mut updates = health
        .watch(HealthCheckRequest::default())
        .await
        .expect("health watch")
        .into_inner();
    health_turns(&mut updates, ServingStatus::Serving).await;
    create(&mut client, mk_hep("a", "n1")).await;
    let b = create(&mut client, mk_hep("b", "n1")).await;
    let mut live = watch(&mut client, "", 0).await.expect("watch");
    live.expect_snapshot().await;

    cluster.members[0].kill();
    health_turns(&mut updates, ServingStatus::NotServing).await;
    assert_etcd_unavailable("get", get(&mut client, "a").await);
    let listing = client
        .list_host_endpoints(pb::ListHostEndpointsRequest::default())
        .await;
    assert_etcd_unavailable("list", listing);
    let creating = client
        .create_host_endpoint(pb::CreateHostEndpointRequest {
            host_endpoint: Some(mk_hep("c", "n1")),
        })
        .await;
    assert_etcd_unavailable("create", creating);
    assert_etcd_unavailable("watch", watch(&mut client, "", 0).await);
    // The live watch ends with a final BOOKMARK, then UNAVAILABLE.
    let mut last = None;
    let ended = loop {
        match live.next().await {
            Ok(Some(event)) => last = Some(event),
            Ok(None) => panic!("the watch must end with a status"),
            Err(status) => break status,
        }
    };
    assert_etcd_unavailable("the live watch", Err::<(), _>(ended));
    let last = last.expect("a final bookmark");
    assert_eq!(
        (kind(&last), last.resource_version),
        (EventType::Bookmark, meta(&b).resource_version)
    );

    cluster.members[0].restart();
    cluster.wait_ready();
    health_turns(&mut updates, ServingStatus::Serving).await;
    let c = create(&mut client, mk_hep("c", "n1")).await;
    // Resumed from the final bookmark: the changes since, no relist.
    let request = pb::WatchHostEndpointsRequest {
        resource_version: last.resource_version,
        store_uid: live.store_uid().expect("a store-uid header").to_owned(),
        ..Default::default()
    };
    let mut resumed = watch_with(&mut client, request)
        .await
        .expect("the bookmark resumes");
    let events = changes_until(&mut resumed, meta(&c).resource_version).await;
    assert_eq!(
        event_names(&events),
        [(EventType::Added, "c".into(), meta(&c).resource_version)]
    );
}

/// A replica cut off from etcd while others write past `--etcd-max-watch-lag` relists when it
/// is back, at etcd's revision, instead of having etcd replay every revision it missed.
// Two threads: the proxy runs on the test's runtime while the harness waits for the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_far_behind_its_etcd_relists_instead_of_waiting_for_a_replay() {
    const LAG_LIMIT: usize = 40;
    let cluster = EtcdCluster::start(1);
    let url = cluster.running_url().to_owned();
    let upstream = url
        .trim_start_matches("http://")
        .parse()
        .expect("the member's client URL is http://IP:PORT");
    let proxy = listeners::CuttingProxy::start(upstream).await;
    let server = ServerProcess::start_on_etcd(
        &format!("http://{}", proxy.addr),
        &["--etcd-max-watch-lag", &LAG_LIMIT.to_string()],
    );
    let metrics = server.metrics_addr.expect("a metrics endpoint");
    let mut client = server.client().await;
    create(&mut client, mk_hep("before", "n1")).await;

    proxy.cut();
    server
        .wait_for_log_line("watch of etcd lost", Duration::from_secs(20))
        .await;
    // Other clients of etcd go on writing: more revisions than the replica waits for.
    for i in 0..=LAG_LIMIT {
        put(&url, &format!("w{i}"), &calico_json(&format!("w{i}"), "n2"));
    }
    let last = mod_revision(&url, &format!("w{LAG_LIMIT}"));
    proxy.mend();

    let line = server
        .wait_for_log_line(
            "relisting rather than having etcd replay",
            Duration::from_secs(30),
        )
        .await;
    assert!(line.contains("revisions behind"), "{line}");
    let relisted = metrics::wait_for_scrape(metrics, "a relist for being behind", |scrape| {
        scrape.value("hostendpointd_etcd_relists_total", &[("reason", "behind")]) == Some(1.0)
    })
    .await;
    assert_eq!(
        relisted.value(
            "hostendpointd_etcd_relists_total",
            &[("reason", "compacted")]
        ),
        None
    );
    let (objects, revision) = list_all(&mut client).await;
    assert!(
        revision >= last,
        "listed at {revision}, before etcd's {last}"
    );
    assert_eq!(objects.len(), LAG_LIMIT + 2, "{:?}", objects.keys());
    // And it follows etcd from there.
    let after = create(&mut client, mk_hep("after", "n1")).await;
    assert!(meta(&after).resource_version > last);
    assert_eq!(
        meta(&get(&mut client, "after").await.expect("read back")).resource_version,
        meta(&after).resource_version
    );
}

/// Writes are decided on the replica's copy, which lags etcd by the watch's delivery. Right
/// after another client of etcd wrote, that copy is often stale: a write that the stale copy
/// would refuse (a precondition on the newer version) must still succeed, and one that only
/// etcd's state refuses (a create of a key just created there) must still be refused.
#[tokio::test]
async fn writes_right_after_another_clients_write_decide_on_etcds_state() {
    let cluster = EtcdCluster::start(1);
    let url = cluster.running_url().to_owned();
    let server = ServerProcess::start_on_etcd(&cluster.endpoints(), &[]);
    let mut client = server.client().await;
    let mut etcd = KvClient::connect(url.clone()).await.expect("etcd answers");
    let mut put_now =
        async |name: &str, node: &str| put_raw(&mut etcd, name, calico_json(name, node)).await;
    for round in 0..20 {
        let name = format!("other-{round}");
        put_now(&name, "n1").await;
        // A create of what etcd already holds: refused, whatever the copy says.
        let created = client
            .create_host_endpoint(pb::CreateHostEndpointRequest {
                host_endpoint: Some(mk_hep(&name, "n1")),
            })
            .await
            .expect_err("the key exists in etcd");
        assert_eq!(
            created.code(),
            Code::AlreadyExists,
            "round {round}: {created:?}"
        );

        // An update with the version etcd has now: taken, even when the copy is older.
        let newer = put_now(&name, "n2").await;
        let mut hep = mk_hep(&name, "n3");
        hep.metadata.as_mut().expect("metadata").resource_version = newer;
        let updated = update(&mut client, hep, false)
            .await
            .unwrap_or_else(|status| panic!("round {round}: {status:?}"));
        assert!(meta(&updated).resource_version > newer);
        assert_eq!(mod_revision(&url, &name), meta(&updated).resource_version);
    }
}

/// This replica's writes from several clients, interleaved with writes of others straight into
/// etcd: a watcher of the replica sees every change once, in revision order, each one
/// consistent with the state before it, and ends at what the replica lists and etcd holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_and_others_writes_interleaved_reach_a_watcher_once_each_in_order() {
    const WRITERS: usize = 3;
    const OPS: usize = 40;
    let cluster = EtcdCluster::start(1);
    let server = ServerProcess::start_on_etcd(&cluster.endpoints(), &[]);
    let mut client = server.client().await;
    let mut watching = watch(&mut client, "", 0).await.expect("a watch");
    let (snapshot, synced) = watching.expect_snapshot().await;
    assert!(snapshot.is_empty());

    // `write_randomly` reports its progress; this test only waits for the writers to end.
    let progress = Arc::new(state::channel(0).0);
    let mut etcd = KvClient::connect(cluster.running_url().to_owned())
        .await
        .expect("etcd answers");
    let writers = spawn_writers(&client, WRITERS, OPS, &progress);
    // Others write for as long as the replica's writers do.
    let deadline = Instant::now() + WRITE_DEADLINE;
    let (mut foreign, mut foreign_last) = (0, 0);
    while !writers.iter().all(tokio::task::JoinHandle::is_finished) {
        assert!(
            Instant::now() < deadline,
            "the writers did not finish in time"
        );
        let name = format!("other-{}", foreign % 5);
        foreign_last = put_raw(&mut etcd, &name, calico_json(&name, &format!("n{foreign}"))).await;
        foreign += 1;
    }
    assert!(foreign > 0, "others wrote while the replica's writers did");
    let acknowledged = acknowledged_by(writers).await;

    // The replica's own writes are visible once answered; the others' once its watch has them.
    let (listed, revision) = loop {
        let (listed, revision) = list_all(&mut client).await;
        if revision >= foreign_last {
            break (listed, revision);
        }
        assert!(
            Instant::now() < deadline,
            "the replica did not reach {foreign_last}"
        );
        tokio::task::yield_now().await;
    };
    let events = changes_until(&mut watching, revision).await;
    let mut state: BTreeMap<String, pb::HostEndpoint> = BTreeMap::new();
    let mut last = synced;
    for event in &events {
        let at = event.resource_version;
        // Every revision after the first write is a host endpoint's: none may be missing.
        if last == synced {
            assert!(at > synced, "{at} at or before SYNCED at {synced}");
        } else {
            assert_eq!(at, last + 1, "after {last}: {:?}", event_names(&events));
        }
        last = at;
        let hep = event
            .host_endpoint
            .clone()
            .expect("every change has its object");
        let name = meta(&hep).name.clone();
        let inconsistent = match kind(event) {
            EventType::Added => state.insert(name.clone(), hep).is_some(),
            EventType::Modified => state.insert(name.clone(), hep).is_none(),
            EventType::Deleted => state.remove(&name).is_none(),
            other => panic!("{other:?} among the changes"),
        };
        assert!(
            !inconsistent,
            "{:?} of {name} at {at} does not follow the state before it",
            kind(event)
        );
    }
    let own: BTreeMap<_, _> = (listed.iter())
        .filter(|(name, _)| name.starts_with('w'))
        .map(|(name, hep)| (name.clone(), hep.clone()))
        .collect();
    assert_eq!(own, acknowledged, "the replica lists what it acknowledged");
    assert_eq!(state, listed, "the watcher ends at the listing");
    let versions: BTreeMap<_, _> = (state.iter())
        .map(|(name, hep)| (name.clone(), meta(hep).resource_version))
        .collect();
    assert_eq!(
        versions,
        etcd_versions(&mut etcd).await,
        "and at etcd's state"
    );
}

/// The mod revision of every host endpoint in etcd, by name.
async fn etcd_versions(etcd: &mut KvClient<Channel>) -> BTreeMap<String, u64> {
    let range = RangeRequest {
        key: PREFIX.as_bytes().to_vec(),
        range_end: prefix_end(PREFIX.as_bytes()),
        ..RangeRequest::default()
    };
    let response = etcd.range(range).await.expect("etcd lists the prefix");
    (response.into_inner().kvs.into_iter())
        .map(|kv| {
            let key = String::from_utf8(kv.key).expect("a UTF-8 key");
            let name = key
                .strip_prefix(PREFIX)
                .expect("under the prefix")
                .to_owned();
            (
                name,
                u64::try_from(kv.mod_revision).expect("a positive revision"),
            )
        })
        .collect()
}

/// A listing page of large values over the client's 64 MiB message limit is asked for again
/// in halves: a replica starts on an etcd whose values are large.
#[tokio::test]
async fn a_listing_of_large_values_comes_in_smaller_pages() {
    let cluster = EtcdCluster::start(1);
    let url = cluster.running_url().to_owned();
    let mut etcd = KvClient::connect(url.clone()).await.expect("etcd answers");
    // 60 values of 1.2 MB (under etcd's 1.5 MiB request limit): 72 MB in one page of 10 000.
    let large = "x".repeat(1_200_000);
    for i in 0..60 {
        put_raw(&mut etcd, &format!("large-{i:02}"), large.clone()).await;
    }
    put(&url, "valid", &calico_json("valid", "n1"));
    let server = ServerProcess::start_on_etcd(&cluster.endpoints(), &[]);
    let mut client = server.client().await;
    let (objects, _) = list_all(&mut client).await;
    assert_eq!(objects.keys().collect::<Vec<_>>(), ["valid"]);
}
