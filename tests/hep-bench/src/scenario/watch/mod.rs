//! Scenarios 5 (watch fan-out), 6 (memory per idle watch stream), 8 (one watcher that
//! stops reading) and 9 (many watchers that stop reading, [`stalled`]).
//!
//! Watchers resume from the current revision (no snapshot), each on its own stream,
//! `--watchers-per-connection` streams to an HTTP/2 connection, on every system. A watcher
//! selects every object or one node's; etcd cannot filter by node (Calico's key holds only the
//! name), so an etcd node watcher watches the whole prefix and reads each value to keep its
//! node's, as a Calico client would.
//!
//! Four writers on their own connections update objects with a precondition at
//! `--watch-write-rate` in total (or slower, when the acknowledgements come slower). A
//! delivery's latency is measured from its write's acknowledgement (zero when the event
//! overtook it) and, in the details, from the moment the write was sent.
//!
//! Before each measurement the server is left to go quiet, so that one measurement's backlog
//! does not load the next.

mod record;
mod stalled;
mod stream;
mod watchers;

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio::sync::watch;

use self::{
    record::Record,
    stream::{Outcome, fan_out},
    watchers::{Plan, Selection, Stop, Watchers, read},
};
use super::{
    Sut,
    drive::{Meter, mib, settle},
    restart::until_ready,
};
use crate::{
    config::{Settings, SystemKind},
    report::{Better, Figure, Report, Unit},
    server::Server,
    system::{WatchSpec, WatchStream, connect_with},
};

/// The pause between opening the idle watchers and reading the server's memory (or a phase,
/// when that is shorter).
const IDLE_SETTLE: Duration = Duration::from_secs(1);
/// The HTTP/2 windows of the stalled watcher's own connection: small, so that the server
/// soon has to hold what the watcher does not read.
const STALLED_WINDOW: u32 = 65_535;

/// Runs scenarios 6, 5, 8 and 9, as far as the settings ask for them: 6 first, then 5 with
/// the watcher counts in ascending order, 8 right after 5's smallest all-objects run, which
/// is its baseline, and 9 last (its writes make the objects large).
pub(crate) async fn scenarios(
    suts: &mut [Sut],
    settings: &Settings,
    report: &mut Report,
) -> anyhow::Result<()> {
    if settings.runs(6) {
        for sut in suts.iter() {
            report.push(idle(sut, settings).await?);
        }
    }
    let mut baseline: HashMap<SystemKind, Outcome> = HashMap::new();
    for &count in &settings.watchers {
        if settings.runs(5) {
            for sut in suts.iter_mut() {
                let outcome = measure(sut, settings, count, Selection::All, report).await?;
                if count == settings.min_watchers() {
                    baseline.insert(sut.kind, outcome);
                }
            }
        }
        if settings.runs(8) && count == settings.min_watchers() {
            for sut in suts.iter_mut() {
                settle(&sut.server, settings).await?;
                let outcome = stalled(sut, settings).await?;
                stalled_figures(sut.kind, &outcome, baseline.get(&sut.kind), report);
            }
        }
        if settings.runs(5) {
            for sut in suts.iter_mut() {
                measure(sut, settings, count, Selection::OneNode, report).await?;
            }
        }
    }
    if settings.runs(9) {
        for sut in suts.iter() {
            let stalling = stalled::stalled_watchers(sut, settings).await?;
            for figure in stalling.figures(sut.kind, settings) {
                report.push(figure);
            }
        }
    }
    Ok(())
}

/// A record starting at the system's current revision, with room for every write that
/// `rate` writes per second for `phase` can make.
async fn new_record(sut: &Sut, rate: u32, phase: Duration) -> anyhow::Result<Arc<Record>> {
    let base = sut.client().await?.revision().await?;
    let capacity = (f64::from(rate) * phase.as_secs_f64() * 2.0) as usize + 10_000;
    Ok(Arc::new(Record::new(base, capacity)))
}

/// [`new_record`] for the fan-out's writes.
async fn fan_out_record(sut: &Sut, settings: &Settings) -> anyhow::Result<Arc<Record>> {
    new_record(sut, settings.watch_write_rate, settings.phase).await
}

