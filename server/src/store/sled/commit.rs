//! Group commit: writes become durable here, in groups that share one sync.
//!
//! Writers queue their encoded change in revision order. Whoever holds the log takes every
//! queued write, appends their records to the [`Wal`] with one sync, publishes them to the
//! [`View`], acknowledges them, and adds them to the [`SledBacklog`], from which the
//! [sled writer](super::sled_writer) writes them into sled. So nothing is visible or
//! acknowledged before it is on disk, and sled never holds a change the log lacks.
//!
//! Who holds the log: while writes come one at a time, a writer that finds the log free
//! commits its own write on its thread (it leads); otherwise the commit thread does, woken only
//! when it sleeps. A lone client's write so skips the hand-over to another thread and back,
//! two thread wake-ups (220 → 186 µs of server CPU per create on two cores), while concurrent
//! writes queue during each sync and the commit thread takes them as one group. A writer leads
//! only when the log is healthy, its write takes one write and one sync (no new segment), and
//! sled's backlog has room: a runtime thread may wait for one sync, not for sled or a probe. A
//! disk that fails under a leader fails there once, its undo included; from then on the commit
//! thread probes. A panic while committing leaves the view's state
//! unknown, so every write is refused from then on (see [`Committer::die`]).
//!
//! A group that cannot be made durable is answered with the error, and undone: in the log
//! (see [`Wal::append`]) and in the writers' state, with every write queued after it, which
//! was decided on top of it. The store then reports that it cannot write, the commit thread
//! probes the disk with backoff, and every new write tries again: no fault outlives its cause.

use std::{
    io,
    panic::{self, AssertUnwindSafe},
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError, Weak},
    time::Duration,
};

use tokio::sync::oneshot;
use tracing::{debug, error, info, info_span, warn};

use super::{Shared, backlog::SledBacklog, wal::Wal};
use crate::store::{Change, Error, Result, View};

/// The most writes one sync acknowledges; a bound on the latency of the first of them.
pub(super) const MAX_GROUP: usize = 4096;
/// After how many groups of a single write in a row a writer commits its own: the writes
/// come one at a time.
const LONE_GROUPS_TO_LEAD: usize = 3;
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

/// The queue and the log, shared by the writers and the commit thread.
#[derive(Debug)]
pub(super) struct Committer {
    queue: Mutex<Queue>,
    /// Signalled for the commit thread when it sleeps and has work.
    work: Condvar,
    /// Taken before the queue's lock by whoever commits, so that groups reach the log in
    /// revision order.
    wal: Mutex<Wal>,
    view: Arc<View>,
    backlog: Arc<SledBacklog>,
    shared: Weak<Shared>,
}

#[derive(Debug, Default)]
struct Queue {
    pending: Vec<Pending>,
    /// No more writes come: the commit thread ends once it committed what is queued.
    closed: bool,
    /// The commit thread sleeps: a writer that does not lead must wake it.
    sleeping: bool,
    /// The log failed; the wait before the commit thread's next probe.
    faulted: Option<Duration>,
    /// How many groups in a row took a single write.
    lone_groups: usize,
    /// A commit panicked: writes are refused.
    dead: bool,
}

/// Why writes are refused after a commit panicked.
const DEAD: &str = "the group commit failed unexpectedly; restart the server";

fn dead() -> Error {
    Error::Unavailable {
        reason: DEAD.to_owned(),
    }
}

/// Held while committing: a panic marks the committer dead (see [`Committer::die`]).
struct DiesOnPanic<'a>(&'a Committer);

impl Drop for DiesOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.die();
        }
    }
}

impl Queue {
    /// Whether a writer that holds the log should commit the queue itself: when its write is
    /// alone, and the last few groups were too. Concurrent writes are left to the commit
    /// thread, as a writer that syncs holds up its runtime thread's other connections: with
    /// 16 clients, writers that led whenever they found the log free made a create cost 85 µs
    /// of CPU instead of 71.
    fn leader_wanted(&self) -> bool {
        self.faulted.is_none() && self.pending.len() == 1 && self.lone_groups >= LONE_GROUPS_TO_LEAD
    }

