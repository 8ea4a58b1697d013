//! Faults and hostile clients: watchers that stop reading, answers larger than a default
//! client takes, page tokens that were edited or come from another store, listings crowded by
//! other clients' paging, and requests over the size limit.

use std::{collections::HashMap, time::Duration};

use hostendpoint_api::pb;
use hostendpoint_tests::{watching::*, *};
use tonic::Code;

/// A host endpoint `name` on `host1` with an annotation of `bytes` bytes whose content says
/// `version`, so each version is a real change.
fn mk_large(name: &str, bytes: usize, version: usize) -> pb::HostEndpoint {
    let mut hep = mk_hep(name, "host1");
    let mut value = format!("v{version}-");
    value.extend(std::iter::repeat_n('x', bytes.saturating_sub(value.len())));
    meta_mut(&mut hep)
        .annotations
        .insert("example.com/blob".into(), value);
    hep
}

/// The encoded size of a list answer.
fn encoded_len(response: &pb::ListHostEndpointsResponse) -> usize {
    prost::Message::encoded_len(response)
}

// === Watchers that stop reading ===

/// Connections the stalled watchers share, as a node-agent proxy would.
const STALLED_CONNECTIONS: usize = 4;
/// Watchers that read their snapshot and then nothing.
const STALLED_WATCHERS: usize = 200;
/// The size of the watched object.
const OBJECT_BYTES: usize = 64 * 1024;
/// Objects updated at once, so that changes reach the watchers in groups (the store commits
/// concurrent writes together), and rounds of updates: each watcher falls 2.5 MiB behind.
const OBJECTS: usize = 20;
const ROUNDS: usize = 2;
const UPDATES: usize = OBJECTS * ROUNDS;
/// The most the server's resident memory may grow by while they stall: 200 watchers at a
/// fixed budget of about two 64 KiB messages each, plus the changes the server keeps anyway
/// (about 25 MiB measured). With 1 MiB watch messages it grew by 130 MiB.
const STALL_GROWTH_LIMIT_KIB: u64 = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_watchers_hold_bounded_memory_and_catch_up_when_they_read_again() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    let object_names: Vec<String> = (0..OBJECTS).map(|i| format!("big-{i:02}")).collect();
    for name in &object_names {
        create(&mut client, mk_large(name, OBJECT_BYTES, 0)).await;
    }

    let mut stalled = Vec::new();
    for c in 0..STALLED_CONNECTIONS {
        let mut connection = ApiClient::new(server.channel().await);
        let mut watches = Vec::new();
        for _ in 0..STALLED_WATCHERS / STALLED_CONNECTIONS {
            let mut watch = watch(&mut connection, "", 0).await.expect("watch opens");
            let (added, _) = watch.expect_snapshot().await;
            assert_eq!(added.len(), OBJECTS, "connection {c}");
            watches.push(watch);
        }
        stalled.push(watches);
    }
    let mut reader = watch(&mut client, "", 0).await.expect("watch opens");
    reader.expect_snapshot().await;
    let baseline = server.memory_kib("VmRSS");

    let mut last = 0;
    for round in 1..=ROUNDS {
        let updates = object_names.iter().map(|name| {
            let mut client = client.clone();
            async move {
                update(&mut client, mk_large(name, OBJECT_BYTES, round), false)
                    .await
                    .expect("update succeeds")
            }
        });
        for updated in futures::future::join_all(updates).await {
            last = last.max(meta(&updated).resource_version);
        }
    }
    // The reading watcher has every change: the server has offered them to all watchers.
    let seen = reader.object_events_until(last).await;
    assert_eq!(seen.len(), UPDATES, "a reading watcher sees every update");

    let growth = server.memory_kib("VmHWM").saturating_sub(baseline);
    assert!(
        growth < STALL_GROWTH_LIMIT_KIB,
        "{STALLED_WATCHERS} stalled watchers grew the server by {growth} KiB (limit \
         {STALL_GROWTH_LIMIT_KIB} KiB)"
    );

    // A stalled watcher that reads again gets every change, in order, from the log. One per
    // connection, once the others on it are gone: what they left unread fills the client's
    // HTTP/2 connection window until they are.
    for watches in &mut stalled {
        watches.truncate(1);
        let events = watches[0].object_events_until(last).await;
        let versions: Vec<_> = events.iter().map(|e| e.resource_version).collect();
        assert_eq!(
            versions,
            (last - UPDATES as u64 + 1..=last).collect::<Vec<_>>()
        );
    }

    // Their memory is returned once the clients are gone.
    drop(stalled);
    wait_for("memory is returned", Duration::from_secs(60), || {
        std::future::ready((server.memory_kib("VmRSS") < baseline + 32 * 1024).then_some(()))
    })
    .await;
}

// === Answers that fit a default client ===

/// Objects of almost the largest annotations allowed, as in the finding: a page of 60 was
/// 15 MiB.
const LARGE_OBJECTS: usize = 24;
const LARGE_BYTES: usize = 250 * 1024;

