//! Scenario 9: many watchers that read their first message of events and then stop reading,
//! their streams open, while one writer updates objects with a large annotation (issue 12's
//! finding: 2 000 watches on 10 connections, 4 KiB objects, 30 writes/s). What it measures is
//! the server's resident memory: before the watchers open, with them open, at its peak while
//! they stall, at the end of the writes, and once their connections are closed and the memory
//! stops being returned; and the writer's latency.

use std::{
    sync::atomic::Ordering::Relaxed,
    time::{Duration, Instant},
};

use super::{
    Selection, new_record,
    stream::{Written, write_for},
    watchers::{Plan, Reading, Watchers},
};
use crate::{
    config::{Settings, SystemKind},
    report::{Better, Figure, Unit},
    scenario::{
        Sut,
        drive::{Cost, Meter, mib, settle},
        writes::updaters,
    },
    server::{Server, Usage},
};

/// The pause between two looks at the server's sockets or memory.
const POLL: Duration = Duration::from_millis(250);
/// The longest wait for the server to notice that the watchers' connections are closed.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);
/// The server's memory has settled when it fell by less than [`SETTLED_FALL`] over this long.
const SETTLED_SPAN: Duration = Duration::from_secs(3);
/// See [`SETTLED_SPAN`].
const SETTLED_FALL: u64 = 1 << 20;
/// The longest wait for the server's memory to settle after the close.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What scenario 9 measured on one system.
#[derive(Debug)]
pub(super) struct Stalling {
    /// Watchers and their connections.
    watchers: usize,
    connections: usize,
    /// Watchers that read their first message (the others had none before the writes ended).
    stalled: u64,
    /// Streams that broke.
    broken: u64,
    /// Before the watchers opened.
    start: Usage,
    /// With the watchers open, before the writes.
    open: Usage,
    /// At the end of the writes.
    end: Usage,
    /// The writes.
    written: Written,
    /// The server's CPU and peak memory over the writes.
    cost: Cost,
    /// How long the server took to close the connections after the watchers went away; `None`
    /// when it still had them open after [`CLOSE_TIMEOUT`].
    closed_after: Option<Duration>,
    /// Once the memory settled after the close (or [`SETTLE_TIMEOUT`] passed).
    after: Usage,
    /// How long after the close it took to settle; `None` when it was still falling at the
    /// deadline.
    settled_after: Option<Duration>,
}

/// Runs scenario 9 on one system.
pub(super) async fn stalled_watchers(sut: &Sut, settings: &Settings) -> anyhow::Result<Stalling> {
    let config = settings.stalled;
    settle(&sut.server, settings).await?;
    let sockets = sut.server.sockets()?;
    let start = sut.server.usage()?;
    let record = new_record(sut, config.write_rate, config.phase).await?;
    let plan = Plan {
        count: config.watchers,
        per_connection: config.per_connection(),
        selection: Selection::All,
        reading: Reading::FirstMessage,
    };
    let watchers = Watchers::open(sut, settings, plan, &record).await?;
    let open = sut.server.usage()?;
    let mut writers = updaters(sut, 1).await?;
    for writer in &mut writers {
        writer.padding = config.object_bytes;
    }
    let receivers = vec![config.watchers as u64; sut.shared.objects()];
    let meter = Meter::start(&sut.server)?;
    let written = write_for(writers, config.write_rate, config.phase, &record, receivers).await?;
    let cost = meter.stop(&sut.server)?;
    let end = sut.server.usage()?;
    let connections = watchers.connections;
    drop(watchers);
    let closed_after = until_closed(&sut.server, sockets).await?;
    let (after, settled_after) = until_memory_settles(&sut.server).await?;
    Ok(Stalling {
        watchers: config.watchers,
        connections,
        stalled: record.stalled.load(Relaxed),
        broken: record.broken.load(Relaxed),
        start,
        open,
        end,
        written,
        cost,
        closed_after,
        after,
        settled_after,
    })
}