    /// The oldest writes, up to [`MAX_GROUP`]. The caller holds the log.
    fn take_group(&mut self) -> Vec<Pending> {
        let group: Vec<_> = if self.pending.len() <= MAX_GROUP {
            std::mem::take(&mut self.pending)
        } else {
            self.pending.drain(..MAX_GROUP).collect()
        };
        self.lone_groups = if group.len() == 1 {
            self.lone_groups.saturating_add(1)
        } else {
            0
        };
        group
    }
}

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

/// What the commit thread woke for.
enum Woken {
    Work,
    Probe(Duration),
    Closed,
}

impl Committer {
    pub(super) fn new(
        wal: Wal,
        view: Arc<View>,
        backlog: Arc<SledBacklog>,
        shared: Weak<Shared>,
    ) -> Self {
        Self {
            queue: Mutex::default(),
            work: Condvar::new(),
            wal: Mutex::new(wal),
            view,
            backlog,
            shared,
        }
    }

    /// Queues a write. Writers queue under the writer lock, so the queue is in revision order;
    /// the caller then calls [`Committer::commit_queued`] outside it.
    pub(super) fn enqueue(&self, pending: Pending) -> Result<()> {
        let mut queue = self.lock_queue();
        if queue.dead {
            return Err(dead());
        }
        queue.pending.push(pending);
        Ok(())
    }

    /// Commits what is queued on this thread when the log is free and healthy; otherwise
    /// leaves it to the commit thread. Called after [`Committer::enqueue`]: when the log is
    /// held, its holder looks at the queue after it lets go, so nobody needs waking now.
    pub(super) fn commit_queued(&self) {
        let Some(mut wal) = self.try_lock_wal() else {
            return;
        };
        let group = {
            let mut queue = self.lock_queue();
            if queue.leader_wanted() {
                queue.take_group()
            } else {
                Vec::new()
            }
        };
        let quick = !group.is_empty()
            && self.backlog.has_room(logged(&group).count())
            && wal.appends_in_place(logged(&group).map(|l| &l.entry[..]));
        if quick {
            let _dies = DiesOnPanic(self);
            self.commit(&mut wal, group);
        } else if !group.is_empty() {
            self.lock_queue().pending.splice(0..0, group);
        }
        drop(wal);
        // What was queued while this thread held the log.
        self.wake_for_queued();
    }

    /// No more writes come: the commit thread ends once it committed what is queued.
    pub(super) fn close(&self) {
        self.lock_queue().closed = true;
        self.work.notify_one();
    }

    /// A commit panicked: whether its group reached the view is unknown, so no write may be
    /// decided on top of it. Every queued write and every later one is answered with an error.
    fn die(&self) {
        error!("the group commit panicked; writes are refused until a restart");
        self.view.set_cannot_write(Some(DEAD.to_owned()));
        let failed = {
            let mut queue = self.lock_queue();
            queue.dead = true;
            queue.closed = true;
            std::mem::take(&mut queue.pending)
        };
        for pending in failed {
            let _ = pending.ack.send(Err(dead()));
        }
        self.work.notify_one();
    }

    /// Wakes the commit thread if it sleeps while writes are queued.
    fn wake_for_queued(&self) {
        let queue = self.lock_queue();
        if queue.sleeping && !queue.pending.is_empty() {
            self.work.notify_one();
        }
    }