#[tokio::test]
async fn a_default_client_receives_every_page_of_large_objects() {
    let server = ServerProcess::start();
    // The generated client with tonic's defaults: it refuses answers over 4 MiB.
    let mut client = server.client().await;
    for i in 0..LARGE_OBJECTS {
        create(
            &mut client,
            mk_large(&format!("large-{i:02}"), LARGE_BYTES, i),
        )
        .await;
    }
    let mut listed = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = list(&mut client, "", 0, &token).await;
        assert!(
            encoded_len(&page) <= 4 * 1024 * 1024,
            "a page is {} bytes",
            encoded_len(&page)
        );
        assert!(!page.host_endpoints.is_empty(), "a page is never empty");
        listed.extend(page.host_endpoints.iter().map(|h| meta(h).name.clone()));
        pages += 1;
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let expected: Vec<_> = (0..LARGE_OBJECTS)
        .map(|i| format!("large-{i:02}"))
        .collect();
    assert_eq!(listed, expected, "every object once, in name order");
    assert!(
        pages >= 3,
        "{LARGE_OBJECTS} objects of 250 KiB take several pages"
    );
}

// === Page tokens ===

/// Creates `names` on host1 and returns the first page of a listing of one object.
async fn first_page_of_one(
    client: &mut ApiClient,
    names: &[&str],
) -> pb::ListHostEndpointsResponse {
    for name in names {
        create(client, mk_hep(name, "host1")).await;
    }
    let page = list(client, "", 1, "").await;
    assert!(!page.next_page_token.is_empty(), "more pages follow");
    page
}

fn list_request(token: &str) -> pb::ListHostEndpointsRequest {
    pb::ListHostEndpointsRequest {
        page_size: 1,
        page_token: token.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_edited_page_token_is_invalid_argument() {
    use base64::Engine as _;
    let server = ServerProcess::start();
    let mut client = server.client().await;
    let page = first_page_of_one(&mut client, &["a", "b", "c"]).await;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut bytes = engine
        .decode(&page.next_page_token)
        .expect("tokens are base64url");
    // The token's payload names the last object returned, "a": point it past "b".
    let at = bytes
        .iter()
        .position(|&b| b == b'a')
        .expect("the token names the last object");
    bytes[at] = b'b';
    let edited = engine.encode(bytes);
    let violations = assert_invalid(
        client.list_host_endpoints(list_request(&edited)).await,
        &["page_token"],
    );
    assert!(violations[0].1.contains("altered"), "{violations:?}");
    // Garbage is refused the same way.
    assert_invalid(
        client
            .list_host_endpoints(list_request("not-a-token"))
            .await,
        &["page_token"],
    );
    // The unedited token still serves the next page.
    let next = list(&mut client, "", 1, &page.next_page_token).await;
    assert_eq!(names(&next.host_endpoints), ["b"]);
}

#[tokio::test]
async fn another_stores_page_token_is_invalid_argument() {
    let first = ServerProcess::start();
    let second = ServerProcess::start();
    let mut client = first.client().await;
    let page = first_page_of_one(&mut client, &["a", "b"]).await;
    let mut other = second.client().await;
    create(&mut other, mk_hep("a", "host1")).await;
    create(&mut other, mk_hep("b", "host1")).await;
    let violations = assert_invalid(
        other
            .list_host_endpoints(list_request(&page.next_page_token))
            .await,
        &["page_token"],
    );
    assert!(
        // The token's own uid is client text, unchecked: it is not echoed.
        violations[0]
            .1
            .contains("the page token is from another store (this is '")
            && !violations[0].1.contains(&page.store_uid),
        "{violations:?}"
    );
}

/// More listings than the server keeps snapshots of.
const OTHER_LISTINGS: usize = 80;

#[tokio::test]
async fn a_listing_survives_other_clients_paging_and_a_restart() {
    let mut server = ServerProcess::start();
    let mut client = server.client().await;
    let first = first_page_of_one(&mut client, &["a", "b", "c"]).await;
    let revision = first.resource_version;
    let mut b = get(&mut client, "b").await.expect("b exists");
    meta_mut(&mut b).labels = HashMap::from([("changed".into(), "yes".into())]);
    update(&mut client, b, false)
        .await
        .expect("update succeeds");
    // Other clients page at as many revisions, each one a write later.
    let mut others = server.client().await;
    for i in 0..OTHER_LISTINGS {
        create(&mut others, mk_hep(&format!("z-{i:03}"), "host2")).await;
        let page = list(&mut others, "", 1, "").await;
        assert!(!page.next_page_token.is_empty());
    }
    let second = list(&mut client, "", 1, &first.next_page_token).await;
    assert_eq!(second.resource_version, revision);
    assert_eq!(names(&second.host_endpoints), ["b"]);
    assert!(
        meta(&second.host_endpoints[0]).labels.is_empty(),
        "the page shows b as it was at the listing's revision"
    );
    // The store's secret and history outlive the process: so does the listing.
    server.restart().await;
    let mut client = server.client().await;
    let third = list(&mut client, "", 1, &second.next_page_token).await;
    assert_eq!(third.resource_version, revision);
    assert_eq!(names(&third.host_endpoints), ["c"]);
    assert!(
        third.next_page_token.is_empty(),
        "the objects created later are not in the listing"
    );
}

// === Requests over the limit ===

#[tokio::test]
async fn a_request_over_the_size_limit_is_resource_exhausted() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    let hep = mk_large("huge", 5 * 1024 * 1024, 0);
    let status = assert_code(
        client
            .create_host_endpoint(pb::CreateHostEndpointRequest {
                host_endpoint: Some(hep),
            })
            .await,
        Code::ResourceExhausted,
    );
    assert!(
        status.message().contains("larger than the server takes")
            && status.message().contains("4194304"),
        "{status:?}"
    );
    assert_code(get(&mut client, "huge").await, Code::NotFound);
}
