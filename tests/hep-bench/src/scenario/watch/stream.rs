//! The write stream of a fan-out measurement, and what it and the watchers measured.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use super::{
    record::{Latencies, Record},
    watchers::Watchers,
};
use crate::{
    config::Settings,
    histogram::{Histogram, Latency},
    scenario::{
        Sut,
        drive::{Cost, Meter},
        writes::{Updater, updaters},
    },
    system::overloaded,
};

/// Writers of the write stream.
const WRITERS: usize = 4;

/// What the write stream and the watchers measured.
#[derive(Clone, Copy, Debug)]
pub(super) struct Outcome {
    /// Acknowledged writes.
    pub(super) writes: u64,
    /// Writes the server did not do in time.
    pub(super) failed_writes: u64,
    /// Acknowledged writes per second.
    pub(super) writes_per_sec: f64,
    /// Their latency.
    pub(super) write_latency: Latency,
    /// Deliveries the acknowledged writes call for.
    pub(super) expected: u64,
    /// Deliveries received.
    pub(super) delivered: u64,
    /// Deliveries per second, from the first write to the last delivery.
    pub(super) deliveries_per_sec: f64,
    /// The deliveries' latencies.
    pub(super) latency: Latencies,
    /// Streams that broke.
    pub(super) broken: u64,
    /// The server's CPU and memory meanwhile.
    pub(super) cost: Cost,
}

/// Writes at `--watch-write-rate` for a phase, then waits (at most `--drain`) until the
/// watchers received every write they select.
pub(super) async fn fan_out(
    sut: &Sut,
    settings: &Settings,
    record: &Arc<Record>,
    watchers: &Watchers,
) -> anyhow::Result<Outcome> {
    let writers = updaters(sut, WRITERS).await?;
    let receivers: Vec<u64> = (0..sut.shared.objects())
        .map(|i| watchers.receivers(&sut.shared.workload, i))
        .collect();
    let meter = Meter::start(&sut.server)?;
    let start_ns = record.now_ns();
    let written = write_for(
        writers,
        settings.watch_write_rate,
        settings.phase,
        record,
        receivers,
    )
    .await?;
    let drain_deadline = Instant::now() + settings.drain;
    while record.deliveries() < written.expected && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cost = meter.stop(&sut.server)?;
    let delivering = Duration::from_nanos(record.last_delivery_ns().saturating_sub(start_ns));
    let write_latency = written.latency;
    Ok(Outcome {
        writes: write_latency.count,
        failed_writes: written.failed,
        writes_per_sec: write_latency.count as f64 / written.elapsed.as_secs_f64(),
        write_latency,
        expected: written.expected,
        delivered: record.deliveries(),
        deliveries_per_sec: record.deliveries() as f64 / delivering.as_secs_f64().max(1e-3),
        latency: record.latencies(),
        broken: record.broken.load(Relaxed),
        cost,
    })
}

/// What the writers of a write stream did.
#[derive(Clone, Copy, Debug)]
pub(super) struct Written {
    /// The latency of the acknowledged writes (their count is `latency.count`).
    pub(super) latency: Latency,
    /// Writes the server did not do in time.
    pub(super) failed: u64,
    /// Deliveries the acknowledged writes call for.
    pub(super) expected: u64,
    /// From the first write until the last writer stopped.
    pub(super) elapsed: Duration,
}

/// Lets `writers` update their objects at `rate` writes per second in total (or slower, when
/// the acknowledgements come slower) for `phase`, noting every acknowledged write in the
/// record; a write of object `i` calls for `receivers[i]` deliveries.
pub(super) async fn write_for(
    writers: Vec<Updater>,
    rate: u32,
    phase: Duration,
    record: &Arc<Record>,
    receivers: Vec<u64>,
) -> anyhow::Result<Written> {
    let tally = Arc::new(Tally::default());
    let receivers = Arc::new(receivers);
    let period = Duration::from_secs_f64(writers.len() as f64 / f64::from(rate.max(1)));
    let start_ns = record.now_ns();
    let deadline = Instant::now() + phase;
    let tasks: Vec<_> = writers
        .into_iter()
        .map(|writer| {
            let stream = WriteStream {
                record: Arc::clone(record),
                tally: Arc::clone(&tally),
                receivers: Arc::clone(&receivers),
            };
            tokio::spawn(stream.run(writer, period, deadline))
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(Written {
        latency: tally.latency.latency(),
        failed: tally.failed.load(Relaxed),
        expected: tally.expected.load(Relaxed),
        elapsed: Duration::from_nanos(record.now_ns() - start_ns),
    })
}

/// What the writers count together.
#[derive(Debug, Default)]
struct Tally {
    latency: Histogram,
    /// Deliveries the acknowledged writes call for.
    expected: AtomicU64,
    /// Writes the server did not do in time.
    failed: AtomicU64,
}

/// One writer of the write stream.
struct WriteStream {
    record: Arc<Record>,
    tally: Arc<Tally>,
    /// How many watchers receive a write of each object.
    receivers: Arc<Vec<u64>>,
}

impl WriteStream {
    /// Updates its objects, one every `period` (or as fast as they are acknowledged, when that
    /// is slower), until `deadline`.
    async fn run(
        self,
        mut writer: Updater,
        period: Duration,
        deadline: Instant,
    ) -> anyhow::Result<()> {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while Instant::now() < deadline {
            ticks.tick().await;
            let start = Instant::now();
            let sent_ns = self.record.now_ns();
            match writer.update_next().await {
                Ok((index, revision)) => {
                    self.record.acknowledged(revision, sent_ns);
                    self.tally.latency.record(start.elapsed());
                    self.tally
                        .expected
                        .fetch_add(self.receivers[index], Relaxed);
                }
                Err(err) if overloaded(&err) => {
                    self.tally.failed.fetch_add(1, Relaxed);
                }
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }
}