    /// Runs the commit thread until the close. It runs on a thread of its own: it waits for
    /// the disk, for sled's backlog and for probes, which the runtime's threads must not.
    pub(super) fn run(&self) {
        let _span = info_span!("group_commit").entered();
        let _dies = DiesOnPanic(self);
        loop {
            match self.wait_for_work() {
                Woken::Probe(wait) => self.probe(wait),
                Woken::Work => {
                    let mut wal = self.lock_wal();
                    let group = self.lock_queue().take_group();
                    if !group.is_empty() {
                        self.commit(&mut wal, group);
                    }
                }
                Woken::Closed => {
                    // Under the log's lock: a writer's commit still under way pushes first.
                    let _wal = self.lock_wal();
                    self.backlog.close();
                    return;
                }
            }
        }
    }

    fn wait_for_work(&self) -> Woken {
        let mut queue = self.lock_queue();
        loop {
            if !queue.pending.is_empty() {
                return Woken::Work;
            }
            if queue.closed {
                return Woken::Closed;
            }
            queue.sleeping = true;
            let mut timed_out = false;
            queue = match queue.faulted {
                None => self
                    .work
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(wait) => {
                    let (queue, timeout) = self
                        .work
                        .wait_timeout(queue, wait)
                        .unwrap_or_else(PoisonError::into_inner);
                    timed_out = timeout.timed_out();
                    queue
                }
            };
            queue.sleeping = false;
            if let (true, Some(wait)) = (timed_out && queue.pending.is_empty(), queue.faulted) {
                return Woken::Probe(wait);
            }
        }
    }

    /// Appends `group` to the log with one sync, then publishes and acknowledges it, or
    /// answers it and everything queued after it with the error.
    fn commit(&self, wal: &mut Wal, group: Vec<Pending>) {
        let records = records(&group);
        let appended = panic::catch_unwind(AssertUnwindSafe(|| wal.append(&records)));
        let err = match appended {
            Ok(Ok(())) => {
                // A group of barriers only writes nothing: it proves nothing either.
                if !records.is_empty() && self.lock_queue().faulted.take().is_some() {
                    info!("the write-ahead log takes writes again");
                    self.view.set_cannot_write(None);
                }
                let changes = publish(&self.view, group);
                self.backlog.push(changes);
                return;
            }
            Ok(Err(err)) => err,
            Err(_) => io::Error::other("the log writer panicked"),
        };
        let fault = Fault::of(&err);
        let first = self.lock_queue().faulted.replace(FIRST_PROBE).is_none();
        if first {
            error!(error = %err, reason = fault.reason(), "writes fail; they are answered with the error and undone");
        } else {
            debug!(error = %err, "a write failed again");
        }
        self.undo(group, fault);
        self.view.set_cannot_write(Some(fault.reason().to_owned()));
        // The commit thread probes from now on.
        self.work.notify_one();
    }

    /// Answers the failed group and every write queued after it with `fault`, and undoes them
    /// in the writers' state. Under the writer lock, so that no write is decided on top of
    /// them.
    fn undo(&self, group: Vec<Pending>, fault: Fault) {
        let fail = || {
            let mut failed = group;
            failed.append(&mut self.lock_queue().pending);
            let changes = changes(&failed);
            for pending in failed {
                let _ = pending.ack.send(Err(fault.error()));
            }
            changes
        };
        match self.shared.upgrade() {
            Some(shared) => shared.undo(fail),
            // The store is gone: nothing decides on top of these writes any more.
            None => drop(fail()),
        }
    }

    /// Probes a log that failed, and sets the next wait, or none once it can take writes.
    fn probe(&self, wait: Duration) {
        let next = match self.lock_wal().probe() {
            Ok(()) => {
                info!("the write-ahead log can take writes again");
                self.view.set_cannot_write(None);
                None
            }
            Err(err) => {
                let fault = Fault::of(&err);
                warn!(error = %err, reason = fault.reason(), "writes still fail; retrying");
                self.view.set_cannot_write(Some(fault.reason().to_owned()));
                Some((wait * 2).min(LONGEST_PROBE))
            }
        };
        self.lock_queue().faulted = next;
    }

