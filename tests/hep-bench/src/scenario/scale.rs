//! Scenario 10, run only when named (`--scenarios 10 --objects 1000000`): the store at the
//! scale of a large Calico cluster, tens of thousands of nodes with a few host endpoints each.
//!
//! Each system in turn gets a fresh server of its own (its other servers are gone by then, so
//! that only one store of this size is in memory at a time), which is filled fast (not
//! measured as a rate): hostendpointd on sled through its API, [`batches::TASKS`] ×
//! [`batches::BATCH`] concurrent creates; etcd and hostendpointd on etcd straight into etcd,
//! [`batches::BATCH`] puts to a transaction (for hostendpointd on etcd, until it answers at
//! etcd's revision). Then, on the idle server:
//! - memory: its resident memory with every object, less the same server's right after it
//!   started, empty, over the number of objects;
//! - listings: all objects, and one node's (`--objects-per-node`, 100: comparable with
//!   scenario 4 at 100 000 objects), as scenario 4 lists them;
//! - a watch's initial state: hostendpointd's snapshot until SYNCED; on etcd, Calico's list
//!   then watch;
//! - memory again, after those reads;
//! - a restart after SIGKILL, as scenario 7's (hostendpointd on etcd: hostendpointd only), and
//!   memory once more.

use std::{
    path::Path,
    sync::{Arc, atomic::Ordering::Relaxed},
    time::Instant,
};

use super::{
    Shared, Sut,
    batches::{self, CatchUp, Mode, Sink, until_caught_up, write_batches},
    drive::{Cost, Meter, mib, settle},
    reads::{listings, repeat},
    restart::{restart_detail, timed_restart, until_ready},
    writes::catch_up_figure,
};
use crate::{
    config::{Settings, SystemKind},
    report::{Better, Figure, Report, Unit},
    server::Server,
    system::{connect, snapshot},
    workload::{Version, Workload},
};

/// The scenario's number, which its figures' names start with.
const SCENARIO: u8 = 10;

/// Runs scenario 10 on every system that runs it, one after the other, each on a fresh server
/// under `dir`.
pub(crate) async fn scale(
    settings: &Settings,
    dir: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    for &kind in settings.systems.iter().filter(|kind| kind.runs(SCENARIO)) {
        let mut sut = start(kind, settings, dir).await?;
        measure(&mut sut, settings, report).await?;
    }
    Ok(())
}

/// A fresh, empty server of `kind`, answering.
async fn start(kind: SystemKind, settings: &Settings, dir: &Path) -> anyhow::Result<Sut> {
    let dir = dir.join("scale");
    let server = Server::start(kind, settings, &dir).await?;
    eprintln!("{} (scale) listens on {}", kind.name(), server.addr);
    let shared = Shared::new(Workload::new(settings.nodes), settings.objects);
    let mut sut = Sut {
        kind,
        server,
        shared: Arc::new(shared),
        dir,
    };
    until_ready(&mut sut).await?;
    Ok(sut)
}

/// Every measurement of the scenario on one system.
async fn measure(sut: &mut Sut, settings: &Settings, report: &mut Report) -> anyhow::Result<()> {
    let empty = idle_rss(sut, settings).await?;
    let filled = fill(sut, settings).await?;
    if let Some(catch_up) = filled.catch_up {
        let name = format!("{SCENARIO} replica catch-up after the fill");
        report.push(catch_up_figure(
            name,
            sut.kind,
            catch_up,
            filled.catch_up_cost,
        ));
        if catch_up.after.is_none() {
            eprintln!(
                "{}: hostendpointd did not catch up with its etcd after the fill: the other \
                 figures of scenario {SCENARIO} are not measured",
                sut.kind.name()
            );
            return Ok(());
        }
    }
    let full = idle_rss(sut, settings).await?;
    report.push(memory_figure(sut, &filled, empty, full));
    report.push(listings(sut, settings, SCENARIO, false).await?);
    report.push(listings(sut, settings, SCENARIO, true).await?);
    report.push(snapshot_figure(sut, settings).await?);
    let read = idle_rss(sut, settings).await?;
    report.push(idle_memory_figure(
        sut,
        empty,
        read,
        "after the reads",
        "after the listings and watches above (hostendpointd keeps each object's encoding for \
         the next reader, as a server whose node agents watch does)",
    ));
    let objects = sut.shared.objects();
    let detail = restart_detail(
        sut.kind,
        sut.shared.writes.load(Relaxed),
        &format!("every object written once, by the fill ({})", filled.how),
    );
    let name = format!("{SCENARIO} restart after SIGKILL, {objects} objects");
    report.push(timed_restart(sut, settings, name, detail).await?);
    let restarted = idle_rss(sut, settings).await?;
    report.push(idle_memory_figure(
        sut,
        empty,
        restarted,
        "after the restart",
        "after the restart (hostendpointd on etcd: its etcd kept running)",
    ));
    Ok(())
}

