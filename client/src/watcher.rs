//! A watcher in the style of kube-rs's: a never-ending stream of [`Event`]s that lists, then
//! follows changes, resuming after transport errors and relisting when the server says the
//! position is gone.
//!
//! - A transport error (the server restarted, the network dropped) resumes from the last
//!   revision seen, an object event's or a bookmark's, after a jittered exponential backoff;
//!   the server replays exactly the changes after it, so nothing is skipped or repeated.
//! - OUT_OF_RANGE (the revision was compacted) or FAILED_PRECONDITION (the store was replaced)
//!   starts over with a fresh listing: `Init`, `InitApply`s, `InitDone`.
//! - Any other error is yielded, and the watcher tries again after the backoff.
//!
//! Which error is which is the client's one table, [`Error::recovery`]: a transient one
//! ([`Recovery::Retry`]) resumes, and `is_transient` says the same of it.
//!
//! It logs what a person following it wants to know, in words: each failure with the time to
//! the next attempt (warn), and the attempt that restored the watch (info). [`Stats`] counts
//! the recoveries while the watcher runs, for a caller's metrics.

use std::{
    collections::VecDeque,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use futures::Stream;
use hostendpoint_api::{
    model::{HostEndpoint, Revision},
    pb::{self, EventType},
};
use tonic::{Status, Streaming};
use tracing::{debug, info, warn};

use crate::{
    Client, Error, Recovery, Result,
    backoff::{Backoff, BackoffConfig},
    client::object,
};

/// What a watcher reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A listing starts: the objects that follow, up to `InitDone`, replace what was known.
    Init,
    /// An object of the listing.
    InitApply(HostEndpoint),
    /// The listing is complete at this revision.
    InitDone(Revision),
    /// An object was created or changed (or entered the watch's filter).
    Apply(HostEndpoint),
    /// An object was deleted (or left the watch's filter); its last state.
    Delete(HostEndpoint),
}

/// What a watcher selects and how it retries.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Only this node's host endpoints; `None` for all.
    pub node: Option<String>,
    /// A Calico label selector; `None` for all.
    pub selector: Option<String>,
    /// Spacing of reconnection attempts.
    pub backoff: BackoffConfig,
    /// Where the watcher counts its recoveries; keep a clone to read them.
    pub stats: Stats,
}

/// What a watcher has recovered from, readable while it runs. Clones share the counts, so a
/// caller keeps one and hands the other to the watcher in [`Config::stats`]; atomics, because
/// a metrics scrape reads them from another task.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    reconnects: Arc<AtomicU64>,
}

impl Stats {
    /// How many times the watch stream ended with an error, or could not be opened, and the
    /// watcher opened it again (resuming, or relisting when the position was gone).
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }
}

/// Watches host endpoints. The stream never ends; drop it to stop.
///
/// ```no_run
/// # async fn example() -> Result<(), hostendpoint_client::Error> {
/// use futures::StreamExt as _;
/// use hostendpoint_client::{Client, watcher::{self, Event}};
///
/// let client = Client::connect("http://127.0.0.1:50051").await?;
/// let config = watcher::Config { node: Some("host1".into()), ..Default::default() };
/// let mut events = std::pin::pin!(watcher::watcher(client, config));
/// while let Some(event) = events.next().await {
///     match event? {
///         Event::InitDone(revision) => println!("in sync at {revision}"),
///         Event::Apply(hep) => println!("{} changed", hep.metadata.name),
///         Event::Delete(hep) => println!("{} is gone", hep.metadata.name),
///         Event::Init | Event::InitApply(_) => {}
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub fn watcher(
    client: Client,
    config: Config,
) -> impl Stream<Item = Result<Event>> + Send + 'static {
    let state = Watcher {
        backoff: Backoff::new(config.backoff.clone()),
        client,
        node: config.node,
        selector: config.selector,
        store_uid: None,
        position: None,
        stream: None,
        listing: false,
        pending: VecDeque::new(),
        healthy_since: None,
        failures: 0,
        stats: config.stats,
    };
    futures::stream::unfold(state, |mut watcher| async move {
        let item = watcher.next_event().await;
        Some((item, watcher))
    })
}

struct Watcher {
    client: Client,
    node: Option<String>,
    selector: Option<String>,
    backoff: Backoff,
    /// The store the position belongs to.
    store_uid: Option<String>,
    /// Resume after this revision; `None` to list.
    position: Option<Revision>,
    stream: Option<Streaming<pb::WatchHostEndpointsResponse>>,
    /// Between `Init` and `InitDone`.
    listing: bool,
    pending: VecDeque<Event>,
    healthy_since: Option<Instant>,
    /// Attempts that failed since the watch was last open, for the line that says it is back.
    failures: u32,
    stats: Stats,
}

