//! How far this replica's etcd watch is behind its etcd, and when that is too far to wait.
//!
//! etcd 3.4 catches up a watcher that fell behind (an "unsynced" one) by reading every
//! revision since the watcher's position, of every key, from its backend, and again on each
//! round until the watcher has caught up: a replica far behind can grow its etcd's memory by
//! gigabytes and wait forever. So a replica that notices it is far behind, or that its watch
//! has stopped moving while etcd has not, relists in pages at a revision and watches from
//! there instead, as Kubernetes' reflector relists when its position is too old.
//!
//! etcd's revision is in the header of every response, the watch's and a periodic probe's.
//! What the watch has reached is the revision of its last event, or of a progress
//! notification: etcd answers a progress request only for a watcher that has delivered
//! everything, with its current revision, so a quiet prefix in a busy etcd is not behind.

use std::{
    fmt,
    time::{Duration, Instant},
};

use hostendpoint_api::model::Revision;

/// When a replica stops waiting for its watch and relists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LagLimits {
    /// Relist when the watch is this many revisions behind etcd.
    pub revisions: u64,
    /// Relist when the watch is behind and has not moved for this long.
    pub stall: Duration,
}

impl Default for LagLimits {
    fn default() -> Self {
        Self {
            revisions: 10_000,
            stall: Duration::from_secs(10),
        }
    }
}

/// Why a watch is too far behind to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Behind {
    /// More revisions behind than the limit.
    Far { revisions: u64 },
    /// Behind, and not moving.
    Stalled { revisions: u64, still: Duration },
    /// etcd sent a batch of its backlog larger than the client takes (etcd 3.4 sends up to
    /// 1 000 revisions, of every key each changed, in one message).
    Oversized { revisions: u64 },
}

impl Behind {
    /// The metric label of the relist it causes.
    pub(super) fn label(self) -> &'static str {
        match self {
            Self::Far { .. } => "behind",
            Self::Stalled { .. } => "stalled",
            Self::Oversized { .. } => "oversized",
        }
    }

    /// How many revisions behind.
    pub(super) fn revisions(self) -> u64 {
        match self {
            Self::Far { revisions }
            | Self::Stalled { revisions, .. }
            | Self::Oversized { revisions } => revisions,
        }
    }
}

impl fmt::Display for Behind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let revisions = self.revisions();
        write!(
            f,
            "this replica's watch of etcd is {revisions} revisions behind"
        )?;
        match *self {
            Self::Far { .. } => Ok(()),
            Self::Stalled { still, .. } => {
                write!(f, " and has not moved for {}s", still.as_secs())
            }
            Self::Oversized { .. } => {
                write!(f, " and etcd sent a batch larger than the client takes")
            }
        }
    }
}

/// What a watch has reached against what etcd has.
#[derive(Debug)]
pub(super) struct Lag {
    /// etcd's latest revision, as last seen.
    etcd: Revision,
    /// Everything up to here was delivered.
    reached: Revision,
    /// When `reached` last moved, or the watch opened.
    moved: Instant,
}

impl Lag {
    /// A watch that opened at `now` after `from`.
    pub(super) fn new(from: Revision, now: Instant) -> Self {
        Self {
            etcd: from,
            reached: from,
            moved: now,
        }
    }

    /// etcd said its revision is `revision`.
    pub(super) fn etcd_at(&mut self, revision: Revision) {
        self.etcd = self.etcd.max(revision);
    }

    /// The watch delivered everything up to `revision`.
    pub(super) fn reached(&mut self, revision: Revision, now: Instant) {
        if revision > self.reached {
            self.reached = revision;
            self.moved = now;
            self.etcd_at(revision);
        }
    }

    /// How many revisions the watch is behind.
    pub(super) fn revisions(&self) -> u64 {
        self.etcd.saturating_sub(self.reached)
    }

    /// Whether the watch is too far behind to wait for, at `now`.
    pub(super) fn behind(&self, limits: LagLimits, now: Instant) -> Option<Behind> {
        let revisions = self.revisions();
        let still = now.saturating_duration_since(self.moved);
        if revisions >= limits.revisions {
            Some(Behind::Far { revisions })
        } else if revisions > 0 && still >= limits.stall {
            Some(Behind::Stalled { revisions, still })
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: LagLimits = LagLimits {
        revisions: 100,
        stall: Duration::from_secs(10),
    };

    #[test]
    fn a_watch_that_keeps_up_is_never_behind() {
        let start = Instant::now();
        let mut lag = Lag::new(5, start);
        for second in 1..100 {
            let now = start + Duration::from_secs(second);
            lag.etcd_at(5 + second * 50);
            lag.reached(5 + second * 50 - 10, now);
            assert_eq!(lag.behind(LIMITS, now), None);
        }
    }

    #[test]
    fn a_watch_past_the_limit_is_far_behind_at_once() {
        let start = Instant::now();
        let mut lag = Lag::new(5, start);
        lag.etcd_at(104);
        assert_eq!(lag.behind(LIMITS, start), None);
        lag.etcd_at(105);
        assert_eq!(
            lag.behind(LIMITS, start),
            Some(Behind::Far { revisions: 100 })
        );
    }

    #[test]
    fn a_watch_behind_that_stops_moving_is_stalled() {
        let start = Instant::now();
        let mut lag = Lag::new(5, start);
        lag.etcd_at(20);
        lag.reached(8, start + Duration::from_secs(1));
        assert_eq!(lag.behind(LIMITS, start + Duration::from_secs(10)), None);
        let later = start + Duration::from_secs(11);
        assert_eq!(
            lag.behind(LIMITS, later),
            Some(Behind::Stalled {
                revisions: 12,
                still: Duration::from_secs(10)
            })
        );
    }

    #[test]
    fn a_quiet_watch_that_etcd_confirms_is_not_stalled() {
        // Other keys move etcd's revision; progress notifications move the watch with it.
        let start = Instant::now();
        let mut lag = Lag::new(5, start);
        for second in 1..100 {
            let now = start + Duration::from_secs(second);
            lag.etcd_at(5 + second * 60);
            assert_eq!(lag.behind(LIMITS, now), None, "second {second}");
            lag.reached(5 + second * 60, now);
        }
    }

    #[test]
    fn a_quiet_etcd_is_never_behind() {
        let start = Instant::now();
        let lag = Lag::new(5, start);
        assert_eq!(lag.behind(LIMITS, start + Duration::from_secs(3600)), None);
    }
}