/// The server's resident memory once it has gone quiet.
async fn idle_rss(sut: &Sut, settings: &Settings) -> anyhow::Result<u64> {
    settle(&sut.server, settings).await?;
    Ok(sut.server.usage()?.rss_bytes)
}

/// What the fill did.
#[derive(Debug)]
struct Filled {
    /// How the objects were written, for the details.
    how: String,
    /// From the first write until the last was acknowledged.
    elapsed: f64,
    /// The server's CPU and peak memory meanwhile, and the load generator's CPU.
    cost: Cost,
    /// hostendpointd on etcd only: how it followed the fill of its etcd.
    catch_up: Option<CatchUp>,
    /// The cost of the wait for `catch_up`.
    catch_up_cost: Cost,
}

/// Writes every object once, fast, and waits for hostendpointd on etcd to apply them.
async fn fill(sut: &mut Sut, settings: &Settings) -> anyhow::Result<Filled> {
    let objects = settings.objects;
    let sink = Sink::store_of(sut);
    let how = fill_how(sut);
    eprintln!("{}: filling {objects} objects {how}", sut.kind.name());
    let start = Instant::now();
    let meter = Meter::start(&sut.server)?;
    let label = format!("{} (scale)", sut.kind.name());
    let last_ack = write_batches(&sink, Mode::Create, &sut.shared, &label, move |batch_no| {
        let first = batch_no * batches::BATCH;
        (first < objects).then(|| {
            (first..objects.min(first + batches::BATCH))
                .map(|index| Version::new(index, 0))
                .collect()
        })
    })
    .await?;
    let cost = meter.stop(&sut.server)?;
    let elapsed = start.elapsed().as_secs_f64();
    sut.shared.created.store(objects, Relaxed);
    eprintln!(
        "{}: wrote {objects} objects in {elapsed:.1} s ({:.0}/s)",
        sut.kind.name(),
        objects as f64 / elapsed.max(1e-9)
    );
    let meter = Meter::start(&sut.server)?;
    let catch_up = match sut.server.backing_addr() {
        Some(etcd) => Some(until_caught_up(sut, etcd, last_ack).await?),
        None => None,
    };
    Ok(Filled {
        how,
        elapsed,
        cost,
        catch_up,
        catch_up_cost: meter.stop(&sut.server)?,
    })
}

/// How the fill writes, for the details.
fn fill_how(sut: &Sut) -> String {
    let (tasks, batch) = (batches::TASKS, batches::BATCH);
    match sut.server.backing_addr() {
        None if sut.kind.is_hostendpointd() => {
            format!("through its API, {tasks} connections with {batch} creates in flight each")
        }
        None => format!(
            "straight into etcd, {batch} puts to a transaction, {tasks} transactions at a time"
        ),
        Some(_) => format!(
            "straight into its etcd, {batch} puts to a transaction, {tasks} transactions at a \
             time, while hostendpointd followed through its etcd watch"
        ),
    }
}

