//! Scenario 1 (durable creates), the fill up to `--objects`, scenario 2 (updates with a
//! precondition), and the history written before the restart scenario.

use std::{
    sync::{Arc, atomic::Ordering::Relaxed},
    time::{Duration, Instant},
};

use anyhow::bail;
use rand::{Rng as _, SeedableRng as _, rngs::StdRng};

use super::{
    Shared, Sut,
    batches::{self, CatchUp, Mode, Sink, until_caught_up, write_batches},
    drive::{Cost, Meter, Worker, closed_loop, mib, rate_figure, settle},
};
use crate::{
    config::{Settings, SystemKind},
    report::{Better, Figure, Report, Unit},
    system::{Client, overloaded},
    workload::Version,
};

/// Client counts of scenario 1.
const CREATE_CLIENTS: [usize; 3] = [1, 16, 64];
/// Clients of scenario 2.
const UPDATE_CLIENTS: usize = 16;
/// Concurrent creates that fill the store (not measured).
const FILL_CLIENTS: usize = 128;

/// Creates objects until `limit` exist.
struct Creator {
    client: Client,
    shared: Arc<Shared>,
    limit: usize,
}

impl Worker for Creator {
    async fn step(&mut self) -> anyhow::Result<bool> {
        let claimed = self
            .shared
            .created
            .fetch_update(Relaxed, Relaxed, |n| (n < self.limit).then_some(n + 1));
        let Ok(index) = claimed else {
            return Ok(false);
        };
        let version = Version::new(index, 0);
        let revision = self.client.create(&self.shared.workload, version).await?;
        self.shared.wrote(index, revision);
        Ok(true)
    }
}

/// Updates random objects of its own, each with the revision it last saw as precondition.
pub(super) struct Updater {
    pub(super) client: Client,
    pub(super) shared: Arc<Shared>,
    /// Its objects: every `stride`-th, from `first`; no other updater touches them.
    pub(super) first: usize,
    pub(super) stride: usize,
    pub(super) rng: StdRng,
    /// Bytes of the annotation each new version gets (0: none).
    pub(super) padding: usize,
}

impl Updater {
    /// Updates one of its objects; returns the object and the new revision. When the server
    /// was overloaded, the write may or may not have happened: the object is left alone from
    /// then on (its revision is no longer known).
    pub(super) async fn update_next(&mut self) -> anyhow::Result<(usize, u64)> {
        let mine = self
            .shared
            .objects()
            .saturating_sub(self.first)
            .div_ceil(self.stride);
        let (index, expected) = loop {
            let index = self.first + self.rng.random_range(0..mine) * self.stride;
            let expected = self.shared.revisions[index].load(Relaxed);
            if expected != 0 {
                break (index, expected);
            }
        };
        let version = Version {
            padding: self.padding,
            ..Version::new(index, self.shared.next_generation())
        };
        match self
            .client
            .update(&self.shared.workload, version, expected)
            .await
        {
            Ok(revision) => {
                self.shared.wrote(index, revision);
                Ok((index, revision))
            }
            Err(err) => {
                if overloaded(&err) {
                    self.shared.revisions[index].store(0, Relaxed);
                }
                Err(err)
            }
        }
    }
}

impl Worker for Updater {
    async fn step(&mut self) -> anyhow::Result<bool> {
        self.update_next().await?;
        Ok(true)
    }
}

/// Scenario 1: creates from 1, 16 and 64 clients, each phase at most a quarter of the objects.
pub(crate) async fn creates(
    suts: &mut [Sut],
    settings: &Settings,
    report: &mut Report,
) -> anyhow::Result<()> {
    for (round, clients) in CREATE_CLIENTS.into_iter().enumerate() {
        for sut in suts.iter_mut() {
            let limit = (settings.objects / 4) * (round + 1);
            let workers = creators(sut, clients, limit).await?;
            settle(&sut.server, settings).await?;
            let meter = Meter::start(&sut.server)?;
            let phase = closed_loop(workers, settings.phase).await;
            let cost = meter.stop(&sut.server)?;
            let name = format!(
                "1 creates, {clients} client{}",
                if clients == 1 { "" } else { "s" }
            );
            report.push(rate_figure(&name, sut.kind, &phase, cost, "creates"));
        }
    }
    Ok(())
}

async fn creators(sut: &Sut, clients: usize, limit: usize) -> anyhow::Result<Vec<Creator>> {
    Ok(sut
        .clients(clients)
        .await?
        .into_iter()
        .map(|client| Creator {
            client,
            shared: Arc::clone(&sut.shared),
            limit,
        })
        .collect())
}

