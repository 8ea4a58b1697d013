//! A latency histogram that many tasks record into at once: log-linear buckets (64 per power of
//! two, so a percentile is within 1.6 % of the true value) of atomic counters, and the exact
//! maximum.

use std::{
    sync::atomic::{AtomicU64, Ordering::Relaxed},
    time::Duration,
};

use serde::Serialize;

/// Sub-buckets per power of two, as a power of two.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Values below this (nanoseconds) have a bucket each.
const LINEAR: u64 = SUB * 2;
/// Enough buckets for every `u64`.
const BUCKETS: usize = ((64 - SUB_BITS) as usize + 1) * SUB as usize;

/// Latencies in nanoseconds.
#[derive(Debug)]
pub(crate) struct Histogram {
    buckets: Box<[AtomicU64]>,
    max: AtomicU64,
}

/// The summary printed for a histogram, in milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub(crate) struct Latency {
    /// How many values were recorded.
    pub(crate) count: u64,
    /// The median.
    pub(crate) p50_ms: f64,
    /// The 99th percentile.
    pub(crate) p99_ms: f64,
    /// The largest value.
    pub(crate) max_ms: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            max: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Records one latency.
    pub(crate) fn record(&self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[index(nanos)].fetch_add(1, Relaxed);
        self.max.fetch_max(nanos, Relaxed);
    }

    /// How many values were recorded.
    pub(crate) fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }

    /// The median, 99th percentile and maximum.
    pub(crate) fn latency(&self) -> Latency {
        let count = self.count();
        Latency {
            count,
            p50_ms: millis(self.percentile(count, 0.50)),
            p99_ms: millis(self.percentile(count, 0.99)),
            max_ms: millis(self.max.load(Relaxed)),
        }
    }

    /// The value below which a fraction `q` of the `count` values lie (a bucket's midpoint,
    /// capped at the maximum).
    fn percentile(&self, count: u64, q: f64) -> u64 {
        if count == 0 {
            return 0;
        }
        // The rank of the value, 1-based: the smallest rank whose share reaches q.
        let rank = ((count as f64 * q).ceil() as u64).clamp(1, count);
        let mut seen = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            seen += bucket.load(Relaxed);
            if seen >= rank {
                return midpoint(i).min(self.max.load(Relaxed));
            }
        }
        self.max.load(Relaxed)
    }
}

fn millis(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

/// The bucket of a value: one per value below [`LINEAR`], then [`SUB`] per power of two.
fn index(nanos: u64) -> usize {
    if nanos < LINEAR {
        return nanos as usize;
    }
    let shift = 63 - nanos.leading_zeros() - SUB_BITS;
    let top = nanos >> shift;
    (shift as usize + 1) * SUB as usize + (top - SUB) as usize
}

/// The middle of a bucket's range.
fn midpoint(index: usize) -> u64 {
    let index = index as u64;
    if index < LINEAR {
        return index;
    }
    let shift = index / SUB - 1;
    let low = (index % SUB + SUB) << shift;
    low + (1 << shift) / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_the_bucket_precision() {
        let histogram = Histogram::default();
        for micros in 1..=1000 {
            histogram.record(Duration::from_micros(micros));
        }
        let latency = histogram.latency();
        assert_eq!(latency.count, 1000);
        assert!((latency.p50_ms - 0.5).abs() < 0.5 * 0.02, "{latency:?}");
        assert!((latency.p99_ms - 0.99).abs() < 0.99 * 0.02, "{latency:?}");
        assert_eq!(latency.max_ms, 1.0);
    }

    #[test]
    fn every_value_has_a_bucket_that_contains_it() {
        for nanos in [0, 1, 127, 128, 129, 1000, 123_456_789, u64::MAX] {
            let i = index(nanos);
            assert!(i < BUCKETS, "{nanos}");
            let mid = midpoint(i);
            let err = mid.abs_diff(nanos) as f64 / nanos.max(1) as f64;
            assert!(err < 0.02, "{nanos}: bucket {i} has midpoint {mid}");
        }
    }
}