/// Scenario 6: starts a fresh, empty server of the system (an idle stream's cost does not
/// depend on the stored objects, and a fresh process has no freed memory for the streams to
/// reuse, which makes a long-running one read low), opens the most watchers of scenario 5 on
/// it, all idle, and divides the growth of its resident memory by their number.
async fn idle(sut: &Sut, settings: &Settings) -> anyhow::Result<Figure> {
    let server = Server::start(sut.kind, settings, &sut.dir.join("idle-streams")).await?;
    let mut fresh = Sut {
        kind: sut.kind,
        server,
        shared: Arc::clone(&sut.shared),
        dir: sut.dir.clone(),
    };
    until_ready(&mut fresh).await?;
    let record = fan_out_record(&fresh, settings).await?;
    let count = settings.max_watchers();
    let before = fresh.server.usage()?.rss_bytes;
    let meter = Meter::start(&fresh.server)?;
    let plan = Plan::reading_all(settings, count, Selection::All);
    let watchers = Watchers::open(&fresh, settings, plan, &record).await?;
    tokio::time::sleep(IDLE_SETTLE.min(settings.phase)).await;
    let usage = fresh.server.usage()?;
    let cost = meter.stop(&fresh.server)?;
    drop(watchers);
    let growth = usage.rss_bytes.saturating_sub(before);
    Ok(Figure {
        scenario: "6 memory per idle watch stream".into(),
        system: sut.kind,
        unit: Unit::KibPerStream,
        better: Better::Lower,
        value: growth as f64 / 1024.0 / count as f64,
        latency: None,
        cpu_secs: cost.cpu_secs,
        peak_rss_mib: mib(usage.peak_rss_bytes),
        generator_cpu_secs: cost.generator_cpu_secs,
        ops: count as u64,
        errors: 0,
        detail: format!(
            "a fresh empty server: RSS {:.1} MiB before, {:.1} MiB with {count} idle watchers \
             on {} connections; CPU from before they opened until the memory was read",
            mib(before),
            mib(usage.rss_bytes),
            count.div_ceil(settings.watchers_per_connection)
        ),
    })
}

/// Scenario 5 for one watcher count and selection.
async fn measure(
    sut: &Sut,
    settings: &Settings,
    count: usize,
    selection: Selection,
    report: &mut Report,
) -> anyhow::Result<Outcome> {
    settle(&sut.server, settings).await?;
    let record = fan_out_record(sut, settings).await?;
    let plan = Plan::reading_all(settings, count, selection);
    let watchers = Watchers::open(sut, settings, plan, &record).await?;
    let outcome = fan_out(sut, settings, &record, &watchers).await?;
    report.push(fan_out_figure(sut.kind, &watchers, settings, &outcome));
    Ok(outcome)
}

/// Scenario 8: the smallest watcher count selecting everything, plus one watcher on its own
/// connection that stops reading when the writes start.
async fn stalled(sut: &Sut, settings: &Settings) -> anyhow::Result<Outcome> {
    let record = fan_out_record(sut, settings).await?;
    let plan = Plan::reading_all(settings, settings.min_watchers(), Selection::All);
    let watchers = Watchers::open(sut, settings, plan, &record).await?;
    let channel = connect_with(&sut.server.target(), Some(STALLED_WINDOW)).await?;
    let spec = WatchSpec {
        after_revision: record.base,
        node: None,
        prev_kv: settings.etcd_prev_kv,
    };
    let stream = WatchStream::open(sut.kind, channel, spec).await?;
    // Its own record: what it received before it stalled does not count.
    let own = Arc::new(Record::new(record.base, 0));
    let (stall, stall_rx) = watch::channel(false);
    let stalled = tokio::spawn(read(stream, own, Stop::When(stall_rx)));
    stall.send_replace(true);
    let outcome = fan_out(sut, settings, &record, &watchers).await;
    stalled.abort();
    outcome
}