/// Creates the remaining objects, 128 at a time over 64 connections (not measured).
pub(crate) async fn fill(suts: &mut [Sut], settings: &Settings) -> anyhow::Result<()> {
    for sut in suts.iter_mut() {
        let start = Instant::now();
        let before = sut.shared.objects();
        let mut workers = creators(sut, FILL_CLIENTS / 2, settings.objects).await?;
        let mut more = creators(sut, FILL_CLIENTS / 2, settings.objects).await?;
        workers.append(&mut more);
        let phase = closed_loop(workers, Duration::from_secs(3600)).await;
        if let Some(err) = phase.first_error {
            bail!("{}: filling the store failed: {err}", sut.kind.name());
        }
        eprintln!(
            "{}: created {} objects in {:.1} s ({:.0}/s)",
            sut.kind.name(),
            sut.shared.objects() - before,
            start.elapsed().as_secs_f64(),
            phase.rate()
        );
    }
    Ok(())
}

/// Scenario 2: updates with a resourceVersion precondition from 16 clients, each on its own
/// objects.
pub(crate) async fn updates(
    suts: &mut [Sut],
    settings: &Settings,
    report: &mut Report,
) -> anyhow::Result<()> {
    for sut in suts.iter_mut() {
        let workers = updaters(sut, UPDATE_CLIENTS).await?;
        settle(&sut.server, settings).await?;
        let meter = Meter::start(&sut.server)?;
        let phase = closed_loop(workers, settings.phase).await;
        let cost = meter.stop(&sut.server)?;
        let name = format!("2 updates with a precondition, {UPDATE_CLIENTS} clients");
        report.push(rate_figure(&name, sut.kind, &phase, cost, "updates"));
    }
    Ok(())
}

/// `count` updaters on their own connections, with disjoint objects.
pub(super) async fn updaters(sut: &Sut, count: usize) -> anyhow::Result<Vec<Updater>> {
    Ok(sut
        .clients(count)
        .await?
        .into_iter()
        .enumerate()
        .map(|(first, client)| Updater {
            client,
            shared: Arc::clone(&sut.shared),
            first,
            stride: count,
            rng: StdRng::seed_from_u64(rand::random()),
            padding: 0,
        })
        .collect())
}

/// Writes new versions of the objects until the history holds `--log-entries` versions (not
/// measured); returns, for each system in order, how its history was written, for the restart
/// figure's detail, or `None` when the system is not to be restarted (hostendpointd on etcd
/// that did not catch up with its etcd).
///
/// On hostendpointd on sled they are [`batches::TASKS`] × [`batches::BATCH`] concurrent
/// updates through its API. On etcd they are [`batches::BATCH`] puts to a transaction, which
/// makes its history as long with far fewer raft entries: if anything, that shortens its
/// restart. hostendpointd on etcd keeps its history in its etcd, so it is written there the
/// same way, with the plain etcd system's client, while hostendpointd runs and follows it:
/// through its API every version would be an etcd transaction of its own (about 1 700/s), too
/// slow for the run's time budget. The kill then waits until hostendpointd has caught up with
/// etcd, so that the restart is not measured against a process that was still behind; that
/// wait is the figure "7 replica catch-up after the burst".
pub(crate) async fn fill_log(
    suts: &mut [Sut],
    settings: &Settings,
    report: &mut Report,
) -> anyhow::Result<Vec<Option<String>>> {
    let mut histories = Vec::with_capacity(suts.len());
    for sut in suts.iter_mut() {
        let start = Instant::now();
        let before = sut.shared.writes.load(Relaxed);
        let relists = sut.server.relists();
        let stopped = settings.stop_replica_during_burst && sut.server.backing_addr().is_some();
        if stopped {
            sut.server.pause_front(true);
        }
        let last_ack = write_history(sut, settings).await;
        if stopped {
            sut.server.pause_front(false);
        }
        let last_ack = last_ack?;
        let elapsed = start.elapsed().as_secs_f64();
        let written = sut.shared.writes.load(Relaxed) - before;
        let rate = written as f64 / elapsed.max(1e-9);
        eprintln!(
            "{}: wrote {written} versions of history in {elapsed:.1} s ({rate:.0}/s)",
            sut.kind.name()
        );
        // A small run's earlier scenarios may already have written all the history.
        let mut history = if written == 0 {
            "the earlier scenarios' writes were all the history".to_owned()
        } else {
            format!(
                "the history after the earlier scenarios was written {}",
                history_how(sut)
            )
        };
        if let Some(etcd) = sut.server.backing_addr() {
            let meter = Meter::start(&sut.server)?;
            let catch_up = until_caught_up(sut, etcd, last_ack).await?;
            let cost = meter.stop(&sut.server)?;
            let name = if stopped {
                "7 replica catch-up after the burst, stopped during it".to_owned()
            } else {
                "7 replica catch-up after the burst".to_owned()
            };
            let mut figure = catch_up_figure(name, sut.kind, catch_up, cost);
            figure.detail.push_str(&format!(
                "; hostendpointd relisted {} times because its watch was far behind",
                sut.server.relists() - relists
            ));
            report.push(figure);
            let Some(behind) = catch_up.after else {
                eprintln!(
                    "{}: hostendpointd did not reach its etcd's revision {} within {:?}: its \
                     restart is not measured",
                    sut.kind.name(),
                    catch_up.revision,
                    batches::CATCH_UP_TIMEOUT
                );
                histories.push(None);
                continue;
            };
            history.push_str(&format!(
                "; the kill waited until hostendpointd had reached etcd's revision {} ({:.1} s \
                 after the last write)",
                catch_up.revision,
                behind.as_secs_f64()
            ));
        }
        histories.push(Some(history));
    }
    Ok(histories)
}

