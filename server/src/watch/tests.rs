//! The watch state machine on an in-memory store, in paused time: the snapshot and SYNCED,
//! live changes, catching up after a lag, bookmarks, and how the server ends a watch.

use std::{sync::Arc, time::Duration};

use futures::{Stream, StreamExt as _};
use hostendpoint_api::pb::EventType;
use prost::Message as _;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Error, Item, MAX_BATCH_EVENTS, WatchConfig, WatchRequest, Watches};
use crate::{
    metrics::WatchMetrics,
    store::{
        Error as StoreError, Store as _,
        memory::{MemoryStore, STORE_UID},
        view::FUTURE_REVISION_WAIT,
    },
};

const BOOKMARKS: Duration = Duration::from_secs(30);

/// One event as a test compares it: its type, revision and object name (empty for markers).
type Event = (EventType, u64, String);

/// The watch service over `store`, its metrics and its shutdown signal.
struct Service {
    watches: Arc<Watches<MemoryStore>>,
    metrics: WatchMetrics,
    shutdown: CancellationToken,
}

fn service(store: &Arc<MemoryStore>) -> Service {
    let metrics = WatchMetrics::default();
    let config = WatchConfig {
        bookmark_interval: BOOKMARKS,
        metrics: metrics.clone(),
    };
    let shutdown = CancellationToken::new();
    let watches = Watches::new(Arc::clone(store), config, shutdown.clone());
    Service {
        watches,
        metrics,
        shutdown,
    }
}

fn from(resource_version: u64) -> WatchRequest {
    WatchRequest {
        resource_version,
        ..WatchRequest::default()
    }
}

fn on_node(node: &str) -> WatchRequest {
    WatchRequest {
        node: Some(node.into()),
        ..WatchRequest::default()
    }
}

async fn open(
    service: &Service,
    request: WatchRequest,
) -> impl Stream<Item = Item> + Unpin + use<> {
    let stream = service
        .watches
        .open(request)
        .await
        .expect("the watch opens");
    Box::pin(stream)
}

/// The next message's events. Time is paused, so the deadline passes at once when the watch
/// has nothing to send before it: shorter than [`BOOKMARKS`] unless a bookmark is awaited.
async fn next_within(
    stream: &mut (impl Stream<Item = Item> + Unpin),
    deadline: Duration,
) -> Result<Vec<Event>, Error> {
    let item = tokio::time::timeout(deadline, stream.next())
        .await
        .expect("a message within the deadline")
        .expect("the stream goes on");
    item.map(|response| events(&response))
}

async fn next(stream: &mut (impl Stream<Item = Item> + Unpin)) -> Vec<Event> {
    next_within(stream, BOOKMARKS / 2)
        .await
        .expect("a message, not an error")
}

