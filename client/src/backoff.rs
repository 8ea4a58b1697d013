//! Jittered exponential backoff between reconnection attempts.

use std::time::Duration;

use rand::Rng as _;

/// How the watcher spaces its reconnection attempts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackoffConfig {
    /// The first delay (before jitter).
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
    /// A connection healthy for this long resets the delay to `initial`.
    pub reset_after: Duration,
}

impl Default for BackoffConfig {
    /// 0.8 s doubling up to 30 s, reset after two healthy minutes, as kube-rs's watcher does.
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(800),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(120),
        }
    }
}

/// The delays of one run of failures.
#[derive(Debug)]
pub(crate) struct Backoff {
    config: BackoffConfig,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(config: BackoffConfig) -> Self {
        let next = config.initial;
        Self { config, next }
    }

    pub(crate) fn config(&self) -> &BackoffConfig {
        &self.config
    }

    /// The next delay: the current base with ±50% jitter (so that many agents that lost the
    /// same server do not come back in step), never above `max`; the base doubles.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (base * 2).min(self.config.max);
        let factor = rand::rng().random_range(0.5..1.5);
        base.mul_f64(factor).min(self.config.max)
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.config.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_with_jitter_and_reset() {
        let mut backoff = Backoff::new(BackoffConfig::default());
        let first = backoff.next_delay();
        assert!((400..=1200).contains(&first.as_millis()), "{first:?}");
        let delays: Vec<_> = (0..10).map(|_| backoff.next_delay()).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(30)));
        assert!(delays.last().is_some_and(|d| *d >= Duration::from_secs(15)));
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(1200));
    }
}
