//! WatchHostEndpoints: a snapshot, a SYNCED marker, then every change, filtered, resumable.
//!
//! Each watch is a pull-based stream over the store's [`View`](crate::store::View): tonic
//! polls it only when the client's HTTP/2 window has room, so a slow client just falls behind.
//! Writers publish into a bounded broadcast and never wait; a watcher that falls out of it
//! catches up from the store's on-disk history at its own pace, holding nothing but its
//! position, then rejoins the broadcast.
//!
//! # Layout
//! - [`filter`]: which objects a watch selects, and the event a change is for it.
//! - [`stream`]: one watch's state machine (snapshot, catch-up, live).
//! - [`status`]: the statuses a watch can end with.

mod filter;
pub(crate) mod status;
mod stream;

use std::{sync::Arc, time::Duration};

use hostendpoint_api::{model::Revision, pb};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tracing::{Instrument as _, debug_span};

use self::{filter::Filter, stream::Watcher};
use crate::{
    metrics::WatchMetrics,
    store::{Error, Store},
};

/// The default interval between BOOKMARK events.
pub const DEFAULT_BOOKMARK_INTERVAL: Duration = Duration::from_secs(30);
/// How long a watch from a revision newer than the store's waits for it to appear.
pub const FUTURE_REVISION_WAIT: Duration = Duration::from_secs(3);
/// The most events in one response message.
pub const MAX_BATCH_EVENTS: usize = 256;
/// The most object bytes in one response message (one larger object still goes alone). Small,
/// because it is what a watcher that stops reading holds: HTTP/2 flow control stops the server
/// from polling its stream with about two messages waiting in the transport (one in h2's send
/// buffer, one in hyper's hand), and everything after that is read from the log later.
pub const MAX_BATCH_BYTES: usize = 32 * 1024;

/// Settings of the watch service.
#[derive(Clone, Debug)]
pub struct WatchConfig {
    /// The interval between BOOKMARK events.
    pub bookmark_interval: Duration,
    /// Where watches are counted.
    pub metrics: WatchMetrics,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            bookmark_interval: DEFAULT_BOOKMARK_INTERVAL,
            metrics: WatchMetrics::default(),
        }
    }
}

/// What every watch shares: the store, the bookmark clock and the shutdown signal.
#[derive(Debug)]
pub struct Watches<S> {
    store: Arc<S>,
    ticks: watch::Receiver<u64>,
    shutdown: CancellationToken,
    metrics: WatchMetrics,
}

/// The response stream of one watch.
pub type WatchStream = std::pin::Pin<
    Box<dyn futures::Stream<Item = Result<pb::WatchHostEndpointsResponse, Status>> + Send>,
>;

impl<S: Store> Watches<S> {
    /// Starts the bookmark clock; every watch ends when `shutdown` is cancelled.
    pub fn new(store: Arc<S>, config: WatchConfig, shutdown: CancellationToken) -> Arc<Self> {
        let metrics = config.metrics.clone();
        let (tick, ticks) = watch::channel(0u64);
        let stop = shutdown.clone();
        tokio::spawn(
            async move {
                let mut interval = tokio::time::interval(config.bookmark_interval);
                interval.tick().await;
                loop {
                    tokio::select! {
                        _ = interval.tick() => tick.send_modify(|n| *n += 1),
                        () = stop.cancelled() => break,
                    }
                }
            }
            .instrument(debug_span!("bookmark_clock")),
        );
        Arc::new(Self {
            store,
            ticks,
            shutdown,
            metrics,
        })
    }

    /// Checks a watch request and returns its stream.
    pub async fn open(
        self: &Arc<Self>,
        request: pb::WatchHostEndpointsRequest,
    ) -> Result<WatchStream, Status> {
        if let Some(reason) = self.store.view().availability().unavailable {
            return Err(Status::unavailable(reason));
        }
        let store_uid = self.store.store_uid();
        if !request.store_uid.is_empty() && request.store_uid != store_uid {
            return Err(status::store_mismatch(&request.store_uid, store_uid));
        }
        let filter = Filter {
            node: Some(request.node).filter(|n| !n.is_empty()),
            selector: crate::api::parse_selector(&request.selector)?,
        };
        let watcher = match request.resource_version {
            0 => Watcher::from_snapshot(Arc::clone(self), filter),
            after => {
                self.await_revision(after).await?;
                self.check_retained(after).await?;
                Watcher::resuming(Arc::clone(self), filter, after)
            }
        };
        Ok(Box::pin(watcher.into_stream()))
    }

    /// Waits briefly for a revision the store has not reached: a replica may lag.
    async fn await_revision(&self, revision: Revision) -> Result<(), Status> {
        let mut current = self.store.view().watch_revision();
        let reached =
            tokio::time::timeout(FUTURE_REVISION_WAIT, current.wait_for(|r| *r >= revision));
        match reached.await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(status::future_revision(
                revision,
                self.store.view().revision(),
                status::RELIST,
            )),
        }
    }

    /// Fails a resume from a revision the history no longer holds, before the stream starts.
    async fn check_retained(&self, after: Revision) -> Result<(), Status> {
        match self.store.history(after, 1).await {
            Ok(_) => Ok(()),
            Err(err) => Err(self.history_status(err)),
        }
    }

    /// The status for a failed history read; counts the compacted ones.
    fn history_status(&self, err: Error) -> Status {
        match err {
            Error::Compacted {
                requested,
                oldest,
                current,
            } => {
                self.metrics.compacted.inc();
                status::compacted(requested, oldest, current, status::RELIST)
            }
            other => other.into(),
        }
    }
}