impl Watcher {
    async fn next_event(&mut self) -> Result<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(event);
            }
            let opening = self.stream.is_none();
            let outcome = match self.stream.as_mut() {
                None => self.open().await,
                Some(stream) => match stream.message().await {
                    Ok(Some(batch)) => self.receive(batch),
                    Ok(None) => Err(Status::unavailable("the server ended the watch")),
                    Err(status) => Err(status),
                },
            };
            if let Err(status) = outcome {
                self.stream = None;
                if let Some(error) = self.recover(status, opening).await {
                    return Err(error);
                }
            }
        }
    }

    async fn open(&mut self) -> Result<(), Status> {
        // Revision 0 asks the server for a listing: the position of an empty new store is
        // no place to resume from.
        if self.position == Some(0) {
            self.position = None;
        }
        let resume = self.position.is_some();
        let request = pb::WatchHostEndpointsRequest {
            node: self.node.clone().unwrap_or_default(),
            resource_version: self.position.unwrap_or(0),
            selector: self.selector.clone().unwrap_or_default(),
            store_uid: if resume {
                self.store_uid.clone().unwrap_or_default()
            } else {
                String::new()
            },
        };
        let response = self.client.raw().watch_host_endpoints(request).await?;
        let uid = response
            .metadata()
            .get(hostendpoint_api::wire::STORE_UID_HEADER)
            .and_then(|v| v.to_str().ok());
        self.store_uid = uid.map(str::to_owned);
        self.stream = Some(response.into_inner());
        self.healthy_since = Some(Instant::now());
        self.log_opened();
        if !resume {
            self.listing = true;
            self.pending.push_back(Event::Init);
        }
        Ok(())
    }

    /// Says that the watch is open, at info when it is back after failures.
    fn log_opened(&mut self) {
        let failed_attempts = std::mem::take(&mut self.failures);
        match (self.position, failed_attempts) {
            (Some(revision), 0) => debug!(revision, "watch opened; resuming"),
            (None, 0) => debug!("watch opened; listing"),
            (Some(revision), _) => {
                info!(
                    failed_attempts,
                    revision, "connection to the server restored; watch resumed"
                )
            }
            (None, _) => info!(
                failed_attempts,
                "connection to the server restored; listing"
            ),
        }
    }

    fn receive(&mut self, batch: pb::WatchHostEndpointsResponse) -> Result<(), Status> {
        for event in batch.events {
            self.position = Some(event.resource_version);
            let kind = EventType::try_from(event.r#type).unwrap_or(EventType::Unspecified);
            let translated = match kind {
                EventType::Synced => {
                    self.listing = false;
                    Some(Event::InitDone(event.resource_version))
                }
                EventType::Bookmark => None,
                EventType::Added | EventType::Modified => {
                    let hep = object(event.host_endpoint).map_err(protocol)?;
                    Some(if self.listing {
                        Event::InitApply(hep)
                    } else {
                        Event::Apply(hep)
                    })
                }
                EventType::Deleted => Some(Event::Delete(
                    object(event.host_endpoint).map_err(protocol)?,
                )),
                EventType::Unspecified => None,
            };
            self.pending.extend(translated);
        }
        let healthy = self
            .healthy_since
            .is_some_and(|t| t.elapsed() >= self.backoff.config().reset_after);
        if healthy {
            self.backoff.reset();
        }
        Ok(())
    }

    /// Decides how to go on after `status` (of opening the watch, or of the open stream) by
    /// the client's table ([`Error::recovery`]), says so, waits the backoff, and returns an
    /// error to report.
    async fn recover(&mut self, status: Status, opening: bool) -> Option<Error> {
        let error = if opening {
            self.client.explain(status).await
        } else {
            self.client.explain_broken(status).await
        };
        let recovery = error.recovery();
        if self.listing {
            // A listing cut short is started over: its Init events were not complete.
            self.position = None;
            self.listing = false;
        }
        // Every error leads to another open below, whichever recovery it gets.
        self.stats.reconnects.fetch_add(1, Ordering::Relaxed);
        if recovery == Recovery::Relist {
            // The server's own verdict: no need to wait for it.
            info!(reason = %error, "watch position is gone; listing again");
            self.position = None;
            return None;
        }
        self.failures += 1;
        let delay = self.backoff.next_delay();
        // Tenths of a second: the jitter makes more digits noise.
        let retry_in = format!("{:.1}s", delay.as_secs_f64());
        if opening {
            warn!(%error, %retry_in, "cannot open the watch; retrying");
        } else {
            warn!(%error, %retry_in, "watch interrupted; retrying");
        }
        tokio::time::sleep(delay).await;
        (recovery == Recovery::Report).then_some(error)
    }
}

fn protocol(error: Error) -> Status {
    Status::internal(error.to_string())
}

#[cfg(test)]
mod tests;
