//! Group commit: the one task that makes writes durable.
//!
//! Writers apply their batch to sled (in memory) and queue its log record here, in revision
//! order. This task takes every queued write, appends their records to the [`Wal`] with one
//! sync, then publishes them to the [`View`] and acknowledges them. So concurrent writes share
//! one sync, and nothing is visible or acknowledged before it is on disk.

use std::{
    panic::{self, AssertUnwindSafe},
    sync::Arc,
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

/// A change applied to sled, with its encoding for the log.
#[derive(Debug)]
pub(super) struct Logged {
    pub(super) change: Arc<Change>,
    pub(super) entry: Vec<u8>,
}

/// Runs group commits until every sender of `queue` is gone. It runs on a thread of its own:
/// it does nothing but wait for the disk, and a thread of its own spares each group two hops
/// through the runtime's blocking pool.
pub(super) fn run(
    mut wal: Wal,
    mut queue: mpsc::UnboundedReceiver<Pending>,
    view: Arc<View>,
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
                publish(&view, group.drain(..));
                continue;
            }
            Ok(Err(err)) => format!("sync failed: {err}"),
            Err(_) => "the log writer panicked".to_owned(),
        };
        error!(%reason, "the store stops taking writes");
        on_failure(&reason);
        fail(group.drain(..), &reason);
        // Later writes were applied to sled but cannot be logged: fail them too.
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

fn publish(view: &View, group: impl Iterator<Item = Pending>) {
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
}

fn fail(group: impl Iterator<Item = Pending>, reason: &str) {
    for pending in group {
        let _ = pending.ack.send(Err(Error::Unavailable {
            reason: reason.to_owned(),
        }));
    }
}
