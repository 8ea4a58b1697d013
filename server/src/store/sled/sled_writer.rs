//! The thread that writes published changes into sled, taking them from the
//! [backlog](super::backlog) while the next group syncs. When sled fails it is reopened (see
//! [`reopen`](super::reopen)); the log holds the changes meanwhile.

use std::{
    sync::{Arc, Weak, atomic::Ordering},
    time::Duration,
};

use tracing::{error, info_span};

use super::{
    Shared,
    backlog::{SledBacklog, Taken},
    reopen::SledOpener,
};
use crate::store::Change;

/// How often the sled writer, when idle, looks whether a checkpoint found sled failed.
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
            let failed = match backlog.take(SLED_CHECK) {
                Taken::Changes(changes) => write_changes(&db, &backlog, &changes)
                    .err()
                    .map(|e| e.to_string()),
                Taken::Idle => None,
                Taken::Closed => return,
            };
            // Checked after every group too: under steady writes the wait never times out.
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

/// Writes `changes` into sled, skipping what a reopened sled holds already, and records how
/// far it got, also when it fails part way.
fn write_changes(
    db: &sled::Db,
    backlog: &SledBacklog,
    changes: &[Arc<Change>],
) -> sled::Result<()> {
    let held = backlog.written();
    let mut written = held;
    let result = changes
        .iter()
        .filter(|change| change.revision > held)
        .try_for_each(|change| {
            super::write_change(db, change)?;
            written = change.revision;
            Ok(())
        });
    if written > held {
        backlog.set_written(written);
    }
    result
}
