//! The record of one fan-out measurement, shared by the writers and every watcher: when each
//! write was sent and acknowledged, and the latency of every delivery.

use std::{
    sync::{
        Mutex,
        atomic::{
            AtomicU64,
            Ordering::{Acquire, Relaxed, Release},
        },
    },
    time::{Duration, Instant},
};

use crate::histogram::{Histogram, Latency};

/// What the writers and the watchers of one measurement recorded.
#[derive(Debug)]
pub(super) struct Record {
    /// The revision the watchers resume after.
    pub(super) base: u64,
    t0: Instant,
    /// Per revision `base + 1 + i`: when its write was sent and when its acknowledgement
    /// arrived, in nanoseconds since `t0`, plus one (0: not yet).
    sent: Box<[AtomicU64]>,
    acked: Box<[AtomicU64]>,
    /// Deliveries that arrived before their write's acknowledgement: settled at the end.
    early: Mutex<Vec<(usize, u64)>>,
    from_ack: Histogram,
    from_request: Histogram,
    deliveries: AtomicU64,
    last_delivery_ns: AtomicU64,
    /// Streams that ended or failed while they should have been open.
    pub(super) broken: AtomicU64,
    /// Watchers that read their first message and stopped reading.
    pub(super) stalled: AtomicU64,
}

/// The latencies of the deliveries.
#[derive(Clone, Copy, Debug)]
pub(super) struct Latencies {
    /// From the write's acknowledgement (zero for a delivery that overtook it).
    pub(super) from_ack: Latency,
    /// From the moment the write was sent.
    pub(super) from_request: Latency,
    /// Deliveries of revisions no acknowledged write made (writes that timed out).
    pub(super) unacknowledged: u64,
}

impl Record {
    /// A record for writes after `base`, with room for `capacity` of them.
    pub(super) fn new(base: u64, capacity: usize) -> Self {
        Self {
            base,
            t0: Instant::now(),
            sent: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            acked: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            early: Mutex::new(Vec::new()),
            from_ack: Histogram::default(),
            from_request: Histogram::default(),
            deliveries: AtomicU64::new(0),
            last_delivery_ns: AtomicU64::new(0),
            broken: AtomicU64::new(0),
            stalled: AtomicU64::new(0),
        }
    }

    /// Now, in nanoseconds since the record was made.
    pub(super) fn now_ns(&self) -> u64 {
        u64::try_from(self.t0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn slot(&self, revision: u64) -> Option<usize> {
        let offset = usize::try_from(revision.checked_sub(self.base + 1)?).ok()?;
        (offset < self.acked.len()).then_some(offset)
    }

    /// Notes that the write that made `revision` was sent at `sent_ns` and is acknowledged now.
    pub(super) fn acknowledged(&self, revision: u64, sent_ns: u64) {
        if let Some(slot) = self.slot(revision) {
            self.sent[slot].store(sent_ns + 1, Relaxed);
            // Release: whoever sees the acknowledgement also sees when the write was sent.
            self.acked[slot].store(self.now_ns() + 1, Release);
        }
    }

    /// Notes that a watcher received these revisions now.
    pub(super) fn delivered(&self, revisions: &[u64]) {
        let now = self.now_ns();
        for &revision in revisions {
            let Some(slot) = self.slot(revision) else {
                continue;
            };
            self.deliveries.fetch_add(1, Relaxed);
            if !self.settle(slot, now) {
                self.lock_early().push((slot, now));
            }
        }
        self.last_delivery_ns.fetch_max(now, Relaxed);
    }

    /// Records the latencies of a delivery at `at_ns`, if its write was acknowledged.
    fn settle(&self, slot: usize, at_ns: u64) -> bool {
        let acked = self.acked[slot].load(Acquire);
        if acked == 0 {
            return false;
        }
        let sent = self.sent[slot].load(Relaxed).saturating_sub(1);
        let since_ack = at_ns.saturating_sub(acked - 1);
        self.from_ack.record(Duration::from_nanos(since_ack));
        self.from_request
            .record(Duration::from_nanos(at_ns.saturating_sub(sent)));
        true
    }

    /// How many deliveries arrived so far.
    pub(super) fn deliveries(&self) -> u64 {
        self.deliveries.load(Relaxed)
    }

    /// When the last delivery arrived, in nanoseconds since the record was made.
    pub(super) fn last_delivery_ns(&self) -> u64 {
        self.last_delivery_ns.load(Relaxed)
    }

    /// The latencies, once the writes are over: deliveries that overtook their write's
    /// acknowledgement are settled now.
    pub(super) fn latencies(&self) -> Latencies {
        let early = std::mem::take(&mut *self.lock_early());
        let mut unacknowledged = 0;
        for (slot, at_ns) in early {
            if !self.settle(slot, at_ns) {
                unacknowledged += 1;
            }
        }
        Latencies {
            from_ack: self.from_ack.latency(),
            from_request: self.from_request.latency(),
            unacknowledged,
        }
    }

    fn lock_early(&self) -> std::sync::MutexGuard<'_, Vec<(usize, u64)>> {
        self.early.lock().unwrap_or_else(|e| e.into_inner())
    }
}
