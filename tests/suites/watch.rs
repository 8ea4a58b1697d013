//! WatchHostEndpoints: every line of the contract in the .proto, through a real server.

use std::time::Duration;

use hostendpoint_api::{
    pb::{self, EventType},
    wire::{metadata, reason},
};
use hostendpoint_tests::{
    metrics::{Scrape, wait_for_scrape},
    watching::*,
    *,
};
use tonic::Code;
use tonic_types::StatusExt as _;

/// How long background compaction may take to reach the last write.
const COMPACTION_DEADLINE: Duration = Duration::from_secs(30);

/// Creates `n` objects `hep-0..n` alternating between nodes n1 and n2.
async fn mk_objects(client: &mut ApiClient, n: usize) {
    for i in 0..n {
        let node = if i % 2 == 0 { "n1" } else { "n2" };
        create(client, mk_hep(&format!("hep-{i}"), node)).await;
    }
}

fn event_names(events: &[pb::WatchEvent]) -> Vec<(EventType, String, u64)> {
    events
        .iter()
        .map(|e| {
            let name = e
                .host_endpoint
                .as_ref()
                .map(|h| meta(h).name.clone())
                .unwrap_or_default();
            (kind(e), name, e.resource_version)
        })
        .collect()
}

#[tokio::test]
async fn snapshot_then_synced_then_every_change() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    mk_objects(&mut client, 5).await;
    let mut watch = watch(&mut client, "n1", 0).await.expect("watch opens");
    let (added, synced) = watch.expect_snapshot().await;
    assert_eq!(synced, rev(5));
    assert_eq!(names(&added), ["hep-0", "hep-2", "hep-4"]);
    let listed = list(&mut client, "n1", 0, "").await;
    assert_eq!(
        added, listed.host_endpoints,
        "the snapshot is the listing at its revision"
    );

    let mut moved = mk_hep("hep-1", "n1");
    meta_mut(&mut moved).labels.insert("k".into(), "v".into());
    update(&mut client, moved, false).await.expect("update");
    create(&mut client, mk_hep("late", "n1")).await;
    let events = watch.object_events_until(rev(7)).await;
    assert_eq!(
        event_names(&events),
        [
            (EventType::Added, "hep-1".into(), rev(6)),
            (EventType::Added, "late".into(), rev(7))
        ]
    );
}

#[tokio::test]
async fn resume_delivers_every_change_after_the_revision_once() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    mk_objects(&mut client, 4).await;
    update(&mut client, mk_hep("hep-0", "n3"), false)
        .await
        .expect("update");
    delete(&mut client, "hep-1", 0, "").await.expect("delete");
    let mut watch = watch(&mut client, "", rev(2)).await.expect("watch opens");
    let events = watch.object_events_until(rev(6)).await;
    assert_eq!(
        event_names(&events),
        [
            (EventType::Added, "hep-2".into(), rev(3)),
            (EventType::Added, "hep-3".into(), rev(4)),
            (EventType::Modified, "hep-0".into(), rev(5)),
            (EventType::Deleted, "hep-1".into(), rev(6)),
        ]
    );
}

#[tokio::test]
async fn resume_works_across_a_server_restart() {
    let mut server = ServerProcess::start();
    let mut client = server.client().await;
    mk_objects(&mut client, 3).await;
    server.restart().await;
    let mut client = server.client().await;
    create(&mut client, mk_hep("after-restart", "n1")).await;
    let mut watch = watch(&mut client, "n1", rev(1)).await.expect("watch opens");
    let events = watch.object_events_until(rev(4)).await;
    assert_eq!(
        event_names(&events),
        [
            (EventType::Added, "hep-2".into(), rev(3)),
            (EventType::Added, "after-restart".into(), rev(4))
        ]
    );
}

