//! Group commit: the one thread that makes writes durable.
//!
//! Writers queue their encoded change here, in revision order. This thread takes every queued
//! write, appends their records to the [`Wal`] with one sync, publishes them to the [`View`],
//! acknowledges them, and adds them to the [`SledBacklog`], from which the
//! [sled writer](super::sled_writer) writes them into sled while the next group syncs. So
//! concurrent writes share one sync, nothing is visible or acknowledged before it is on disk,
//! and sled never holds a change the log lacks. A full backlog holds this thread before its
//! next group: writers wait for sled rather than memory growing.
//!
//! A group that cannot be made durable is answered with the error, and undone: in the log
//! (see [`Wal::append`]) and in the writers' state, with every write queued after it, which
//! was decided on top of it. The store then reports that it cannot write, probes the disk with
//! backoff, and every new write tries again: no fault outlives its cause.

use std::{
    io,
    panic::{self, AssertUnwindSafe},
    sync::{
        Arc, Weak,
        mpsc::{Receiver, RecvTimeoutError, Sender},
    },
    time::Duration,
};

use tokio::sync::oneshot;
use tracing::{debug, error, info, info_span, warn};

use super::{Shared, backlog::SledBacklog, wal::Wal};
use crate::store::{Change, Error, Result, View};

/// The most writes one sync acknowledges; a bound on the latency of the first of them.
pub(super) const MAX_GROUP: usize = 4096;
/// The first and the longest wait between probes of a log that cannot take writes.
const FIRST_PROBE: Duration = Duration::from_millis(100);
const LONGEST_PROBE: Duration = Duration::from_secs(2);

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

/// Where writers queue their changes.
pub(super) type CommitQueue = Sender<Pending>;

/// Why writes fail, as clients are told: the detail goes to the log only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    NoSpace,
    Vanished,
    Io,
}

impl Fault {
    fn of(err: &io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => Self::NoSpace,
            io::ErrorKind::NotFound => Self::Vanished,
            _ => Self::Io,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Self::NoSpace => "no space left on the data directory's disk",
            Self::Vanished => {
                "the data directory or its write-ahead log was removed; restart the server on a \
                 restored data directory"
            }
            Self::Io => "the data directory cannot be written",
        }
    }

    fn error(self) -> Error {
        match self {
            Self::NoSpace => Error::NoSpace,
            _ => Error::Unavailable {
                reason: format!("{}; the write was not stored", self.reason()),
            },
        }
    }
}

/// Runs group commits until every sender of `queue` is gone. It runs on a thread of its own:
/// it does nothing but wait for the disk, and a thread of its own spares each group two hops
/// through the runtime's blocking pool.
pub(super) fn run(
    mut wal: Wal,
    queue: Receiver<Pending>,
    view: Arc<View>,
    backlog: Arc<SledBacklog>,
    shared: Weak<Shared>,
) {
    let _span = info_span!("group_commit").entered();
    let mut faulted: Option<Duration> = None;
    let mut group = Vec::new();
    loop {
        let first = match faulted {
            None => queue.recv().ok(),
            Some(wait) => match queue.recv_timeout(wait) {
                Ok(pending) => Some(pending),
                Err(RecvTimeoutError::Timeout) => {
                    faulted = probe(&mut wal, &view, wait);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => None,
            },
        };
        let Some(first) = first else {
            backlog.close();
            return;
        };
        group.push(first);
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(pending) => group.push(pending),
                Err(_) => break,
            }
        }
        let records = records(&group);
        let appended = panic::catch_unwind(AssertUnwindSafe(|| wal.append(&records)));
        let err = match appended {
            Ok(Ok(())) => {
                // A group of barriers only writes nothing: it proves nothing either.
                if !records.is_empty() && faulted.take().is_some() {
                    info!("the write-ahead log takes writes again");
                    view.set_cannot_write(None);
                }
                let changes = publish(&view, group.drain(..));
                backlog.push(changes);
                continue;
            }
            Ok(Err(err)) => err,
            Err(_) => io::Error::other("the log writer panicked"),
        };
        let fault = Fault::of(&err);
        if faulted.is_none() {
            error!(error = %err, reason = fault.reason(), "writes fail; they are answered with the error and undone");
        } else {
            debug!(error = %err, "a write failed again");
        }
        undo(&shared, &mut group, &queue, fault);
        view.set_cannot_write(Some(fault.reason().to_owned()));
        faulted = Some(FIRST_PROBE);
    }
}

/// Answers the failed group and every write queued after it with `fault`, and undoes them in
/// the writers' state. Under the writer lock, so that no write is decided on top of them.
fn undo(shared: &Weak<Shared>, group: &mut Vec<Pending>, queue: &Receiver<Pending>, fault: Fault) {
    let mut fail = || {
        let mut failed = std::mem::take(group);
        failed.extend(queue.try_iter());
        let changes = failed
            .iter()
            .filter_map(|p| p.logged.as_ref().map(|l| Arc::clone(&l.change)))
            .collect::<Vec<_>>();
        for pending in failed {
            let _ = pending.ack.send(Err(fault.error()));
        }
        changes
    };
    match shared.upgrade() {
        Some(shared) => shared.undo(fail),
        // The store is gone: nothing decides on top of these writes any more.
        None => drop(fail()),
    }
}

/// Probes a log that failed; returns the next wait, or `None` once it can take writes.
fn probe(wal: &mut Wal, view: &View, wait: Duration) -> Option<Duration> {
    match wal.probe() {
        Ok(()) => {
            info!("the write-ahead log can take writes again");
            view.set_cannot_write(None);
            None
        }
        Err(err) => {
            let fault = Fault::of(&err);
            warn!(error = %err, reason = fault.reason(), "writes still fail; retrying");
            view.set_cannot_write(Some(fault.reason().to_owned()));
            Some((wait * 2).min(LONGEST_PROBE))
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
    view.publish(&changes);
    for pending in group {
        // The writer may have gone (its client cancelled); the write stands regardless.
        let _ = pending.ack.send(Ok(()));
    }
    changes
}
