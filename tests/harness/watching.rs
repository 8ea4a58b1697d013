//! A watch stream under test: reads events one at a time with an upper bound on each wait,
//! and rebuilds the state the events describe.

use std::{collections::BTreeMap, time::Duration};

use hostendpoint_api::{
    pb::{self, EventType},
    wire::STORE_UID_HEADER,
};
use tonic::{Status, Streaming};

use crate::{ApiClient, meta};

/// The longest a test waits for one watch event before failing.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

/// One open watch.
#[derive(Debug)]
pub struct Watch {
    stream: Streaming<pb::WatchHostEndpointsResponse>,
    buffered: std::collections::VecDeque<pb::WatchEvent>,
    store_uid: Option<String>,
}

/// Opens a watch.
pub async fn watch(
    client: &mut ApiClient,
    node: &str,
    resource_version: u64,
) -> Result<Watch, Status> {
    let request = pb::WatchHostEndpointsRequest {
        node: node.into(),
        resource_version,
        ..Default::default()
    };
    watch_with(client, request).await
}

/// Opens a watch with a full request.
pub async fn watch_with(
    client: &mut ApiClient,
    request: pb::WatchHostEndpointsRequest,
) -> Result<Watch, Status> {
    let response = client.watch_host_endpoints(request).await?;
    let store_uid = response
        .metadata()
        .get(STORE_UID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok(Watch {
        stream: response.into_inner(),
        buffered: Default::default(),
        store_uid,
    })
}

/// The type of an event.
pub fn kind(event: &pb::WatchEvent) -> EventType {
    EventType::try_from(event.r#type).unwrap_or(EventType::Unspecified)
}

impl Watch {
    /// The store the stream's revisions belong to, from its `store-uid` response header.
    pub fn store_uid(&self) -> Option<&str> {
        self.store_uid.as_deref()
    }

    /// The next event; `Err` when the stream ends with a status, `Ok(None)` when it ends
    /// cleanly. Panics after [`EVENT_TIMEOUT`].
    pub async fn next(&mut self) -> Result<Option<pb::WatchEvent>, Status> {
        if let Some(event) = self.buffered.pop_front() {
            return Ok(Some(event));
        }
        let message = tokio::time::timeout(EVENT_TIMEOUT, self.stream.message())
            .await
            .expect("a watch event arrives in time")?;
        let Some(message) = message else {
            return Ok(None);
        };
        assert!(
            !message.events.is_empty(),
            "the server never sends an empty batch"
        );
        self.buffered.extend(message.events);
        Ok(self.buffered.pop_front())
    }

    /// The next event, which must exist.
    pub async fn expect_event(&mut self) -> pb::WatchEvent {
        self.next()
            .await
            .expect("the watch goes on")
            .expect("the watch is not over")
    }

    /// The next event that is not a BOOKMARK.
    pub async fn expect_non_bookmark(&mut self) -> pb::WatchEvent {
        loop {
            let event = self.expect_event().await;
            if kind(&event) != EventType::Bookmark {
                return event;
            }
        }
    }

    /// Events up to and including SYNCED, which must all be ADDED before it.
    pub async fn expect_snapshot(&mut self) -> (Vec<pb::HostEndpoint>, u64) {
        let mut added = Vec::new();
        loop {
            let event = self.expect_event().await;
            match kind(&event) {
                EventType::Added => added.push(event.host_endpoint.expect("ADDED has an object")),
                EventType::Synced => return (added, event.resource_version),
                other => panic!("only ADDED may come before SYNCED, got {other:?}"),
            }
        }
    }

    /// Object events until one at `revision` or later, skipping bookmarks.
    pub async fn object_events_until(&mut self, revision: u64) -> Vec<pb::WatchEvent> {
        let mut events = Vec::new();
        loop {
            let event = self.expect_event().await;
            let at = event.resource_version;
            match kind(&event) {
                EventType::Bookmark if at >= revision => return events,
                EventType::Bookmark | EventType::Synced => {}
                _ => {
                    events.push(event);
                    if at >= revision {
                        return events;
                    }
                }
            }
        }
    }
}

/// The objects a sequence of events describes, by name; checks the event rules on the way
/// (no duplicate ADDED, no MODIFIED or DELETED of an unknown object, revisions increasing, an
/// object's resource_version equal to its event's).
#[derive(Debug, Default)]
pub struct Rebuilt {
    /// The objects, by name.
    pub objects: BTreeMap<String, pb::HostEndpoint>,
    /// The revision of the last event applied.
    pub revision: u64,
}

impl Rebuilt {
    /// The state a snapshot (the ADDED events before SYNCED) describes.
    pub fn from_snapshot(added: Vec<pb::HostEndpoint>, synced: u64) -> Self {
        let objects: BTreeMap<_, _> = added
            .into_iter()
            .map(|hep| {
                assert!(
                    meta(&hep).resource_version <= synced,
                    "snapshot objects are at or before SYNCED"
                );
                (meta(&hep).name.clone(), hep)
            })
            .collect();
        Self {
            objects,
            revision: synced,
        }
    }

    /// Applies one event that follows the snapshot.
    pub fn apply(&mut self, event: &pb::WatchEvent) {
        let kind = kind(event);
        if matches!(kind, EventType::Bookmark | EventType::Synced) {
            assert!(
                event.resource_version >= self.revision,
                "markers never go back"
            );
            self.revision = event.resource_version;
            return;
        }
        assert!(
            event.resource_version > self.revision,
            "object events come in increasing revision order: {} after {}",
            event.resource_version,
            self.revision
        );
        self.revision = event.resource_version;
        let hep = event
            .host_endpoint
            .clone()
            .expect("object events carry the object");
        assert_eq!(meta(&hep).resource_version, event.resource_version);
        let name = meta(&hep).name.clone();
        let present = self.objects.contains_key(&name);
        match kind {
            EventType::Added => {
                assert!(!present, "ADDED for {name}, which is already there");
                self.objects.insert(name, hep);
            }
            EventType::Modified => {
                assert!(present, "MODIFIED for {name}, which is not there");
                self.objects.insert(name, hep);
            }
            EventType::Deleted => {
                assert!(present, "DELETED for {name}, which is not there");
                self.objects.remove(&name);
            }
            other => panic!("unexpected event type {other:?}"),
        }
    }
}