#[tokio::test]
async fn a_compacted_revision_is_out_of_range_with_error_info_then_relist_works() {
    // sled compacts its change log down to --retained-revisions by itself; etcd's history is
    // compacted by etcd's own compaction, which the test runs.
    let server = if etcd_backend() {
        ServerProcess::start()
    } else {
        ServerProcess::start_with(&["--retained-revisions", "5", "--compaction-interval", "20ms"])
    };
    let mut client = server.client().await;
    mk_objects(&mut client, 20).await;
    let (oldest, current) = (rev(15), rev(20));
    if let Some(etcd) = server.etcd() {
        // Compacting at revision C keeps the changes from C on: C - 1 is the oldest resumable.
        etcd.compact(oldest + 1);
    }
    // Compaction runs in the background: wait until it has caught up with the last write.
    let (status, info) = wait_for(
        "compaction up to the last write",
        COMPACTION_DEADLINE,
        || {
            let mut client = client.clone();
            async move {
                let status = watch(&mut client, "", rev(1)).await.err()?;
                assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
                let info = status.get_details_error_info().expect("an ErrorInfo");
                assert_eq!(info.reason, reason::REVISION_COMPACTED);
                let named = info.metadata.get(metadata::OLDEST_RESUMABLE_REVISION);
                (named == Some(&oldest.to_string())).then_some((status, info))
            }
        },
    )
    .await;
    assert_eq!(
        info.metadata
            .get(metadata::CURRENT_REVISION)
            .map(String::as_str),
        Some(current.to_string().as_str())
    );
    assert!(
        status.message().contains(&oldest.to_string()),
        "{}",
        status.message()
    );

    // The oldest resumable revision itself still resumes.
    let mut resumed = watch(&mut client, "", oldest)
        .await
        .expect("the oldest resumable revision is retained");
    assert_eq!(resumed.object_events_until(current).await.len(), 5);
    // Relist.
    let mut relist = watch(&mut client, "", 0)
        .await
        .expect("a snapshot always works");
    let (added, synced) = relist.expect_snapshot().await;
    assert_eq!((added.len(), synced), (20, current));
}

#[tokio::test]
async fn a_future_revision_waits_for_it_then_is_out_of_range() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    mk_objects(&mut client, 2).await;

    let mut waiting_client = client.clone();
    let waiting = tokio::spawn(async move {
        let mut watch = watch(&mut waiting_client, "", rev(3))
            .await
            .expect("revision 3 appears in time");
        watch.expect_non_bookmark().await
    });
    // A watch counts as open from when the server took it, before it waits for its revision.
    let metrics = server.metrics_addr.expect("the harness serves metrics");
    wait_for_scrape(metrics, "the watch reached the server", |scrape| {
        assert!(
            !waiting.is_finished(),
            "the watch was answered before revision 3 existed"
        );
        scrape.get("hostendpointd_watchers", &[("filter", "all")]) == 1.0
    })
    .await;
    create(&mut client, mk_hep("third", "n1")).await;
    create(&mut client, mk_hep("fourth", "n1")).await;
    let event = waiting.await.expect("the waiting watch");
    assert_eq!(
        event.resource_version,
        rev(4),
        "the watch starts after revision 3"
    );

    let status = watch(&mut client, "", 1000)
        .await
        .expect_err("1000 never comes");
    assert_eq!(status.code(), Code::OutOfRange);
    let info = status.get_details_error_info().expect("an ErrorInfo");
    assert_eq!(info.reason, reason::REVISION_NOT_YET_AVAILABLE);
}

#[tokio::test]
async fn another_store_uid_is_failed_precondition() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    let store_uid = list(&mut client, "", 0, "").await.store_uid;
    let request = |uid: &str| pb::WatchHostEndpointsRequest {
        store_uid: uid.into(),
        ..Default::default()
    };
    let status = watch_with(&mut client, request("some-other-store"))
        .await
        .expect_err("mismatch");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let info = status.get_details_error_info().expect("an ErrorInfo");
    assert_eq!(info.reason, reason::STORE_UID_MISMATCH);
    assert_eq!(info.metadata.get(metadata::STORE_UID), Some(&store_uid));
    watch_with(&mut client, request(&store_uid))
        .await
        .expect("the right uid is accepted");
}

