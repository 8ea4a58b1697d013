//! One watch: a state machine that yields response batches when polled.
//!
//! - Snapshot: ADDED pages of a snapshot taken at revision R, then SYNCED(R).
//! - CatchUp: changes read from the store's history after the cursor, until none is left;
//!   then it subscribes to the live broadcast and reads history once more, so the two overlap
//!   and nothing falls between them (events at or below the cursor are skipped).
//! - Live: changes from the broadcast; a lag sends it back to CatchUp.
//!
//! The cursor is the revision up to which every change has been handled; BOOKMARKs carry it,
//! so resuming from any revision a client saw loses nothing.

use std::sync::Arc;

use futures::Stream;
use hostendpoint_api::{
    frames::EventFrame,
    model::Revision,
    pb::{self, EventType},
};
use tokio::sync::broadcast::{self, error::TryRecvError};
use tracing::debug;

use super::{Error, Item, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, Watches, filter::Filter};
use crate::{
    metrics::store::OpenWatch,
    store::{Availability, Change, Snapshot, Store},
};

type Changes = broadcast::Receiver<Arc<Change>>;

pub(super) struct Watcher<S> {
    watches: Arc<Watches<S>>,
    filter: Filter,
    cursor: Revision,
    phase: Phase,
    ticks: tokio::sync::watch::Receiver<u64>,
    availability: tokio::sync::watch::Receiver<Availability>,
    /// The view's epoch this watch's revisions belong to.
    epoch: u64,
    /// The view's published revision: every change up to it is in the broadcast.
    published: tokio::sync::watch::Receiver<Revision>,
    /// Counts this watch in `hostendpointd_watchers` while it lives.
    _open: OpenWatch,
}

/// How far a drain of the broadcast got.
enum Drained {
    /// Everything received so far is in the batch.
    Empty,
    /// The batch filled up first.
    Full,
    /// The receiver fell behind the broadcast.
    Lagged,
}

enum Phase {
    Snapshot {
        snapshot: Arc<Snapshot>,
        after: Option<String>,
        live: Changes,
    },
    CatchUp {
        live: Option<Changes>,
    },
    Live(Changes),
    Closing(Error),
    Done,
}

/// Frames being gathered into one response.
#[derive(Default)]
struct Batch {
    frames: Vec<EventFrame>,
    bytes: usize,
}

// === impl Batch ===

impl Batch {
    fn push(&mut self, frame: EventFrame) {
        self.bytes += frame.object_len();
        self.frames.push(frame);
    }

    fn is_full(&self) -> bool {
        self.frames.len() >= MAX_BATCH_EVENTS || self.bytes >= MAX_BATCH_BYTES
    }

    fn into_item(self) -> Option<Item> {
        (!self.frames.is_empty())
            .then(|| Ok(pb::WatchHostEndpointsResponse::from_frames(self.frames)))
    }
}

// === impl Watcher ===

impl<S: Store> Watcher<S> {
    /// A watch that starts with a snapshot. It subscribes before taking the snapshot, so every
    /// change after the snapshot's revision is in its broadcast receiver.
    pub(super) fn from_snapshot(watches: Arc<Watches<S>>, filter: Filter, open: OpenWatch) -> Self {
        let view = watches.store.view();
        let live = view.subscribe(filter.node.as_deref());
        let snapshot = view.snapshot();
        debug!(
            revision = snapshot.revision(),
            node = filter.node.as_deref().unwrap_or(""),
            "watch starts with a snapshot"
        );
        let phase = Phase::Snapshot {
            after: None,
            live,
            snapshot: Arc::clone(&snapshot),
        };
        Self::new(watches, filter, snapshot.revision(), phase, open)
    }

    /// A watch that resumes after `after`, from the history.
    pub(super) fn resuming(
        watches: Arc<Watches<S>>,
        filter: Filter,
        after: Revision,
        open: OpenWatch,
    ) -> Self {
        debug!(
            after,
            node = filter.node.as_deref().unwrap_or(""),
            "watch resumes"
        );
        Self::new(watches, filter, after, Phase::CatchUp { live: None }, open)
    }