    fn lock_queue(&self) -> MutexGuard<'_, Queue> {
        // Every update of the queue is a single assignment or call: it is consistent even
        // after a panic elsewhere.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_wal(&self) -> MutexGuard<'_, Wal> {
        // A panic in an append is caught within the lock; the log undoes a failed append.
        self.wal.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn try_lock_wal(&self) -> Option<MutexGuard<'_, Wal>> {
        match self.wal.try_lock() {
            Ok(wal) => Some(wal),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

/// The group's changes with their records, without its barriers.
fn logged(group: &[Pending]) -> impl Iterator<Item = &Logged> {
    group.iter().filter_map(|p| p.logged.as_ref())
}

/// The group's changes.
fn changes(group: &[Pending]) -> Vec<Arc<Change>> {
    logged(group).map(|l| Arc::clone(&l.change)).collect()
}

/// The group's log records.
fn records(group: &[Pending]) -> Vec<(u64, &[u8])> {
    logged(group)
        .map(|l| (l.change.revision, &l.entry[..]))
        .collect()
}

/// Publishes the group's changes and acknowledges its writes; returns the changes.
fn publish(view: &View, group: Vec<Pending>) -> Vec<Arc<Change>> {
    let changes = changes(&group);
    view.publish(&changes);
    for pending in group {
        // The writer may have gone (its client cancelled); the write stands regardless.
        let _ = pending.ack.send(Ok(()));
    }
    changes
}

#[cfg(test)]
mod tests {
    use std::{
        future::Future as _,
        pin::pin,
        sync::mpsc,
        task::{Context, Poll, Waker},
        thread,
        time::Instant,
    };

    use hostendpoint_api::model::Revision;

    use super::*;
    use crate::store::{
        Object, Snapshot, Store as _, Write,
        memory::mk_hep,
        sled::{
            SledConfig, SledStore,
            backlog::{MAX_BACKLOG, Taken},
            codec,
        },
    };

    /// How long a test waits for another thread.
    const DEADLINE: Duration = Duration::from_secs(60);

    impl Committer {
        /// Waits until the commit thread sleeps with nothing queued: the log is free.
        fn wait_until_idle(&self) {
            let deadline = Instant::now() + DEADLINE;
            loop {
                {
                    let queue = self.lock_queue();
                    if queue.sleeping && queue.pending.is_empty() {
                        return;
                    }
                }
                assert!(Instant::now() < deadline, "the commit thread stays busy");
                thread::yield_now();
            }
        }

        /// Whether the next lone write is committed by its writer: enough lone groups came, and
        /// the commit thread moved the log from its sparse first segment to one zero-filled in
        /// advance (leaving the sparse one takes more than a sync, which writers leave to it).
        fn writers_lead(&self) -> bool {
            // The queue's lock is let go first: whoever holds both takes the log's first.
            let lone = self.lock_queue().lone_groups;
            lone >= LONE_GROUPS_TO_LEAD && self.lock_wal().appends_in_place([])
        }
    }

    fn create(name: &str) -> Write {
        Write::Create(mk_hep(name, "n1", "a"))
    }

    /// Runs `f` on a thread of its own; the receiver hears its result.
    fn on_a_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> mpsc::Receiver<T> {
        let (done, result) = mpsc::channel();
        thread::spawn(move || {
            let _ = done.send(f());
        });
        result
    }

    #[tokio::test]
    async fn writes_that_come_one_at_a_time_are_committed_by_their_writers() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SledStore::open(&SledConfig::new(dir.path())).expect("opened");
        let commits = store.shared.lock_writer().commits.clone().expect("open");
        let deadline = Instant::now() + DEADLINE;
        let mut first = 0;
        while !commits.writers_lead() {
            assert!(
                Instant::now() < deadline,
                "the log stays on its sparse segment"
            );
            let written = store.write(create(&format!("first-{first}"))).await;
            written.expect("written");
            first += 1;
        }
        commits.wait_until_idle();
        for round in 0..10 {
            let mut write = pin!(store.write(create(&format!("hep-{round}"))));
            // Done at its first poll: nothing was handed to the commit thread and back.
            let Poll::Ready(written) = write.as_mut().poll(&mut Context::from_waker(Waker::noop()))
            else {
                panic!("round {round}: the write waited for another thread");
            };
            let written = written.expect("written");
            assert_eq!(store.view().revision(), written.metadata.resource_version);
        }
    }

    /// Writes `count` objects from `tasks` tasks at once; returns their revisions.
    async fn write_at_once(
        store: &SledStore,
        phase: &str,
        tasks: u64,
        count: u64,
    ) -> Vec<Revision> {
        let tasks: Vec<_> = (0..tasks)
            .map(|task| {
                let store = store.clone();
                let phase = phase.to_owned();
                tokio::spawn(async move {
                    let mut revisions = Vec::new();
                    for i in 0..count {
                        let written = store.write(create(&format!("{phase}-{task}-{i}"))).await;
                        revisions.push(written.expect("written").metadata.resource_version);
                    }
                    revisions
                })
            })
            .collect();
        let mut revisions = Vec::new();
        for task in tasks {
            revisions.extend(task.await.expect("no panic"));
        }
        revisions
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn writes_alone_and_at_once_are_all_logged_in_revision_order() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SledStore::open(&SledConfig::new(dir.path())).expect("opened");
        let before = store.view().revision();
        // Lone writes are committed by their writers, concurrent ones by the commit thread,
        // and each phase starts while the other's way still holds the log.
        let phases = async {
            let mut acknowledged = Vec::new();
            for round in 0..3 {
                acknowledged.extend(write_at_once(&store, &format!("lone{round}"), 1, 20).await);
                acknowledged.extend(write_at_once(&store, &format!("many{round}"), 32, 10).await);
            }
            acknowledged
        };
        let mut acknowledged = tokio::time::timeout(DEADLINE, phases)
            .await
            .expect("every write is acknowledged");
        acknowledged.sort_unstable();
        let every: Vec<Revision> = (before + 1..=before + acknowledged.len() as u64).collect();
        assert_eq!(acknowledged, every, "one revision for each write");
        store.close().await.expect("closed");
        drop(store);

        let store = SledStore::open(&SledConfig::new(dir.path())).expect("opened again");
        let logged = store.history(before, every.len() + 1).await;
        let logged: Vec<_> = logged
            .expect("history")
            .iter()
            .map(|c| c.revision)
            .collect();
        assert_eq!(
            logged, every,
            "the log holds every write, in revision order"
        );
        assert_eq!(store.view().snapshot().len(), every.len());
    }

    /// A logged write of a new object at `revision`, and where its acknowledgement arrives.
    fn pending(revision: Revision) -> (Pending, oneshot::Receiver<Result<()>>) {
        let hep = mk_hep(&format!("hep-{revision}"), "n1", "a");
        let change = Change::new(revision, None, Some(Object::new(hep)));
        let entry = codec::encode_change(&change);
        let (ack, acked) = oneshot::channel();
        let logged = Logged {
            change: Arc::new(change),
            entry,
        };
        let pending = Pending {
            logged: Some(logged),
            ack,
        };
        (pending, acked)
    }

    /// Waits for the answer to a write.
    fn answer(acked: oneshot::Receiver<Result<()>>) -> Result<()> {
        let answer = on_a_thread(move || acked.blocking_recv()).recv_timeout(DEADLINE);
        answer.expect("answered in time").expect("answered")
    }

    /// Queues a write at `revision` and commits it as a writer does; returns once it is durable.
    fn write(committer: &Arc<Committer>, revision: Revision) {
        let (pending, acked) = pending(revision);
        committer.enqueue(pending).expect("queued");
        let writer = Arc::clone(committer);
        on_a_thread(move || writer.commit_queued())
            .recv_timeout(DEADLINE)
            .expect("the writer returns without waiting for sled");
        answer(acked).expect("durable");
    }

    /// Writes one at a time until a writer that finds the log free commits its own write (see
    /// [`Committer::writers_lead`]). Returns the next revision.
    fn write_until_writers_lead(committer: &Arc<Committer>) -> Revision {
        let deadline = Instant::now() + DEADLINE;
        let mut next = 1;
        while !committer.writers_lead() {
            assert!(
                Instant::now() < deadline,
                "the log stays on its sparse segment"
            );
            write(committer, next);
            next += 1;
        }
        committer.wait_until_idle();
        next
    }

    /// A committer on an empty log in `dir`, its commit thread, and what it commits to.
    struct Running {
        committer: Arc<Committer>,
        commit_thread: mpsc::Receiver<()>,
        view: Arc<View>,
        backlog: Arc<SledBacklog>,
    }

    fn running(dir: &tempfile::TempDir) -> Running {
        let backlog = Arc::new(SledBacklog::new(0));
        let view = Arc::new(View::new(Snapshot::new(0, []), 16));
        let wal = Wal::create(dir.path(), 1).expect("a log");
        let committer = Arc::new(Committer::new(
            wal,
            Arc::clone(&view),
            Arc::clone(&backlog),
            Weak::new(),
        ));
        let commit_thread = {
            let committer = Arc::clone(&committer);
            on_a_thread(move || committer.run())
        };
        Running {
            committer,
            commit_thread,
            view,
            backlog,
        }
    }

    #[test]
    fn a_writer_leaves_its_write_to_the_commit_thread_while_sleds_backlog_is_full() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let Running {
            committer,
            commit_thread,
            view,
            backlog,
        } = running(&dir);
        let next = write_until_writers_lead(&committer);
        let filler = (next..=MAX_BACKLOG as Revision)
            .map(|revision| Arc::new(Change::new(revision, None, None)))
            .collect();
        backlog.push(filler);
        let lone = committer.lock_queue().lone_groups;

        // This one would wait for sled's room on the writer's thread.
        let last = MAX_BACKLOG as Revision + 1;
        write(&committer, last);
        assert_eq!(view.revision(), last);
        // Taken by the writer, put back, and taken by the commit thread.
        assert_eq!(committer.lock_queue().lone_groups, lone + 2);

        // The commit thread waits for room; the sled writer makes it.
        backlog.catch_up(Revision::MAX, Duration::ZERO);
        let Taken::Changes(taken) = backlog.take_due(Duration::ZERO) else {
            panic!("the full backlog is due");
        };
        assert_eq!(taken.len(), MAX_BACKLOG);
        committer.close();
        commit_thread
            .recv_timeout(DEADLINE)
            .expect("the commit thread pushes the write and ends at the close");
        let Taken::Changes(taken) = backlog.take_due(Duration::ZERO) else {
            panic!("the write is due at the close");
        };
        let taken: Vec<_> = taken.iter().map(|change| change.revision).collect();
        assert_eq!(taken, [last]);
    }

    #[test]
    fn a_panic_while_committing_refuses_every_write_until_a_restart() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let Running {
            committer,
            commit_thread,
            view,
            ..
        } = running(&dir);
        committer.wait_until_idle();
        let (queued, acked) = pending(1);
        committer.enqueue(queued).expect("queued");

        let panicked = panic::catch_unwind(AssertUnwindSafe(|| {
            let _dies = DiesOnPanic(&committer);
            panic!("a bug while committing");
        }));
        assert!(panicked.is_err());

        let refused = |answer: Result<()>| matches!(answer, Err(Error::Unavailable { reason }) if reason == DEAD);
        assert!(refused(answer(acked)), "the queued write is answered");
        let (later, _) = pending(2);
        assert!(
            refused(committer.enqueue(later)),
            "a later write is refused"
        );
        let cannot_write = view.availability().cannot_write;
        assert_eq!(cannot_write.as_deref(), Some(DEAD));
        commit_thread
            .recv_timeout(DEADLINE)
            .expect("the commit thread ends");
    }
}