#[tokio::test]
async fn filters_see_entering_staying_leaving_and_deleting() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    let mut on_n1 = watch(&mut client, "n1", 0).await.expect("watch");
    let mut on_n2 = watch(&mut client, "n2", 0).await.expect("watch");
    on_n1.expect_snapshot().await;
    on_n2.expect_snapshot().await;

    let created = create(&mut client, mk_hep("a", "n1")).await; // 1
    let mut relabelled = created.clone();
    meta_mut(&mut relabelled)
        .labels
        .insert("k".into(), "v".into());
    let relabelled = update(&mut client, relabelled, false)
        .await
        .expect("update"); // 2
    let mut moved = relabelled.clone();
    spec_mut(&mut moved).node = "n2".into();
    update(&mut client, moved, false).await.expect("move"); // 3
    let deleted = delete(&mut client, "a", 0, "").await.expect("delete"); // 4

    let n1 = on_n1.object_events_until(rev(3)).await;
    assert_eq!(
        event_names(&n1),
        [
            (EventType::Added, "a".into(), rev(1)),
            (EventType::Modified, "a".into(), rev(2)),
            (EventType::Deleted, "a".into(), rev(3)),
        ]
    );
    let left = n1[2].host_endpoint.clone().expect("object");
    assert_eq!(
        spec(&left).node,
        "n1",
        "leaving carries the last state that matched"
    );
    assert_eq!(meta(&left).labels.get("k").map(String::as_str), Some("v"));
    assert_eq!(
        meta(&left).resource_version,
        rev(3),
        "stamped with the revision of the change"
    );

    let n2 = on_n2.object_events_until(rev(4)).await;
    assert_eq!(
        event_names(&n2),
        [
            (EventType::Added, "a".into(), rev(3)),
            (EventType::Deleted, "a".into(), rev(4))
        ]
    );
    assert_eq!(
        n2[1].host_endpoint.as_ref(),
        Some(&deleted),
        "a delete carries the final state"
    );
    for event in n1.iter().chain(&n2) {
        let object_version = event
            .host_endpoint
            .as_ref()
            .map(|h| meta(h).resource_version);
        assert_eq!(object_version, Some(event.resource_version));
    }
}

#[tokio::test]
async fn bookmarks_carry_the_current_revision_even_when_nothing_matched() {
    let server = ServerProcess::start_with(&["--bookmark-interval", "100ms"]);
    let mut client = server.client().await;
    let mut idle = watch(&mut client, "quiet-node", 0).await.expect("watch");
    let (added, synced) = idle.expect_snapshot().await;
    assert!(added.is_empty());
    assert_eq!(synced, rev(0));
    mk_objects(&mut client, 3).await;
    let bookmark = loop {
        let event = idle.expect_event().await;
        assert_eq!(
            kind(&event),
            EventType::Bookmark,
            "nothing matches this node"
        );
        if event.resource_version == rev(3) {
            break event;
        }
    };
    // Resuming from the bookmark replays nothing.
    let mut resumed = watch(&mut client, "quiet-node", bookmark.resource_version)
        .await
        .expect("watch");
    let next = resumed.expect_event().await;
    assert_eq!(
        (kind(&next), next.resource_version),
        (EventType::Bookmark, rev(3))
    );
}

#[tokio::test]
async fn shutdown_ends_every_watch_after_a_final_bookmark() {
    let mut server =
        ServerProcess::start_with(&["--drain-timeout", "60s", "--bookmark-interval", "50ms"]);
    let mut client = server.client().await;
    mk_objects(&mut client, 2).await;
    let mut live = watch(&mut client, "", 0).await.expect("watch");
    live.expect_snapshot().await;
    // Resumed after the first write: the only later change (hep-1, the second write) is on
    // n2, so it sees a bookmark at its revision and nothing else.
    let mut resumed = watch(&mut client, "n1", rev(1)).await.expect("watch");
    assert!(resumed.object_events_until(rev(2)).await.is_empty());

    let status = server.terminate().await;
    assert!(status.success(), "clean exit: {status}");
    assert!(
        !server.log_text().contains("drain timed out"),
        "watches ended promptly"
    );
    for watch in [&mut live, &mut resumed] {
        // Periodic bookmarks may come first; the last event before the status is the final one.
        let mut last_bookmark = None;
        let last = loop {
            match watch.next().await {
                Ok(Some(event)) => last_bookmark = Some(event),
                Ok(None) => panic!("the stream must end with a status"),
                Err(status) => {
                    assert_eq!(status.code(), Code::Unavailable);
                    break last_bookmark.take().expect("a final bookmark");
                }
            }
        };
        assert_eq!(
            (kind(&last), last.resource_version),
            (EventType::Bookmark, rev(2))
        );
    }
}