    fn new(
        watches: Arc<Watches<S>>,
        filter: Filter,
        cursor: Revision,
        phase: Phase,
        _open: OpenWatch,
    ) -> Self {
        let mut ticks = watches.ticks.clone();
        ticks.mark_unchanged();
        let availability = watches.store.view().watch_availability();
        let epoch = availability.borrow().epoch;
        let published = watches.store.view().watch_revision();
        Self {
            watches,
            filter,
            cursor,
            phase,
            ticks,
            availability,
            epoch,
            published,
            _open,
        }
    }

    /// How the watch must end because the view stopped serving or was rebuilt, if it must.
    fn interrupted(&self) -> Option<(Phase, Option<Item>)> {
        let availability = self.availability.borrow().clone();
        if availability.epoch != self.epoch {
            return Some((Phase::Done, Some(Err(Error::HistoryRebuilt))));
        }
        availability
            .unavailable
            .map(|reason| self.close_with(Error::Interrupted { reason }))
    }

    pub(super) fn into_stream(self) -> impl Stream<Item = Item> + Send + 'static {
        futures::stream::unfold(self, |mut watcher| async move {
            let item = watcher.next_item().await?;
            Some((item, watcher))
        })
    }

    async fn next_item(&mut self) -> Option<Item> {
        loop {
            let (next, item) = match std::mem::replace(&mut self.phase, Phase::Done) {
                Phase::Done => return None,
                Phase::Closing(err) => (Phase::Done, Some(Err(err))),
                Phase::Snapshot {
                    snapshot,
                    after,
                    live,
                } => self.snapshot_batch(snapshot, after, live),
                Phase::CatchUp { live } => self.catch_up(live).await,
                Phase::Live(live) => self.live(live).await,
            };
            self.phase = next;
            if let Some(item) = item {
                if let Ok(response) = &item {
                    let events = response.frames().len() + response.events.len();
                    self.watches.metrics.events_sent.inc_by(events as u64);
                }
                return Some(item);
            }
        }
    }

    fn snapshot_batch(
        &mut self,
        snapshot: Arc<Snapshot>,
        after: Option<String>,
        live: Changes,
    ) -> (Phase, Option<Item>) {
        if self.watches.shutdown.is_cancelled() {
            // No BOOKMARK before SYNCED: there is no position to resume from.
            let err = Error::ShuttingDown { synced: false };
            return (Phase::Done, Some(Err(err)));
        }
        let filter = &self.filter;
        let page = snapshot.page(
            filter.node.as_deref(),
            after.as_deref(),
            MAX_BATCH_EVENTS,
            MAX_BATCH_BYTES,
            |hep| filter.matches(hep),
        );
        let mut batch = Batch::default();
        let mut last = None;
        for object in &page.items {
            if batch.is_full() {
                break;
            }
            let revision = object.metadata.resource_version;
            batch.push(EventFrame::object(
                EventType::Added,
                object.encoded(),
                revision,
            ));
            last = Some(object.metadata.name.clone());
        }
        let complete = !page.more && batch.frames.len() == page.items.len();
        if !complete {
            let phase = Phase::Snapshot {
                snapshot,
                after: last,
                live,
            };
            return (phase, batch.into_item());
        }
        batch.push(EventFrame::marker(EventType::Synced, snapshot.revision()));
        (Phase::Live(live), batch.into_item())
    }

    async fn catch_up(&mut self, live: Option<Changes>) -> (Phase, Option<Item>) {
        if self.watches.shutdown.is_cancelled() {
            return self.close();
        }
        if let Some(end) = self.interrupted() {
            return end;
        }
        let changes = match self
            .watches
            .store
            .history(self.cursor, MAX_BATCH_EVENTS)
            .await
        {
            Ok(changes) => changes,
            Err(err) => return (Phase::Done, Some(Err(self.watches.history_error(err)))),
        };
        if changes.is_empty() {
            let next = match live {
                // Caught up: subscribe, then read the history once more to close the gap.
                None => Phase::CatchUp {
                    live: Some(
                        self.watches
                            .store
                            .view()
                            .subscribe(self.filter.node.as_deref()),
                    ),
                },
                Some(live) => Phase::Live(live),
            };
            return (next, None);
        }
        let mut batch = Batch::default();
        for change in &changes {
            self.handle(change, &mut batch);
        }
        (Phase::CatchUp { live }, batch.into_item())
    }

    async fn live(&mut self, mut live: Changes) -> (Phase, Option<Item>) {
        let shutdown = self.watches.shutdown.clone();
        let mut batch = Batch::default();
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return self.close(),
            received = live.recv() => match received {
                Ok(change) => self.handle(&change, &mut batch),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    debug!(missed, cursor = self.cursor, "watch lagged; catching up from history");
                    self.watches.metrics.catchups.inc();
                    return (Phase::CatchUp { live: None }, None);
                }
                Err(broadcast::error::RecvError::Closed) => return self.close(),
            },
            Ok(()) = self.availability.changed() => {
                if let Some(end) = self.interrupted() {
                    return end;
                }
                return (Phase::Live(live), None);
            }
            Ok(()) = self.ticks.changed() => {
                // Read before draining: every change up to it is then in the receiver.
                let published = *self.published.borrow_and_update();
                let drained = self.drain(&mut live, &mut batch);
                if matches!(drained, Drained::Empty) {
                    // Nothing at or below `published` is left unhandled, so the bookmark can
                    // carry it even when its last changes did not concern this watch.
                    self.cursor = self.cursor.max(published);
                }
                batch.push(EventFrame::marker(EventType::Bookmark, self.cursor));
                return (self.after_drain(live, drained), batch.into_item());
            }
        }
        let drained = self.drain(&mut live, &mut batch);
        (self.after_drain(live, drained), batch.into_item())
    }

    /// Where a drain leaves the watch; a lag is counted as a catch-up.
    fn after_drain(&self, live: Changes, drained: Drained) -> Phase {
        match drained {
            Drained::Lagged => {
                self.watches.metrics.catchups.inc();
                Phase::CatchUp { live: None }
            }
            Drained::Empty | Drained::Full => Phase::Live(live),
        }
    }

    /// Adds the changes already received to `batch`, up to its limits.
    fn drain(&mut self, live: &mut Changes, batch: &mut Batch) -> Drained {
        loop {
            if batch.is_full() {
                return Drained::Full;
            }
            match live.try_recv() {
                Ok(change) => self.handle(&change, batch),
                Err(TryRecvError::Lagged(_)) => return Drained::Lagged,
                Err(TryRecvError::Empty | TryRecvError::Closed) => return Drained::Empty,
            }
        }
    }

    /// Adds the event `change` is for this watch, if any, and moves the cursor past it.
    fn handle(&mut self, change: &Change, batch: &mut Batch) {
        if change.revision <= self.cursor {
            return;
        }
        if let Some(frame) = self.filter.event(change) {
            batch.push(frame);
        }
        self.cursor = change.revision;
    }

    /// A final BOOKMARK at the cursor, then the end: the server is shutting down.
    fn close(&self) -> (Phase, Option<Item>) {
        self.close_with(Error::ShuttingDown { synced: true })
    }

    /// A final BOOKMARK at the cursor, then `err`.
    fn close_with(&self, err: Error) -> (Phase, Option<Item>) {
        debug!(cursor = self.cursor, %err, "watch closed by the server");
        let mut batch = Batch::default();
        batch.push(EventFrame::marker(EventType::Bookmark, self.cursor));
        (Phase::Closing(err), batch.into_item())
    }
}
