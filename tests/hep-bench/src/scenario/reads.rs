//! Scenario 3 (get by name) and scenario 4 (listing everything, and one node's objects; the
//! same listings at scale in scenario 10).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::bail;
use rand::{Rng as _, SeedableRng as _, rngs::StdRng};

use super::{
    Shared, Sut,
    drive::{Meter, Phase, Worker, closed_loop, rate_figure, settle},
};
use crate::{
    config::Settings,
    report::{Figure, Report, Unit},
    system::Client,
    workload::Workload,
};

/// Clients of scenario 3.
const GET_CLIENTS: usize = 64;
/// Every listing runs at least this often, however long it takes.
const MIN_LISTINGS: usize = 3;

/// Gets random objects.
struct Getter {
    client: Client,
    shared: Arc<Shared>,
    rng: StdRng,
}

impl Worker for Getter {
    async fn step(&mut self) -> anyhow::Result<bool> {
        let index = self.rng.random_range(0..self.shared.objects());
        self.client.get(index).await?;
        Ok(true)
    }
}

/// Scenario 3: gets by name from 64 clients.
pub(crate) async fn gets(
    suts: &mut [Sut],
    settings: &Settings,
    report: &mut Report,
) -> anyhow::Result<()> {
    for sut in suts.iter_mut() {
        let workers = sut
            .clients(GET_CLIENTS)
            .await?
            .into_iter()
            .enumerate()
            .map(|(seed, client)| Getter {
                client,
                shared: Arc::clone(&sut.shared),
                rng: StdRng::seed_from_u64(seed as u64),
            })
            .collect();
        settle(&sut.server, settings).await?;
        let meter = Meter::start(&sut.server)?;
        let phase = closed_loop(workers, settings.phase).await;
        let cost = meter.stop(&sut.server)?;
        let name = format!(
            "3 get, {GET_CLIENTS} clients, {} objects",
            sut.shared.objects()
        );
        report.push(rate_figure(&name, sut.kind, &phase, cost, "gets"));
    }
    Ok(())
}

/// Scenario 4: one client lists everything, then one random node's objects, each again and
/// again for a phase (and at least [`MIN_LISTINGS`] times).
pub(crate) async fn lists(
    suts: &mut [Sut],
    settings: &Settings,
    report: &mut Report,
) -> anyhow::Result<()> {
    for node_only in [false, true] {
        for sut in suts.iter_mut() {
            report.push(listings(sut, settings, 4, node_only).await?);
        }
    }
    Ok(())
}

/// Lists every object (or, with `node_only`, one random node's) again and again for a phase,
/// and at least [`MIN_LISTINGS`] times: the figure of scenario `scenario` (4, or 10 at
/// scale).
pub(crate) async fn listings(
    sut: &Sut,
    settings: &Settings,
    scenario: u8,
    node_only: bool,
) -> anyhow::Result<Figure> {
    let client = sut.client().await?;
    let objects = sut.shared.objects();
    let nodes = sut.shared.workload.nodes();
    settle(&sut.server, settings).await?;
    let meter = Meter::start(&sut.server)?;
    let mut rng = StdRng::seed_from_u64(7);
    let phase = repeat(settings.phase, || {
        let node = node_only.then(|| Workload::node_name(rng.random_range(0..nodes)));
        let mut client = client.clone();
        let page_size = settings.page_size;
        async move {
            let listed = client.list(node.as_deref(), page_size).await?;
            let expected = if node.is_some() {
                objects.div_ceil(nodes)
            } else {
                objects
            };
            if listed.abs_diff(expected) > usize::from(node.is_some()) {
                bail!("listed {listed} objects, expected {expected}");
            }
            Ok(())
        }
    })
    .await;
    let cost = meter.stop(&sut.server)?;
    let name = if node_only {
        format!(
            "{scenario} list one node's {} of {objects}",
            objects.div_ceil(nodes)
        )
    } else {
        format!("{scenario} list all {objects}")
    };
    let mut figure = rate_figure(&name, sut.kind, &phase, cost, "listings");
    figure.unit = Unit::ListsPerSec;
    figure.detail.push_str(&format!(
        "; pages of {}, every object decoded; the latency is one whole listing's",
        settings.page_size
    ));
    Ok(figure)
}

/// Calls `call` back to back for `duration`, and at least [`MIN_LISTINGS`] times.
pub(crate) async fn repeat<F, Fut>(duration: Duration, mut call: F) -> Phase
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut phase = Phase::default();
    let start = Instant::now();
    let mut runs = 0;
    while runs < MIN_LISTINGS || start.elapsed() < duration {
        let t = Instant::now();
        match call().await {
            Ok(()) => phase.latency.record(t.elapsed()),
            Err(err) => {
                phase.errors += 1;
                phase.first_error.get_or_insert_with(|| format!("{err:#}"));
            }
        }
        runs += 1;
    }
    phase.elapsed = start.elapsed();
    phase.ops = phase.latency.count();
    phase
}