/// "10 memory per stored object": the resident memory that the objects added, over their
/// number.
fn memory_figure(sut: &Sut, filled: &Filled, empty: u64, full: u64) -> Figure {
    let objects = sut.shared.objects();
    Figure {
        scenario: format!("{SCENARIO} memory per stored object, {objects} objects"),
        system: sut.kind,
        unit: Unit::BytesPerObject,
        better: Better::Lower,
        value: per_object(empty, full, objects),
        ops: objects as u64,
        latency: None,
        cpu_secs: filled.cost.cpu_secs,
        peak_rss_mib: mib(filled.cost.peak_rss_bytes),
        generator_cpu_secs: filled.cost.generator_cpu_secs,
        errors: 0,
        detail: format!(
            "RSS {:.1} MiB right after the start, empty, and {:.1} MiB with the objects, idle; \
             {objects} objects on {} nodes written in {:.1} s {}; CPU (per op: per object), \
             peak RSS and load generator CPU of the writes",
            mib(empty),
            mib(full),
            sut.shared.workload.nodes(),
            filled.elapsed,
            filled.how
        ),
    }
}

/// Bytes per object: what `objects` added to the empty server's resident memory.
fn per_object(empty: u64, with_objects: u64, objects: usize) -> f64 {
    with_objects.saturating_sub(empty) as f64 / objects as f64
}

/// "10 memory per stored object after ...": the same as [`memory_figure`], at a later moment
/// when the server is idle: after the reads, which leave what readers cached; after the
/// restart, which builds the indexes at once rather than object by object, so that this is
/// what a server that was ever restarted holds.
fn idle_memory_figure(sut: &Sut, empty: u64, rss: u64, after: &str, when: &str) -> Figure {
    let objects = sut.shared.objects();
    Figure {
        scenario: format!("{SCENARIO} memory per stored object {after}, {objects} objects"),
        system: sut.kind,
        unit: Unit::BytesPerObject,
        better: Better::Lower,
        value: per_object(empty, rss, objects),
        // No operations of its own: their CPU is in the figures of the reads and the restart.
        ops: 0,
        latency: None,
        cpu_secs: 0.0,
        peak_rss_mib: mib(rss),
        generator_cpu_secs: 0.0,
        errors: 0,
        detail: format!(
            "RSS {:.1} MiB right after the first start, empty, and {:.1} MiB idle {when}",
            mib(empty),
            mib(rss),
        ),
    }
}

/// "10 watch snapshot": from opening a watch of every object with its initial state until it
/// is live (see [`snapshot`]), again and again for a phase and at least three times, on a
/// connection made beforehand; the figure is the median, in seconds.
async fn snapshot_figure(sut: &Sut, settings: &Settings) -> anyhow::Result<Figure> {
    let objects = sut.shared.objects();
    let channel = connect(&sut.server.target()).await?;
    settle(&sut.server, settings).await?;
    let meter = Meter::start(&sut.server)?;
    let phase = repeat(settings.phase, || {
        let channel = channel.clone();
        async move {
            let got =
                snapshot(sut.kind, channel, settings.page_size, settings.etcd_prev_kv).await?;
            if got != objects {
                anyhow::bail!("the initial state had {got} objects, expected {objects}");
            }
            Ok(())
        }
    })
    .await;
    let cost = meter.stop(&sut.server)?;
    let latency = phase.latency.latency();
    let how = if sut.kind.is_hostendpointd() {
        "a WatchHostEndpoints stream from no revision, until SYNCED".to_owned()
    } else {
        format!(
            "Calico's way: a prefix listing in pages of {}, then a watch from its revision + 1, \
             until etcd created it",
            settings.page_size
        )
    };
    let mut detail = format!(
        "{} watches opened in {:.1} s, each {how}; every object decoded",
        phase.ops,
        phase.elapsed.as_secs_f64()
    );
    if let Some(err) = &phase.first_error {
        detail.push_str(&format!("; {} failed, first: {err}", phase.errors));
    }
    Ok(Figure {
        scenario: format!("{SCENARIO} watch snapshot of all {objects}"),
        system: sut.kind,
        unit: Unit::Seconds,
        better: Better::Lower,
        value: latency.p50_ms / 1e3,
        ops: phase.ops,
        latency: Some(latency),
        cpu_secs: cost.cpu_secs,
        peak_rss_mib: mib(cost.peak_rss_bytes),
        generator_cpu_secs: cost.generator_cpu_secs,
        errors: phase.errors,
        detail,
    })
}