fn events(response: &hostendpoint_api::pb::WatchHostEndpointsResponse) -> Vec<Event> {
    let decoded = hostendpoint_api::pb::WatchHostEndpointsResponse::decode(
        response.encode_to_vec().as_slice(),
    )
    .expect("the response decodes");
    decoded
        .events
        .into_iter()
        .map(|event| {
            let name = event
                .host_endpoint
                .and_then(|hep| hep.metadata)
                .map(|meta| meta.name)
                .unwrap_or_default();
            let kind = EventType::try_from(event.r#type).unwrap_or(EventType::Unspecified);
            (kind, event.resource_version, name)
        })
        .collect()
}

/// Paused time moves from timer to timer, in the timer wheel's millisecond steps.
fn assert_within_a_tick(elapsed: Duration, expected: Duration) {
    let tick = Duration::from_millis(1);
    assert!(
        elapsed >= expected && elapsed <= expected + tick,
        "{elapsed:?}, expected {expected:?}"
    );
}

fn event(kind: EventType, revision: u64, name: &str) -> Event {
    (kind, revision, name.to_owned())
}

fn marker(kind: EventType, revision: u64) -> Event {
    (kind, revision, String::new())
}

#[tokio::test(start_paused = true)]
async fn a_snapshot_comes_in_batches_then_synced_then_each_change() {
    let store = MemoryStore::new(64);
    let objects = MAX_BATCH_EVENTS as u64 + 10;
    for i in 0..objects {
        store.put(&format!("hep-{i:03}"), "n1", "a");
    }
    let service = service(&store);
    let mut watch = open(&service, from(0)).await;

    let first = next(&mut watch).await;
    assert_eq!(first.len(), MAX_BATCH_EVENTS, "a full first batch");
    assert!(first.iter().all(|(kind, ..)| *kind == EventType::Added));
    let second = next(&mut watch).await;
    assert_eq!(second.len(), 11, "the rest, then SYNCED");
    assert_eq!(second.last(), Some(&marker(EventType::Synced, objects)));

    store.put("hep-000", "n1", "b");
    store.delete_now("hep-001");
    assert_eq!(
        next(&mut watch).await,
        [
            event(EventType::Modified, objects + 1, "hep-000"),
            event(EventType::Deleted, objects + 2, "hep-001"),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_resume_sends_every_change_after_its_revision_from_the_history() {
    let store = MemoryStore::new(64);
    store.put("a", "n1", "1");
    store.put("b", "n1", "1");
    store.put("a", "n1", "2");
    let service = service(&store);
    let mut watch = open(&service, from(1)).await;
    assert_eq!(
        next(&mut watch).await,
        [
            event(EventType::Added, 2, "b"),
            event(EventType::Modified, 3, "a")
        ]
    );
    store.put("c", "n1", "1");
    assert_eq!(next(&mut watch).await, [event(EventType::Added, 4, "c")]);
}

#[tokio::test(start_paused = true)]
async fn bookmarks_come_every_interval_with_the_latest_revision_even_when_nothing_matched() {
    let store = MemoryStore::new(64);
    let service = service(&store);
    let mut watch = open(&service, on_node("quiet")).await;
    assert_eq!(next(&mut watch).await, [marker(EventType::Synced, 0)]);
    let start = Instant::now();
    store.put("a", "busy", "1");
    store.put("b", "busy", "1");

    let bookmark = next_within(&mut watch, BOOKMARKS * 2)
        .await
        .expect("a bookmark");
    assert_eq!(bookmark, [marker(EventType::Bookmark, 2)]);
    assert_within_a_tick(start.elapsed(), BOOKMARKS);
    let again = next_within(&mut watch, BOOKMARKS * 2)
        .await
        .expect("a bookmark");
    assert_eq!(again, [marker(EventType::Bookmark, 2)]);
    assert_within_a_tick(start.elapsed(), BOOKMARKS * 2);
}

#[tokio::test(start_paused = true)]
async fn a_watcher_that_falls_behind_the_buffer_catches_up_from_the_history() {
    let store = MemoryStore::new(4);
    let service = service(&store);
    let mut watch = open(&service, from(0)).await;
    assert_eq!(next(&mut watch).await, [marker(EventType::Synced, 0)]);
    let writes = 20;
    for i in 0..writes {
        store.put(&format!("hep-{i:02}"), "n1", "a");
    }

    let mut seen = Vec::new();
    while seen.len() < writes {
        seen.extend(next(&mut watch).await);
    }
    let expected: Vec<_> = (0..writes)
        .map(|i| event(EventType::Added, i as u64 + 1, &format!("hep-{i:02}")))
        .collect();
    assert_eq!(seen, expected, "every change once, in order");
    assert_eq!(service.metrics.catchups.get(), 1, "it lagged once");
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_a_synced_watch_with_a_final_bookmark_at_its_cursor() {
    let store = MemoryStore::new(64);
    store.put("a", "n1", "1");
    let service = service(&store);
    let mut watch = open(&service, on_node("n1")).await;
    next(&mut watch).await;
    store.put("b", "n2", "1");

    service.shutdown.cancel();
    let start = Instant::now();
    assert_eq!(next(&mut watch).await, [marker(EventType::Bookmark, 1)]);
    let end = next_within(&mut watch, BOOKMARKS).await;
    assert!(
        matches!(end, Err(Error::ShuttingDown { synced: true })),
        "{end:?}"
    );
    assert!(watch.next().await.is_none(), "nothing after the status");
    assert_eq!(start.elapsed(), Duration::ZERO, "at once, not at a tick");
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_the_snapshot_ends_it_without_a_bookmark() {
    let store = MemoryStore::new(64);
    for i in 0..MAX_BATCH_EVENTS * 2 {
        store.put(&format!("hep-{i:03}"), "n1", "a");
    }
    let service = service(&store);
    let mut watch = open(&service, from(0)).await;
    assert_eq!(next(&mut watch).await.len(), MAX_BATCH_EVENTS);

    service.shutdown.cancel();
    let end = next_within(&mut watch, BOOKMARKS).await;
    assert!(
        matches!(end, Err(Error::ShuttingDown { synced: false })),
        "{end:?}"
    );
    assert!(watch.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_store_that_becomes_unavailable_ends_the_watch_after_a_bookmark() {
    let store = MemoryStore::new(64);
    store.put("a", "n1", "1");
    let service = service(&store);
    let mut watch = open(&service, from(0)).await;
    next(&mut watch).await;

    store
        .view()
        .set_unavailable(Some("etcd is unreachable".into()));
    assert_eq!(next(&mut watch).await, [marker(EventType::Bookmark, 1)]);
    let end = next_within(&mut watch, BOOKMARKS).await;
    assert!(
        matches!(&end, Err(Error::Interrupted { reason }) if reason == "etcd is unreachable"),
        "{end:?}"
    );
    let refused = service.watches.open(from(0)).await.err();
    assert!(
        matches!(refused, Some(Error::Unavailable { .. })),
        "{refused:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_resume_from_a_compacted_revision_is_refused_and_counted() {
    let store = MemoryStore::new(64);
    for name in ["a", "b", "c", "d"] {
        store.put(name, "n1", "1");
    }
    store.compact(2);
    let service = service(&store);
    let refused = service.watches.open(from(1)).await.err();
    assert!(
        matches!(
            refused,
            Some(Error::History(StoreError::Compacted {
                requested: 1,
                oldest: 2,
                current: 4
            }))
        ),
        "{refused:?}"
    );
    assert_eq!(service.metrics.compacted.get(), 1);
    let mut resumed = open(&service, from(2)).await;
    assert_eq!(
        next(&mut resumed).await,
        [
            event(EventType::Added, 3, "c"),
            event(EventType::Added, 4, "d")
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_future_revision_is_waited_for_then_refused() {
    let store = MemoryStore::new(64);
    store.put("a", "n1", "1");
    let service = service(&store);

    let start = Instant::now();
    let refused = service.watches.open(from(2)).await.err();
    assert!(
        matches!(
            refused,
            Some(Error::FutureRevision {
                requested: 2,
                current: 1
            })
        ),
        "{refused:?}"
    );
    assert_within_a_tick(start.elapsed(), FUTURE_REVISION_WAIT);

    let writer = Arc::clone(&store);
    tokio::spawn(async move {
        tokio::time::sleep(FUTURE_REVISION_WAIT / 2).await;
        writer.put("b", "n1", "1");
        writer.put("c", "n1", "1");
    });
    let mut watch = open(&service, from(2)).await;
    assert_eq!(next(&mut watch).await, [event(EventType::Added, 3, "c")]);
}

#[tokio::test(start_paused = true)]
async fn another_stores_uid_is_refused_and_this_ones_accepted() {
    let store = MemoryStore::new(64);
    let service = service(&store);
    let other = WatchRequest {
        store_uid: Some("another-store".into()),
        ..WatchRequest::default()
    };
    let refused = service.watches.open(other).await.err();
    assert!(
        matches!(&refused, Some(Error::StoreMismatch { requested, actual })
            if requested == "another-store" && actual == STORE_UID),
        "{refused:?}"
    );
    let this = WatchRequest {
        store_uid: Some(STORE_UID.into()),
        ..WatchRequest::default()
    };
    assert!(service.watches.open(this).await.is_ok());
}
