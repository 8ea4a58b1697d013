//! Refused connections in the log: each is logged at warn, as etcd logs "rejected connection",
//! so that an operator sees agents turned away for a bad certificate; but at most one line a
//! second, with the count of those left out, so that a scanner cannot flood the log. Written
//! here because the rule is two atomics; a rate-limiting crate would add more than it saves.

use std::{
    fmt::Display,
    net::SocketAddr,
    sync::atomic::{AtomicU64, Ordering},
};

use tokio::time::Instant;
use tracing::warn;

/// The log of refused connections.
#[derive(Debug)]
pub(super) struct Rejections {
    start: Instant,
    /// The second (since `start`) of the last line logged, plus one; 0 before the first.
    last_logged: AtomicU64,
    /// Refusals not logged since the last line.
    left_out: AtomicU64,
}

impl Rejections {
    pub(super) fn new() -> Self {
        Self {
            start: Instant::now(),
            last_logged: AtomicU64::new(0),
            left_out: AtomicU64::new(0),
        }
    }

    /// Logs a refused connection, unless one was logged this second.
    pub(super) fn report(&self, addr: SocketAddr, reason: &dyn Display) {
        let second = self.start.elapsed().as_secs() + 1;
        if self.last_logged.swap(second, Ordering::AcqRel) == second {
            self.left_out.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let left_out = self.left_out.swap(0, Ordering::Relaxed);
        warn!(%addr, %reason, left_out, "rejected connection");
    }
}