#[tokio::test]
async fn a_watcher_that_stops_reading_catches_up_from_disk_without_loss() {
    // A tiny in-memory buffer, so the stalled watcher falls out of it at once.
    let server = ServerProcess::start_with(&["--watch-buffer", "8"]);
    let mut client = server.client().await;
    let mut stalled = watch(&mut client, "", 0).await.expect("watch");
    stalled.expect_snapshot().await;
    let mut reader = watch(&mut client, "", 0).await.expect("watch");
    reader.expect_snapshot().await;

    // Concurrent writers, so that the writes outrun the HTTP/2 window of the stalled stream.
    const WRITERS: usize = 16;
    const PER_WRITER: usize = 150;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let mut client = client.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..PER_WRITER {
                let mut hep = mk_hep(&format!("w{w}-{i}"), "n1");
                meta_mut(&mut hep)
                    .annotations
                    .insert("pad".into(), "x".repeat(512));
                create(&mut client, hep).await;
            }
        }));
    }
    let total = (WRITERS * PER_WRITER) as u64;
    // The active reader keeps up while the stalled one reads nothing.
    let mut live = Rebuilt::default();
    for event in reader.object_events_until(rev(total)).await {
        live.apply(&event);
    }
    for task in tasks {
        task.await.expect("writer");
    }
    let mut caught_up = Rebuilt::default();
    for event in stalled.object_events_until(rev(total)).await {
        caught_up.apply(&event);
    }
    assert_eq!(caught_up.objects.len() as u64, total);
    assert_eq!(caught_up.objects, live.objects);
    let metrics = server.metrics_addr.expect("the harness serves metrics");
    let catchups = Scrape::of(metrics).get("hostendpointd_watch_catchups_total", &[]);
    assert!(catchups >= 1.0, "the stalled watcher took the on-disk path");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_watches_share_one_connection() {
    const WATCHES: usize = 10_000;
    let server = ServerProcess::start();
    let channel = server.channel().await;
    let mut client = ApiClient::new(channel.clone());
    create(&mut client, mk_hep("before", "n1")).await;
    let mut opened = Vec::with_capacity(WATCHES);
    for i in 0..WATCHES {
        let mut client = ApiClient::new(channel.clone());
        let node = if i % 2 == 0 { "" } else { "n1" };
        opened.push(tokio::spawn(async move {
            let mut watch = watch(&mut client, node, 0).await.expect("watch opens");
            let (added, synced) = watch.expect_snapshot().await;
            assert_eq!((added.len(), synced), (1, rev(1)));
            watch
        }));
    }
    let mut watches = Vec::with_capacity(WATCHES);
    for task in opened {
        watches.push(task.await.expect("watch task"));
    }
    create(&mut client, mk_hep("after", "n1")).await;
    let mut received = Vec::with_capacity(WATCHES);
    for mut watch in watches {
        received.push(tokio::spawn(
            async move { watch.expect_non_bookmark().await },
        ));
    }
    for task in received {
        let event = task.await.expect("receiver");
        assert_eq!(
            (kind(&event), event.resource_version),
            (EventType::Added, rev(2))
        );
    }
}

#[tokio::test]
async fn grpcurl_prints_the_snapshot_synced_and_a_live_change() {
    use tokio::io::AsyncReadExt as _;

    let server = ServerProcess::start();
    let mut client = server.client().await;
    create(&mut client, mk_sample()).await;
    let mut grpcurl = tokio::process::Command::new(tools::grpcurl_path())
        .args(["-plaintext", "-d", r#"{"node": "host1"}"#])
        .arg(server.addr.to_string())
        .arg("hostendpoint.v1.HostEndpointService/WatchHostEndpoints")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("grpcurl starts");
    let mut stdout = grpcurl.stdout.take().expect("piped");
    let mut printed = String::new();
    let mut read_until = async |needle: &str| {
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        while !printed.contains(needle) {
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout_at(deadline, stdout.read(&mut chunk))
                .await
                .unwrap_or_else(|_| panic!("grpcurl printed {needle} in time; got:\n{printed}"))
                .expect("grpcurl's stdout");
            assert!(n > 0, "grpcurl ended early:\n{printed}");
            printed.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
        printed.clone()
    };
    let snapshot = read_until("EVENT_TYPE_SYNCED").await;
    assert!(
        snapshot.contains("\"type\": \"EVENT_TYPE_ADDED\""),
        "{snapshot}"
    );
    assert!(snapshot.contains("\"name\": \"endpoint1\""), "{snapshot}");
    assert!(snapshot.contains("\"expectedIPs\""), "{snapshot}");
    create(&mut client, mk_hep("live-one", "host1")).await;
    let live = read_until("live-one").await;
    let version = format!("\"resourceVersion\": \"{}\"", rev(2));
    assert!(live.contains(&version), "{live}");
}