fn fan_out_figure(
    system: SystemKind,
    watchers: &Watchers,
    settings: &Settings,
    outcome: &Outcome,
) -> Figure {
    let selection = match watchers.selection {
        Selection::All => "all objects",
        Selection::OneNode => "one node each",
    };
    Figure {
        scenario: format!("5 watch fan-out, {} watchers, {selection}", watchers.count),
        system,
        unit: Unit::DeliveriesPerSec,
        better: Better::Higher,
        value: outcome.deliveries_per_sec,
        latency: Some(outcome.latency.from_ack),
        cpu_secs: outcome.cost.cpu_secs,
        peak_rss_mib: mib(outcome.cost.peak_rss_bytes),
        generator_cpu_secs: outcome.cost.generator_cpu_secs,
        ops: outcome.delivered,
        errors: outcome.broken,
        detail: format!(
            "{}; {} of {} deliveries within the {:?} drain; {} connections; the load generator \
             used {:.2} CPU s",
            writes_detail(settings, outcome),
            outcome.delivered,
            outcome.expected,
            settings.drain,
            watchers.connections,
            outcome.cost.generator_cpu_secs
        ),
    }
}

/// The write stream and the latencies from the request, for the details.
fn writes_detail(settings: &Settings, outcome: &Outcome) -> String {
    let from_request = outcome.latency.from_request;
    let mut detail = format!(
        "{} writes at {:.0}/s ({} offered; write p50 {:.2} ms, p99 {:.2} ms); delivery latency \
         from the write request p50 {:.2} ms, p99 {:.2} ms",
        outcome.writes,
        outcome.writes_per_sec,
        settings.watch_write_rate,
        outcome.write_latency.p50_ms,
        outcome.write_latency.p99_ms,
        from_request.p50_ms,
        from_request.p99_ms,
    );
    if outcome.failed_writes > 0 {
        detail.push_str(&format!(
            "; {} writes timed out ({} deliveries of them)",
            outcome.failed_writes, outcome.latency.unacknowledged
        ));
    }
    detail
}

fn stalled_figures(
    system: SystemKind,
    outcome: &Outcome,
    baseline: Option<&Outcome>,
    report: &mut Report,
) {
    let compare = |now: f64, before: Option<f64>| match before {
        Some(before) if before > 0.0 => format!(
            "; without the stalled watcher (scenario 5): {before:.2}, change {:+.1} %",
            (now / before - 1.0) * 100.0
        ),
        Some(before) => format!("; without the stalled watcher (scenario 5): {before:.2}"),
        None => String::new(),
    };
    report.push(Figure {
        scenario: "8 a stalled watcher: writes/s".into(),
        system,
        unit: Unit::WritesPerSec,
        better: Better::Higher,
        value: outcome.writes_per_sec,
        latency: Some(outcome.write_latency),
        cpu_secs: outcome.cost.cpu_secs,
        peak_rss_mib: mib(outcome.cost.peak_rss_bytes),
        generator_cpu_secs: outcome.cost.generator_cpu_secs,
        ops: outcome.writes,
        errors: outcome.broken,
        detail: format!(
            "{} writes, {} timed out{}",
            outcome.writes,
            outcome.failed_writes,
            compare(outcome.writes_per_sec, baseline.map(|b| b.writes_per_sec))
        ),
    });
    let p99 = outcome.latency.from_ack.p99_ms;
    report.push(Figure {
        scenario: "8 a stalled watcher: the others' delivery p99".into(),
        system,
        unit: Unit::Millis,
        better: Better::Lower,
        value: p99,
        latency: Some(outcome.latency.from_ack),
        cpu_secs: outcome.cost.cpu_secs,
        peak_rss_mib: mib(outcome.cost.peak_rss_bytes),
        generator_cpu_secs: outcome.cost.generator_cpu_secs,
        ops: outcome.delivered,
        errors: 0,
        detail: format!(
            "{} of {} deliveries at {:.0}/s{}; from the write request p99 {:.2} ms{}",
            outcome.delivered,
            outcome.expected,
            outcome.deliveries_per_sec,
            compare(p99, baseline.map(|b| b.latency.from_ack.p99_ms)),
            outcome.latency.from_request.p99_ms,
            compare(
                outcome.latency.from_request.p99_ms,
                baseline.map(|b| b.latency.from_request.p99_ms)
            )
        ),
    });
}