/// Waits until the server has no more sockets than `before` (the watchers' connections are
/// closed on its side too); `None` if it still has after [`CLOSE_TIMEOUT`].
async fn until_closed(server: &Server, before: usize) -> anyhow::Result<Option<Duration>> {
    let start = Instant::now();
    while server.sockets()? > before {
        if start.elapsed() > CLOSE_TIMEOUT {
            return Ok(None);
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(Some(start.elapsed()))
}

/// Waits until the server's resident memory fell by less than [`SETTLED_FALL`] over the last
/// [`SETTLED_SPAN`] (an allocator returns freed memory over some seconds), at most
/// [`SETTLE_TIMEOUT`]; returns the usage then, and how long it took (`None`: still falling).
async fn until_memory_settles(server: &Server) -> anyhow::Result<(Usage, Option<Duration>)> {
    let start = Instant::now();
    let span = (SETTLED_SPAN.as_millis() / POLL.as_millis()) as usize;
    let mut samples = vec![server.usage()?.rss_bytes];
    loop {
        tokio::time::sleep(POLL).await;
        let usage = server.usage()?;
        samples.push(usage.rss_bytes);
        if let Some(&earlier) = samples.len().checked_sub(span + 1).map(|at| &samples[at])
            && earlier.saturating_sub(usage.rss_bytes) < SETTLED_FALL
        {
            return Ok((usage, Some(start.elapsed())));
        }
        if start.elapsed() > SETTLE_TIMEOUT {
            return Ok((usage, None));
        }
    }
}

impl Stalling {
    /// The scenario's figures: the memory growth while the watchers stall (with the writes'
    /// latency), the memory still held after they are gone, and the writes' p99.
    pub(super) fn figures(&self, system: SystemKind, settings: &Settings) -> Vec<Figure> {
        let name = format!(
            "9 stalled watchers, {} on {} connections",
            self.watchers, self.connections
        );
        let errors = self.written.failed + self.broken + u64::from(self.closed_after.is_none());
        let growth = "RSS growth to the peak";
        // The first figure carries the errors and the details; the others point to it.
        let figure = |what: &str, unit, value| Figure {
            scenario: format!("{name}: {what}"),
            system,
            unit,
            better: Better::Lower,
            value,
            ops: self.written.latency.count,
            latency: Some(self.written.latency),
            cpu_secs: self.cost.cpu_secs,
            peak_rss_mib: mib(self.cost.peak_rss_bytes),
            generator_cpu_secs: self.cost.generator_cpu_secs,
            errors: 0,
            detail: format!("the same measurement as \"{growth}\""),
        };
        let peak = self.cost.peak_rss_bytes;
        let after = self.after.rss_bytes;
        vec![
            Figure {
                errors,
                detail: self.detail(settings),
                ..figure(
                    growth,
                    Unit::Mib,
                    mib(peak.saturating_sub(self.start.rss_bytes)),
                )
            },
            figure(
                "RSS held after close",
                Unit::Mib,
                mib(after.saturating_sub(self.start.rss_bytes)),
            ),
            figure("write p99", Unit::Millis, self.written.latency.p99_ms),
        ]
    }

    fn detail(&self, settings: &Settings) -> String {
        let config = settings.stalled;
        let latency = self.written.latency;
        let per_watcher = |bytes: u64| {
            bytes.saturating_sub(self.open.rss_bytes) as f64 / 1024.0 / self.watchers as f64
        };
        let closed = self.closed_after.map_or_else(
            || format!("still open after {CLOSE_TIMEOUT:?} (an error)"),
            |t| {
                format!(
                    "closed by the server {:.1} s after the clients",
                    t.as_secs_f64()
                )
            },
        );
        let settled = self.settled_after.map_or_else(
            || format!("still falling after {SETTLE_TIMEOUT:?}"),
            |t| format!("settled {:.1} s after that", t.as_secs_f64()),
        );
        format!(
            "server RSS {:.1} MiB at the start, {:.1} MiB with the watchers open, peak {:.1} \
             MiB, {:.1} MiB at the end of the writes, {:.1} MiB after the close; growth from \
             the open watchers to the peak {:.1} KiB per watcher, to the end {:.1} KiB; {} of \
             {} watchers read a first message and stopped reading, {} streams broke; {} writes \
             of {} B annotations at {:.1}/s ({} offered, for {:?}; write p50 {:.2} ms, p99 \
             {:.2} ms, max {:.2} ms), {} failed; connections {closed}, memory {settled}; the \
             load generator used {:.2} CPU s",
            mib(self.start.rss_bytes),
            mib(self.open.rss_bytes),
            mib(self.cost.peak_rss_bytes),
            mib(self.end.rss_bytes),
            mib(self.after.rss_bytes),
            per_watcher(self.cost.peak_rss_bytes),
            per_watcher(self.end.rss_bytes),
            self.stalled,
            self.watchers,
            self.broken,
            latency.count,
            config.object_bytes,
            latency.count as f64 / self.written.elapsed.as_secs_f64().max(1e-9),
            config.write_rate,
            config.phase,
            latency.p50_ms,
            latency.p99_ms,
            latency.max_ms,
            self.written.failed,
            self.cost.generator_cpu_secs,
        )
    }
}
