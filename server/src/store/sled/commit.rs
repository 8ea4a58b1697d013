//! Group commit: the one thread that makes writes durable.
//!
//! Writers queue their encoded change here, in revision order. This thread takes every queued
//! write, appends their records to the [`Wal`] with one sync, publishes them to the [`View`],
//! acknowledges them, and hands them to the [`SledSink`] thread, which applies them to sled
//! while the next group syncs. So concurrent writes share one sync, nothing is visible or
//! acknowledged before it is on disk, and sled never holds a change the log lacks.

use std::{
    panic::{self, AssertUnwindSafe},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::sync::{mpsc, oneshot};
use tracing::{error, info_span};

use super::wal::Wal;
use crate::store::{Change, Error, Result, View};

/// The most writes one sync acknowledges; a bound on the latency of the first of them.
const MAX_GROUP: usize = 4096;

/// A write waiting for its sync.
#[derive(Debug)]
pub(super) struct Pending {
    /// The change and its log record; `None` for a barrier that only waits for the sync of
    /// everything queued before it.
    pub(super) logged: Option<Logged>,
    pub(super) ack: oneshot::Sender<Result<()>>,
}

/// A change, with its encoding for the log.
#[derive(Debug)]
pub(super) struct Logged {
    pub(super) change: Arc<Change>,
    pub(super) entry: Vec<u8>,
}

/// Groups of published changes, on their way to sled.
pub(super) type SledQueue = std::sync::mpsc::Sender<Vec<Arc<Change>>>;

/// Where published changes go: sled, and the revision it has applied them up to.
#[derive(Debug)]
pub(super) struct SledSink {
    pub(super) db: sled::Db,
    pub(super) applied: Arc<AtomicU64>,
}

impl SledSink {
    /// Applies every group from `groups` until the commit thread ends, on a thread of its own.
    pub(super) fn run(
        self,
        groups: std::sync::mpsc::Receiver<Vec<Arc<Change>>>,
        on_failure: impl Fn(&str),
    ) {
        let _span = info_span!("sled_apply").entered();
        for changes in groups {
            if let Err(err) = self.apply(&changes) {
                // These writes are durable in the log; later ones would leave sled behind.
                let reason = format!("sled failed: {err}");
                error!(%reason, "the store stops taking writes");
                on_failure(&reason);
                return;
            }
        }
    }

    fn apply(&self, changes: &[Arc<Change>]) -> sled::Result<()> {
        for change in changes {
            super::apply_to_sled(&self.db, change)?;
            self.applied.store(change.revision, Ordering::Release);
        }
        Ok(())
    }
}

/// Runs group commits until every sender of `queue` is gone. It runs on a thread of its own:
/// it does nothing but wait for the disk, and a thread of its own spares each group two hops
/// through the runtime's blocking pool.
pub(super) fn run(
    mut wal: Wal,
    mut queue: mpsc::UnboundedReceiver<Pending>,
    view: Arc<View>,
    sled: SledQueue,
    on_failure: impl Fn(&str),
) {
    let _span = info_span!("group_commit").entered();
    let mut group = Vec::new();
    while let Some(first) = queue.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(pending) => group.push(pending),
                Err(_) => break,
            }
        }
        let records = records(&group);
        let appended = panic::catch_unwind(AssertUnwindSafe(|| wal.append(&records)));
        let reason = match appended {
            Ok(Ok(())) => {
                let changes = publish(&view, group.drain(..));
                match sled.send(changes) {
                    Ok(()) => continue,
                    Err(_) => "sled stopped taking changes".to_owned(),
                }
            }
            Ok(Err(err)) => format!("sync failed: {err}"),
            Err(_) => "the log writer panicked".to_owned(),
        };
        error!(%reason, "the store stops taking writes");
        on_failure(&reason);
        fail(group.drain(..), &reason);
        // Later writes cannot be logged either: fail them too.
        while let Ok(pending) = queue.try_recv() {
            fail(std::iter::once(pending), &reason);
        }
    }
}

/// The group's log records.
fn records(group: &[Pending]) -> Vec<(u64, &[u8])> {
    group
        .iter()
        .filter_map(|p| p.logged.as_ref())
        .map(|l| (l.change.revision, &l.entry[..]))
        .collect()
}

/// Publishes the group's changes and acknowledges its writes; returns the changes.
fn publish(view: &View, group: impl Iterator<Item = Pending>) -> Vec<Arc<Change>> {
    let group: Vec<_> = group.collect();
    let changes: Vec<_> = group
        .iter()
        .filter_map(|p| p.logged.as_ref().map(|l| Arc::clone(&l.change)))
        .collect();
    view.apply(&changes);
    for pending in group {
        // The writer may have gone (its client cancelled); the write stands regardless.
        let _ = pending.ack.send(Ok(()));
    }
    changes
}

fn fail(group: impl Iterator<Item = Pending>, reason: &str) {
    for pending in group {
        let _ = pending.ack.send(Err(Error::Unavailable {
            reason: reason.to_owned(),
        }));
    }
}
