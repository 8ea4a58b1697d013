//! The watcher's recovery, against a scripted in-process server over an in-memory connection,
//! in paused time (the backoff's sleeps take none): resuming after its last revision,
//! relisting when the server no longer has it, and the spacing of failed attempts.

use std::{
    collections::VecDeque,
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use hostendpoint_api::{
    frames::{EventFrame, WatchHostEndpointsResponse},
    pb::{
        self, EventType,
        host_endpoint_service_server::{HostEndpointService, HostEndpointServiceServer},
    },
    wire,
};
use prost::Message as _;
use tokio::time::Instant;
use tonic::{Request, Response, Status, transport::Endpoint};
use tonic_types::{ErrorDetails, StatusExt as _};

use super::*;

/// What the scripted server answers to one WatchHostEndpoints call.
enum Answer {
    /// Opens the stream with these messages, then ends it with the status (or keeps it open).
    Stream(Vec<WatchHostEndpointsResponse>, Option<Status>),
    /// Refuses to open it.
    Refuse(Status),
}

/// The server: answers watches from its script, in order, and records every request (with
/// the paused clock's time).
#[derive(Default)]
struct Scripted {
    answers: Mutex<VecDeque<Answer>>,
    requests: Mutex<Vec<(pb::WatchHostEndpointsRequest, Instant)>>,
}

type Events = Pin<Box<dyn Stream<Item = Result<WatchHostEndpointsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl HostEndpointService for Scripted {
    type WatchHostEndpointsStream = Events;

    async fn watch_host_endpoints(
        &self,
        request: Request<pb::WatchHostEndpointsRequest>,
    ) -> Result<Response<Events>, Status> {
        let at = Instant::now();
        self.requests
            .lock()
            .expect("lock")
            .push((request.into_inner(), at));
        let answer = self.answers.lock().expect("lock").pop_front();
        let (messages, end) = match answer {
            Some(Answer::Stream(messages, end)) => (messages, end),
            Some(Answer::Refuse(status)) => return Err(status),
            None => (Vec::new(), None),
        };
        let messages = futures::stream::iter(messages.into_iter().map(Ok));
        let end: Events = match end {
            Some(status) => Box::pin(futures::stream::once(async { Err(status) })),
            None => Box::pin(futures::stream::pending()),
        };
        let mut response = Response::new(Box::pin(messages.chain(end)) as Events);
        response
            .metadata_mut()
            .insert(wire::STORE_UID_HEADER, STORE_UID.parse().expect("ascii"));
        Ok(response)
    }

    async fn create_host_endpoint(
        &self,
        _: Request<pb::CreateHostEndpointRequest>,
    ) -> Result<Response<pb::CreateHostEndpointResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn get_host_endpoint(
        &self,
        _: Request<pb::GetHostEndpointRequest>,
    ) -> Result<Response<pb::GetHostEndpointResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn list_host_endpoints(
        &self,
        _: Request<pb::ListHostEndpointsRequest>,
    ) -> Result<Response<pb::ListHostEndpointsResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn update_host_endpoint(
        &self,
        _: Request<pb::UpdateHostEndpointRequest>,
    ) -> Result<Response<pb::UpdateHostEndpointResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn delete_host_endpoint(
        &self,
        _: Request<pb::DeleteHostEndpointRequest>,
    ) -> Result<Response<pb::DeleteHostEndpointResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn list_ip_set_members(
        &self,
        _: Request<pb::ListIpSetMembersRequest>,
    ) -> Result<Response<pb::ListIpSetMembersResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }
}

const STORE_UID: &str = "store-1";

/// A client of `server` over in-memory connections: each new connection is served by a
/// server task of its own.
async fn client_of(server: &Arc<Scripted>) -> Client {
    let server = Arc::clone(server);
    let channel = Endpoint::from_static("http://scripted").connect_with_connector_lazy(
        tower::service_fn(move |_| {
            let (ours, theirs) = tokio::io::duplex(64 * 1024);
            let service = HostEndpointServiceServer::from_arc(Arc::clone(&server));
            tokio::spawn(
                tonic::transport::Server::builder()
                    .add_service(service)
                    .serve_with_incoming(futures::stream::iter([Ok::<_, std::io::Error>(theirs)])),
            );
            async move { Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(ours)) }
        }),
    );
    Client::new(channel)
}

fn object(kind: EventType, name: &str, revision: u64) -> EventFrame {
    let hep = pb::HostEndpoint {
        metadata: Some(pb::ObjectMeta {
            name: name.into(),
            resource_version: revision,
            ..Default::default()
        }),
        spec: Some(pb::HostEndpointSpec {
            node: "n1".into(),
            interface_name: "eth0".into(),
            ..Default::default()
        }),
    };
    EventFrame::object(kind, Bytes::from(hep.encode_to_vec()), revision)
}

fn message(frames: Vec<EventFrame>) -> WatchHostEndpointsResponse {
    WatchHostEndpointsResponse::from_frames(frames)
}

/// A listing of `a` at revision 1, then `a` modified at 2.
fn listing_then_a_change() -> Vec<WatchHostEndpointsResponse> {
    vec![
        message(vec![
            object(EventType::Added, "a", 1),
            EventFrame::marker(EventType::Synced, 1),
        ]),
        message(vec![object(EventType::Modified, "a", 2)]),
    ]
}

