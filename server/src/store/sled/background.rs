//! The sled store's background work: checkpoints, and compaction of the history.

use std::{
    sync::{PoisonError, Weak, atomic::Ordering},
    time::Duration,
};

use hostendpoint_api::model::Revision;
use tracing::{debug, warn};

use super::{
    Shared,
    checkpoint::{self, CHECKPOINT_INTERVAL},
    wal,
};

/// The longest a checkpoint waits for sled to take the writes since the last one; it makes
/// durable what sled took by then.
const SLED_CATCH_UP: Duration = Duration::from_secs(5);

impl Shared {
    /// Makes sled durable up to the current revision. Returns without a sync when nothing was
    /// written since the last one.
    pub(super) fn checkpoint(&self) -> std::io::Result<()> {
        let _one_at_a_time = self
            .checkpointing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // sled takes the writes since the last checkpoint now, all at once (see `backlog`).
        let revision = self.backlog.catch_up(self.view.revision(), SLED_CATCH_UP);
        if revision == self.checkpointed.load(Ordering::Acquire) {
            return Ok(());
        }
        // A failed sync is never retried on the same files: Linux reports a writeback error
        // once, so a second sync could succeed over data that never reached the disk. sled
        // is reopened first (the flag is cleared only then).
        if self.sled_failed.load(Ordering::Acquire) {
            return Err(std::io::Error::other(
                "sled's last flush failed; it is being reopened, and the log keeps every write",
            ));
        }
        // Every change up to `revision` was written into sled before it was counted, so this
        // sync covers it.
        let start = std::time::Instant::now();
        let synced = self
            .files
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
            .ok_or_else(|| std::io::Error::other("sled is being reopened"))?
            .sync();
        if synced.is_err() {
            // sled keeps a failed flush's error for good: it must be opened again.
            self.sled_failed.store(true, Ordering::Release);
            self.backlog.wake();
        }
        synced?;
        checkpoint::record(&self.wal_dir, revision)?;
        self.metrics
            .checkpoint_seconds
            .observe(start.elapsed().as_secs_f64());
        self.checkpointed.store(revision, Ordering::Release);
        Ok(())
    }

    /// Keeps the history to the last `retained` revisions: resumes from older ones are
    /// refused at once, and the log segments that hold only older revisions (and that sled
    /// holds durably) are removed.
    pub(super) fn compact(&self, retained: u64) -> std::io::Result<()> {
        let floor = self.view.revision().saturating_sub(retained);
        self.compacted.fetch_max(floor, Ordering::AcqRel);
        let durable: Revision = self.checkpointed.load(Ordering::Acquire);
        wal::remove_covered(&self.wal_dir, floor.min(durable))
    }
}

pub(super) async fn checkpoint_periodically(shared: Weak<Shared>) {
    every(
        CHECKPOINT_INTERVAL,
        shared,
        "checkpoint",
        Shared::checkpoint,
    )
    .await;
}

pub(super) async fn compact_periodically(shared: Weak<Shared>, retained: u64, interval: Duration) {
    every(interval, shared, "compaction", move |shared| {
        shared.compact(retained)
    })
    .await;
}

/// Runs `work` on the blocking pool every `interval` while the store is open. A failure is
/// retried at the next tick: the log still holds every write, so it costs only disk space
/// or replay time at start-up.
async fn every(
    interval: Duration,
    shared: Weak<Shared>,
    what: &'static str,
    work: impl Fn(&Shared) -> std::io::Result<()> + Clone + Send + 'static,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let work = work.clone();
        match tokio::task::spawn_blocking(move || work(&shared)).await {
            Ok(Ok(())) => debug!(what, "done"),
            Ok(Err(err)) => warn!(what, error = %err, "failed; retrying later"),
            Err(panic) => warn!(what, %panic, "panicked; retrying later"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::{
        Store as _, Write,
        memory::mk_hep,
        sled::{SledConfig, SledStore},
    };

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checkpoints_at_the_same_time_all_succeed_and_record_the_last_revision() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SledStore::open(&SledConfig::new(dir.path())).expect("opened");
        for round in 0..20 {
            let hep = mk_hep(&format!("hep-{round}"), "n1", "a");
            let written = store.write(Write::Create(hep)).await.expect("written");
            // The periodic checkpoint and the one of a clean stop can run together.
            let checkpoints: Vec<_> = (0..4)
                .map(|_| {
                    let shared = Arc::clone(&store.shared);
                    std::thread::spawn(move || shared.checkpoint())
                })
                .collect();
            for checkpoint in checkpoints {
                let done = checkpoint.join().expect("no panic");
                done.expect("every checkpoint succeeds");
            }
            let recorded = checkpoint::recorded(&store.shared.wal_dir);
            assert_eq!(recorded, Some(written.metadata.resource_version));
        }
    }
}
