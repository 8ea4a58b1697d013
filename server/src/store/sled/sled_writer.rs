//! The thread that writes published changes into sled, taking them from the
//! [backlog](super::backlog) when they are due, about once a checkpoint: only the last state of
//! each object, and the store's revision once. When sled fails it is reopened (see
//! [`reopen`](super::reopen)); the log holds the changes meanwhile.

use std::{
    collections::HashMap,
    sync::{Arc, Weak, atomic::Ordering},
    time::Duration,
};

use tracing::{error, info_span};

use super::{
    Shared,
    backlog::{SledBacklog, Taken},
    reopen::SledOpener,
};
use crate::store::{Change, Object};

/// How often the sled writer, when idle, looks whether a checkpoint found sled failed, should
/// the checkpoint's wake-up be missed.
const SLED_CHECK: Duration = Duration::from_millis(500);

/// The sled writer's sled, and what it needs to reopen it.
#[derive(Debug)]
pub(super) struct SledWriter {
    pub(super) db: sled::Db,
    pub(super) backlog: Arc<SledBacklog>,
    pub(super) opener: SledOpener,
    pub(super) shared: Weak<Shared>,
}

/// Tells the backlog, whatever ends the sled writer, that nobody takes changes any more.
struct Abandon<'a>(&'a SledBacklog);

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        self.0.abandon();
    }
}

impl SledWriter {
    /// Writes every change from the backlog until it is closed, on a thread of its own.
    pub(super) fn run(self) {
        let _span = info_span!("sled_writer").entered();
        let Self {
            mut db,
            backlog,
            opener,
            shared,
        } = self;
        let _abandon = Abandon(&backlog);
        loop {
            let failed = match backlog.take_due(SLED_CHECK) {
                Taken::Changes(changes) => write_changes(&db, &backlog, &changes)
                    .err()
                    .map(|e| e.to_string()),
                Taken::Idle => None,
                Taken::Closed => return,
            };
            // Checked after every take: a checkpoint that finds sled failed wakes this thread.
            let failed = failed.or_else(|| {
                shared
                    .upgrade()
                    .filter(|shared| shared.sled_failed.load(Ordering::Acquire))
                    .map(|_| "a checkpoint's flush failed".to_owned())
            });
            let Some(err) = failed else { continue };
            error!(error = %err, "sled failed; writes go on in the write-ahead log; reopening sled");
            // Moved, not cloned: sled lets go of its files only once every handle is gone.
            let Some(reopened) = opener.reopen(db, &shared) else {
                return;
            };
            db = reopened;
        }
    }
}

/// Writes `changes` into sled, skipping what a reopened sled holds already: the last state of
/// every object they change, then their last revision. Records how far sled got only when
/// all of it is written; a failure leaves the checkpoint where it was, and the reopen writes
/// them again from the log.
fn write_changes(
    db: &sled::Db,
    backlog: &SledBacklog,
    changes: &[Arc<Change>],
) -> sled::Result<()> {
    let held = backlog.written();
    let fresh = changes.iter().filter(|change| change.revision > held);
    let Some(last) = fresh.clone().map(|change| change.revision).max() else {
        return Ok(());
    };
    for (name, state) in last_states(fresh) {
        super::write_state(db, name, state)?;
    }
    super::write_revision(db, last)?;
    backlog.set_written(last);
    Ok(())
}

/// The last state of every object `changes` (in revision order) change; `None`: deleted.
fn last_states<'a>(
    changes: impl Iterator<Item = &'a Arc<Change>>,
) -> HashMap<&'a str, Option<&'a Object>> {
    let mut states = HashMap::new();
    for change in changes {
        match (&change.prev, &change.next) {
            (_, Some(next)) => states.insert(&**next.name(), Some(&**next)),
            (Some(prev), None) => states.insert(&**prev.name(), None),
            (None, None) => None,
        };
    }
    states
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::mk_hep;

    fn object(name: &str, node: &str) -> Arc<Object> {
        Object::new(mk_hep(name, node, "eth0"))
    }

    #[test]
    fn sled_takes_the_last_state_of_each_object_only() {
        let (a1, a2, b) = (object("a", "n1"), object("a", "n2"), object("b", "n1"));
        let changes = [
            Change::new(1, None, Some(Arc::clone(&a1))),
            Change::new(2, None, Some(Arc::clone(&b))),
            Change::new(3, Some(a1), Some(Arc::clone(&a2))),
            Change::new(4, Some(Arc::clone(&b)), None),
        ]
        .map(Arc::new);
        let states = last_states(changes.iter());
        assert_eq!(states.len(), 2);
        assert_eq!(states["a"].map(|a| a.spec.node.as_str()), Some("n2"));
        assert!(states["b"].is_none(), "deleted");
    }
}
