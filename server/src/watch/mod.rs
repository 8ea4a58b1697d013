//! WatchHostEndpoints: a snapshot, a SYNCED marker, then every change, filtered, resumable.
//!
//! Each watch is a pull-based stream over the store's [`View`](crate::store::View): tonic
//! polls it only when the client's HTTP/2 window has room, so a slow client just falls behind.
//! Writers publish into bounded broadcasts and never wait; a watcher that falls out of them
//! catches up from the store's on-disk history at its own pace, holding nothing but its
//! position, then rejoins them.
//!
//! The API hands a watch in as a [`WatchRequest`] (already validated) and turns its
//! [`Error`]s into statuses; nothing here speaks gRPC statuses.
//!
//! # Layout
//! - [`filter`]: which objects a watch selects, and the event a change is for it.
//! - [`stream`]: one watch's state machine (snapshot, catch-up, live).

mod filter;
mod stream;
#[cfg(test)]
mod tests;

use std::{sync::Arc, time::Duration};

use futures::Stream;
use hostendpoint_api::{model::Revision, pb, selector::Selector};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument as _, debug_span};

use self::{filter::Filter, stream::Watcher};
use crate::{metrics::WatchMetrics, store::Store};

/// The default interval between BOOKMARK events.
pub const DEFAULT_BOOKMARK_INTERVAL: Duration = Duration::from_secs(30);
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

/// A watch request, validated: what to watch and where to start.
#[derive(Clone, Debug, Default)]
pub struct WatchRequest {
    /// Only this node's objects; `None` for every node.
    pub node: Option<String>,
    /// Only objects whose labels this selects; `None` for all.
    pub selector: Option<Selector>,
    /// 0: start with a snapshot; otherwise resume after this revision.
    pub resource_version: Revision,
    /// The store the client's revision belongs to, when it says.
    pub store_uid: Option<String>,
}

/// Why a watch cannot start, or why the server ended it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store cannot vouch for its state (its datastore is unreachable).
    #[error("the store is unavailable: {reason}")]
    Unavailable {
        /// Why, in words.
        reason: String,
    },
    /// The store became unavailable while the watch ran; it ended after a final BOOKMARK.
    #[error("the store became unavailable: {reason}")]
    Interrupted {
        /// Why, in words.
        reason: String,
    },
    /// The client's revisions belong to another store.
    #[error("store_uid '{requested}' is not this store's ('{actual}')")]
    StoreMismatch {
        /// The client's store_uid.
        requested: String,
        /// This store's.
        actual: String,
    },
    /// The revision did not appear within [`FUTURE_REVISION_WAIT`](crate::store::view::FUTURE_REVISION_WAIT).
    #[error("revision {requested} is newer than the store's ({current})")]
    FutureRevision {
        /// The revision asked for.
        requested: Revision,
        /// The store's latest.
        current: Revision,
    },
    /// The history could not be read: compacted past the watch's position, or failed.
    #[error(transparent)]
    History(crate::store::Error),
    /// The view was rebuilt from a fresh listing (its datastore compacted past it).
    #[error("the history was rebuilt from a fresh listing")]
    HistoryRebuilt,
    /// The server is shutting down; `synced` when the watch had sent SYNCED (and so a final
    /// BOOKMARK to resume from).
    #[error("the server is shutting down")]
    ShuttingDown {
        /// Whether the watch had sent SYNCED.
        synced: bool,
    },
}

/// The items of a watch's response stream.
pub type Item = Result<pb::WatchHostEndpointsResponse, Error>;

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
        request: WatchRequest,
    ) -> Result<impl Stream<Item = Item> + Send + use<S>, Error> {
        let view = self.store.view();
        if let Some(reason) = view.availability().unavailable {
            return Err(Error::Unavailable { reason });
        }
        let actual = self.store.store_uid();
        if let Some(requested) = request.store_uid.filter(|uid| uid != actual) {
            return Err(Error::StoreMismatch {
                requested,
                actual: actual.to_owned(),
            });
        }
        let filter = Filter {
            node: request.node,
            selector: request.selector,
        };
        // Counted from here, also while it waits for its revision.
        let open = self.metrics.open_watch(filter.kind());
        let watcher = match request.resource_version {
            0 => Watcher::from_snapshot(Arc::clone(self), filter, open),
            after => {
                view.await_revision(after)
                    .await
                    .map_err(|current| Error::FutureRevision {
                        requested: after,
                        current,
                    })?;
                self.check_retained(after).await?;
                Watcher::resuming(Arc::clone(self), filter, after, open)
            }
        };
        Ok(watcher.into_stream())
    }

    /// Fails a resume from a revision the history no longer holds, before the stream starts.
    async fn check_retained(&self, after: Revision) -> Result<(), Error> {
        match self.store.history(after, 1).await {
            Ok(_) => Ok(()),
            Err(err) => Err(self.history_error(err)),
        }
    }

    /// The error for a failed history read; counts the compacted ones.
    fn history_error(&self, err: crate::store::Error) -> Error {
        if matches!(err, crate::store::Error::Compacted { .. }) {
            self.metrics.compacted.inc();
        }
        Error::History(err)
    }
}