/// What `events` says, as (event, name, revision).
fn summary(event: &Event) -> (&'static str, String, u64) {
    match event {
        Event::Init => ("Init", String::new(), 0),
        Event::InitApply(hep) => (
            "InitApply",
            hep.metadata.name.clone(),
            hep.metadata.resource_version,
        ),
        Event::InitDone(revision) => ("InitDone", String::new(), *revision),
        Event::Apply(hep) => (
            "Apply",
            hep.metadata.name.clone(),
            hep.metadata.resource_version,
        ),
        Event::Delete(hep) => (
            "Delete",
            hep.metadata.name.clone(),
            hep.metadata.resource_version,
        ),
    }
}

async fn take(
    events: &mut (impl Stream<Item = Result<Event>> + Unpin),
    count: usize,
) -> Vec<(&'static str, String, u64)> {
    let mut taken = Vec::new();
    while taken.len() < count {
        let event = events.next().await.expect("the watcher never ends");
        // Errors it recovers from are reported too; only events are counted.
        if let Ok(event) = event {
            taken.push(summary(&event));
        }
    }
    taken
}

fn config() -> Config {
    Config {
        backoff: BackoffConfig {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(8),
            reset_after: Duration::from_secs(120),
        },
        ..Config::default()
    }
}

fn requested(server: &Scripted) -> Vec<(u64, String)> {
    server
        .requests
        .lock()
        .expect("lock")
        .iter()
        .map(|(request, _)| (request.resource_version, request.store_uid.clone()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_broken_watch_resumes_after_its_last_revision_with_the_store_uid() {
    let server = Arc::new(Scripted::default());
    server.answers.lock().expect("lock").extend([
        Answer::Stream(
            listing_then_a_change(),
            Some(Status::unavailable("going away")),
        ),
        Answer::Stream(
            vec![message(vec![object(EventType::Deleted, "a", 3)])],
            None,
        ),
    ]);
    let mut events = Box::pin(watcher(client_of(&server).await, config()));
    assert_eq!(
        take(&mut events, 5).await,
        [
            ("Init", String::new(), 0),
            ("InitApply", "a".into(), 1),
            ("InitDone", String::new(), 1),
            ("Apply", "a".into(), 2),
            ("Delete", "a".into(), 3),
        ]
    );
    assert_eq!(
        requested(&server),
        [(0, String::new()), (2, STORE_UID.to_owned())]
    );
}

#[tokio::test(start_paused = true)]
async fn a_compacted_position_is_relisted_at_once() {
    let server = Arc::new(Scripted::default());
    let compacted = Status::with_error_details(
        tonic::Code::OutOfRange,
        "resource version 2 is compacted",
        ErrorDetails::with_error_info(
            wire::reason::REVISION_COMPACTED,
            wire::ERROR_DOMAIN,
            [(
                wire::metadata::OLDEST_RESUMABLE_REVISION.to_owned(),
                "5".to_owned(),
            )],
        ),
    );
    server.answers.lock().expect("lock").extend([
        Answer::Stream(
            listing_then_a_change(),
            Some(Status::unavailable("going away")),
        ),
        Answer::Refuse(compacted),
        Answer::Stream(
            vec![message(vec![
                object(EventType::Added, "b", 6),
                EventFrame::marker(EventType::Synced, 6),
            ])],
            None,
        ),
    ]);
    let mut events = Box::pin(watcher(client_of(&server).await, config()));
    let started = Instant::now();
    let events = take(&mut events, 7).await;
    assert_eq!(
        events[4..],
        [
            ("Init", String::new(), 0),
            ("InitApply", "b".into(), 6),
            ("InitDone", String::new(), 6),
        ]
    );
    assert_eq!(
        requested(&server),
        [
            (0, String::new()),
            (2, STORE_UID.to_owned()),
            (0, String::new())
        ]
    );
    // The relist follows the refusal without a backoff: only the one after the break waited.
    let times: Vec<Instant> = server
        .requests
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, at)| *at)
        .collect();
    assert!(
        times[2] - times[1] < Duration::from_millis(100),
        "{:?}",
        times[2] - times[1]
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn failed_attempts_are_spaced_by_a_growing_capped_backoff() {
    let server = Arc::new(Scripted::default());
    let refusals = (0..6).map(|_| Answer::Refuse(Status::unavailable("not yet")));
    server.answers.lock().expect("lock").extend(refusals);
    server
        .answers
        .lock()
        .expect("lock")
        .push_back(Answer::Stream(listing_then_a_change(), None));
    let mut events = Box::pin(watcher(client_of(&server).await, config()));
    assert_eq!(take(&mut events, 4).await.len(), 4);
    let times: Vec<Instant> = server
        .requests
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, at)| *at)
        .collect();
    assert_eq!(times.len(), 7);
    let gaps: Vec<Duration> = times.windows(2).map(|pair| pair[1] - pair[0]).collect();
    // Bases 1, 2, 4, 8, 8, 8 s with ±50 % jitter, never above the 8 s cap.
    for (gap, base) in gaps.iter().zip([1.0, 2.0, 4.0, 8.0, 8.0, 8.0]) {
        let seconds = gap.as_secs_f64();
        assert!(
            seconds >= base * 0.5 - 0.01 && seconds <= (base * 1.5f64).min(8.0) + 0.01,
            "{gaps:?}"
        );
    }
    assert_eq!(server.requests.lock().expect("lock").len(), 7);
}
