//! The changes that are synced and published but not yet written into sled, in revision
//! order, and how far sled got.
//!
//! Whoever commits a group adds it after it published it; the [sled
//! writer](super::sled_writer) takes them when they are due: when a
//! [checkpoint](super::checkpoint) or the close asks for them ([`SledBacklog::catch_up`]), or
//! when [`APPLY_AT`] of them wait. So sled takes a second of writes at once, just before it is
//! flushed, and does not write to the device between checkpoints, where the log's syncs wait
//! behind whatever else the device is doing. The backlog is bounded: when sled falls behind the
//! log, the commit thread waits before its next group (and writers do not commit their own),
//! so writers feel a slower acknowledgement instead of the server's memory growing without
//! limit. While sled is being reopened its backlog is dropped instead: the reopen replays
//! everything published from the log.

use std::{
    collections::VecDeque,
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use hostendpoint_api::model::Revision;

use super::commit::MAX_GROUP;
use crate::store::Change;

/// The most changes waiting for sled: more than a checkpoint interval of writes at the rate
/// one machine's log syncs (about 15 000 a second), and a few MiB of pointers. Each holds its
/// change, and so an update's previous object, until sled took it.
pub(super) const MAX_BACKLOG: usize = 8 * MAX_GROUP;

/// How many waiting changes are due without a checkpoint asking: sled takes them before the
/// backlog is full, so that writers are held only when sled cannot keep up.
pub(super) const APPLY_AT: usize = MAX_BACKLOG / 4 * 3;

/// The backlog, shared by the commit thread, the sled writer and whoever waits for sled.
#[derive(Debug)]
pub(super) struct SledBacklog {
    state: Mutex<State>,
    /// Signalled on every change of the state.
    changed: Condvar,
}

#[derive(Debug)]
struct State {
    queued: VecDeque<Arc<Change>>,
    /// sled holds every change up to this revision (in memory; checkpoints make it durable).
    written: Revision,
    /// Somebody waits for sled to hold what is queued: it is due now.
    wanted: bool,
    /// The sled writer must look at sled's health now (a checkpoint found it failed).
    woken: bool,
    /// Dropping changes: sled is being reopened, and the reopen replays them from the log.
    dropping: bool,
    /// No more changes come: the commit thread ended.
    closed: bool,
    /// The sled writer ended: nobody takes changes any more.
    abandoned: bool,
    /// A push waits for room.
    holding: bool,
}

/// What [`SledBacklog::take`] found.
#[derive(Debug)]
pub(super) enum Taken {
    /// Changes to write, in revision order.
    Changes(Vec<Arc<Change>>),
    /// None came within the wait.
    Idle,
    /// None will come.
    Closed,
}

impl SledBacklog {
    /// An empty backlog over a sled that holds every change up to `written`.
    pub(super) fn new(written: Revision) -> Self {
        Self {
            state: Mutex::new(State {
                queued: VecDeque::new(),
                written,
                wanted: false,
                woken: false,
                dropping: false,
                closed: false,
                abandoned: false,
                holding: false,
            }),
            changed: Condvar::new(),
        }
    }

    /// Adds a published group, first waiting while the backlog is full (a group larger than
    /// the bound waits for an empty one). Called by whoever holds the log, one at a time.
    pub(super) fn push(&self, changes: Vec<Arc<Change>>) {
        if changes.is_empty() {
            return;
        }
        let mut state = self.lock();
        while state.must_hold(changes.len()) {
            state.holding = true;
            self.changed.notify_all();
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let was_holding = std::mem::take(&mut state.holding);
        if !state.dropping && !state.abandoned {
            state.queued.extend(changes);
        }
        // Only a push that makes the changes due wakes the sled writer: one wake-up a group
        // was a context switch per sync.
        if was_holding || state.due() {
            self.changed.notify_all();
        }
    }

    /// Whether a group of `len` changes would be pushed without waiting for room.
    pub(super) fn has_room(&self, len: usize) -> bool {
        !self.lock().must_hold(len)
    }

    /// Takes every queued change once they are due (see the module's doc), waiting up to
    /// `wait` for that.
    pub(super) fn take_due(&self, wait: Duration) -> Taken {
        let state = self.lock();
        let (mut state, _) = self
            .changed
            .wait_timeout_while(state, wait, |s| !s.due() && !s.closed && !s.woken)
            .unwrap_or_else(PoisonError::into_inner);
        state.woken = false;
        // At the close whatever is queued is due.
        if !state.due() && (state.queued.is_empty() || !state.closed) {
            return if state.closed {
                Taken::Closed
            } else {
                Taken::Idle
            };
        }
        state.wanted = false;
        let changes = state.queued.drain(..).collect();
        self.changed.notify_all();
        Taken::Changes(changes)
    }

    /// Makes the queued changes due, and waits up to `wait` until sled holds every change up to
    /// `revision` (which may not be pushed yet); returns the revision up to which it does.
    pub(super) fn catch_up(&self, revision: Revision, wait: Duration) -> Revision {
        {
            let mut state = self.lock();
            if state.written >= revision {
                return state.written;
            }
            // Stays set until the sled writer takes: a push still to come is due at once.
            state.wanted = true;
            self.changed.notify_all();
        }
        self.wait_until(wait, |s| {
            s.written >= revision || s.abandoned || (s.dropping && s.queued.is_empty())
        })
        .written
    }

    /// Wakes the sled writer, with or without changes due: sled failed and must be reopened.
    pub(super) fn wake(&self) {
        self.lock().woken = true;
        self.changed.notify_all();
    }

    /// The revision up to which sled holds every change.
    pub(super) fn written(&self) -> Revision {
        self.lock().written
    }

    /// Records that sled holds every change up to `revision`.
    pub(super) fn set_written(&self, revision: Revision) {
        self.lock().written = revision;
        self.changed.notify_all();
    }

    /// The state once `done` holds for it, or once `wait` passed.
    fn wait_until(&self, wait: Duration, done: impl Fn(&State) -> bool) -> MutexGuard<'_, State> {
        let deadline = Instant::now() + wait;
        let mut state = self.lock();
        while !done(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state
    }

    /// Drops what is queued, and every group pushed, until [`SledBacklog::keep`]: sled failed
    /// and will be reopened from the log.
    pub(super) fn drop_until_kept(&self) {
        let mut state = self.lock();
        state.dropping = true;
        state.queued.clear();
        self.changed.notify_all();
    }

    /// Keeps the groups pushed from now on. A reopen calls it before it reads how far the
    /// log is published, so that every dropped group is in what it replays.
    pub(super) fn keep(&self) {
        self.lock().dropping = false;
    }

    /// No more changes come.
    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// The sled writer is gone: the commit thread must not wait for it.
    pub(super) fn abandon(&self) {
        self.lock().abandoned = true;
        self.changed.notify_all();
    }

    /// Waits up to `wait` until a push is held for room; whether one is.
    #[cfg(test)]
    fn wait_holding(&self, wait: Duration) -> bool {
        self.wait_until(wait, |s| s.holding).holding
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update of the state is a single assignment or call: it is consistent even
        // after a panic elsewhere.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

// === impl State ===

impl State {
    /// Whether the queued changes are due for sled.
    fn due(&self) -> bool {
        !self.queued.is_empty() && (self.wanted || self.holding || self.queued.len() >= APPLY_AT)
    }

    /// Whether a group of `len` changes must wait for room.
    fn must_hold(&self, len: usize) -> bool {
        !self.dropping
            && !self.abandoned
            && !self.queued.is_empty()
            && self.queued.len() + len > MAX_BACKLOG
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::mpsc, thread};

    use super::*;

    /// How long a test waits for another thread.
    const DEADLINE: Duration = Duration::from_secs(60);

    fn changes(revisions: std::ops::RangeInclusive<Revision>) -> Vec<Arc<Change>> {
        revisions
            .map(|revision| Arc::new(Change::new(revision, None, None)))
            .collect()
    }

    /// Pushes `changes` on a thread of its own; the receiver hears when the push returned.
    fn push_on_a_thread(
        backlog: &Arc<SledBacklog>,
        changes: Vec<Arc<Change>>,
    ) -> mpsc::Receiver<()> {
        let (pushed, returned) = mpsc::channel();
        let backlog = Arc::clone(backlog);
        thread::spawn(move || {
            backlog.push(changes);
            let _ = pushed.send(());
        });
        returned
    }

    /// What the sled writer takes now, when it is due and when it is not.
    fn due(backlog: &SledBacklog) -> Vec<Revision> {
        match backlog.take_due(Duration::ZERO) {
            Taken::Changes(changes) => changes.iter().map(|c| c.revision).collect(),
            Taken::Idle | Taken::Closed => Vec::new(),
        }
    }

    /// What the sled writer takes after a checkpoint asked for everything.
    fn taken(backlog: &SledBacklog) -> Vec<Revision> {
        backlog.catch_up(Revision::MAX, Duration::ZERO);
        match backlog.take_due(Duration::ZERO) {
            Taken::Changes(changes) => changes.iter().map(|c| c.revision).collect(),
            Taken::Idle | Taken::Closed => Vec::new(),
        }
    }

    #[test]
    fn a_full_backlog_holds_the_next_group_until_the_writer_takes_it() {
        let backlog = Arc::new(SledBacklog::new(0));
        let max = MAX_BACKLOG as Revision;
        backlog.push(changes(1..=max));
        let pushed = push_on_a_thread(&backlog, changes(max + 1..=max + 1));
        assert!(backlog.wait_holding(DEADLINE), "the push is held");
        let first = taken(&backlog);
        assert_eq!(first.len(), MAX_BACKLOG, "the held group is not in it");
        pushed
            .recv_timeout(DEADLINE)
            .expect("the held push goes on");
        assert_eq!(taken(&backlog), [max + 1]);
    }

    #[test]
    fn a_group_larger_than_the_bound_goes_into_an_empty_backlog() {
        let backlog = SledBacklog::new(0);
        let max = MAX_BACKLOG as Revision;
        backlog.push(changes(1..=max + 10));
        assert_eq!(taken(&backlog).len(), MAX_BACKLOG + 10);
    }

    #[test]
    fn a_backlog_being_dropped_keeps_nothing_until_told_to() {
        let backlog = SledBacklog::new(0);
        let max = MAX_BACKLOG as Revision;
        backlog.push(changes(1..=max));
        backlog.drop_until_kept();
        backlog.push(changes(max + 1..=max + 5));
        assert!(taken(&backlog).is_empty(), "the reopen replays them");
        backlog.keep();
        backlog.push(changes(max + 6..=max + 6));
        assert_eq!(taken(&backlog), [max + 6]);
    }

    #[test]
    fn an_abandoned_backlog_never_holds_a_push() {
        let backlog = Arc::new(SledBacklog::new(0));
        let max = MAX_BACKLOG as Revision;
        backlog.push(changes(1..=max));
        backlog.abandon();
        let pushed = push_on_a_thread(&backlog, changes(max + 1..=max + 1));
        pushed
            .recv_timeout(DEADLINE)
            .expect("the push returns although the backlog is full");
        assert_eq!(backlog.catch_up(1, DEADLINE), 0, "nobody writes: at once");
    }

    #[test]
    fn changes_wait_for_a_checkpoint_until_enough_of_them_are_queued() {
        let backlog = SledBacklog::new(0);
        let at = APPLY_AT as Revision;
        backlog.push(changes(1..=at - 1));
        assert!(due(&backlog).is_empty(), "sled keeps off the device");
        backlog.push(changes(at..=at));
        assert_eq!(due(&backlog).len(), APPLY_AT);
    }

    #[test]
    fn a_catch_up_makes_the_queue_due_and_returns_once_sled_holds_it() {
        let backlog = Arc::new(SledBacklog::new(0));
        backlog.push(changes(1..=3));
        let (woken, waited) = mpsc::channel();
        {
            let backlog = Arc::clone(&backlog);
            // Its own deadline is longer than the test's: only being woken returns in time.
            thread::spawn(move || woken.send(backlog.catch_up(3, DEADLINE * 2)));
        }
        let writer = Arc::clone(&backlog);
        let taken = match writer.take_due(DEADLINE) {
            Taken::Changes(changes) => changes.len(),
            Taken::Idle | Taken::Closed => 0,
        };
        assert_eq!(taken, 3, "the catch-up woke the sled writer");
        backlog.set_written(3);
        let written = waited.recv_timeout(DEADLINE).expect("the waiter returns");
        assert_eq!(written, 3);
        backlog.push(changes(4..=4));
        assert!(due(&backlog).is_empty(), "a later push is not due");
    }
}