/// Writes the history of one system until it holds `--log-entries` versions; returns when
/// the last write was acknowledged.
async fn write_history(sut: &Sut, settings: &Settings) -> anyhow::Result<Instant> {
    let shared = Arc::clone(&sut.shared);
    let target = settings.log_entries;
    let objects = shared.objects();
    let counted = Arc::clone(&shared);
    let label = format!("{}: history", sut.kind.name());
    write_batches(
        &Sink::store_of(sut),
        Mode::Overwrite,
        &shared,
        &label,
        move |batch_no| {
            let shared = &counted;
            (shared.writes.load(Relaxed) < target).then(|| {
                (0..batches::BATCH)
                    .map(|k| {
                        let index = (batch_no * batches::BATCH + k) % objects;
                        Version::new(index, shared.next_generation())
                    })
                    .collect()
            })
        },
    )
    .await
}

/// How a system's history was written, for the restart figure's detail.
fn history_how(sut: &Sut) -> String {
    let (tasks, batch) = (batches::TASKS, batches::BATCH);
    match sut.server.backing_addr() {
        None if sut.kind.is_hostendpointd() => {
            format!("through its API as {} concurrent updates", tasks * batch)
        }
        None => format!(
            "straight into etcd, {batch} puts to a transaction, {tasks} transactions at a time"
        ),
        Some(_) => format!(
            "straight into its etcd, {batch} puts to a transaction, {tasks} transactions at a \
             time, as on etcd, while hostendpointd followed it through its etcd watch"
        ),
    }
}

/// "7 replica catch-up after the burst" (and scenario 10's after its fill): how long
/// hostendpointd on etcd took, after the last write straight into its etcd was acknowledged,
/// to answer a listing at etcd's revision; [`batches::CATCH_UP_TIMEOUT`] and an error when it
/// had not by then.
pub(super) fn catch_up_figure(
    scenario: String,
    system: SystemKind,
    catch_up: CatchUp,
    cost: Cost,
) -> Figure {
    let timeout = batches::CATCH_UP_TIMEOUT;
    let (value, errors, outcome) = match catch_up.after {
        Some(after) => (after, 0, "caught up".to_owned()),
        None => (
            timeout,
            1,
            format!("did not catch up within {timeout:?} (the figure is the timeout)"),
        ),
    };
    Figure {
        scenario,
        system,
        unit: Unit::Seconds,
        better: Better::Lower,
        value: value.as_secs_f64(),
        latency: None,
        cpu_secs: cost.cpu_secs,
        peak_rss_mib: mib(cost.peak_rss_bytes),
        generator_cpu_secs: cost.generator_cpu_secs,
        ops: 0,
        errors,
        detail: format!(
            "{outcome}: from etcd's acknowledgement of the last write straight into its etcd \
             until hostendpointd answered a listing at etcd's revision {} (polled every 20 ms); \
             CPU and peak RSS of hostendpointd and its etcd during the wait",
            catch_up.revision
        ),
    }
}
