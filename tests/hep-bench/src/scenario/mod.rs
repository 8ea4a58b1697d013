//! The scenarios, and the order they run in.
//!
//! Every scenario runs on each system in turn, before the next scenario starts; each system
//! keeps its server and its objects from one scenario to the next:
//! 1. creates (1, 16, 64 clients), then the store is filled to `--objects`;
//! 2. updates with a precondition; 3. gets; 4. listings;
//! 7. history is written up to `--log-entries` (for hostendpointd on etcd straight into its
//!    etcd, as for etcd), then the server is killed and restarted (hostendpointd on etcd:
//!    hostendpointd only, once it has caught up; its etcd keeps running);
//! 6. idle watch streams, on a fresh empty server of each system; 5. fan-out with every
//!    watcher count; 8. a stalled watcher; 9. many stalled watchers while large objects are
//!    written (last: it leaves the objects large).
//!
//! Scenario 10, the scale scenario ([`scale`]), runs only when named, after the others'
//! servers have stopped, on a fresh server of each system in turn: memory per stored object,
//! listings, a watch's initial state and the memory after them, a restart and the memory after
//! it, with `--objects`
//! objects (meant for 1 000 000). Scenario 7's hostendpointd on etcd also reports how long it
//! took to catch up with the history written into its etcd.
//!
//! hostendpointd (mTLS) runs scenarios 1 to 4 only ([`SystemKind::runs`]), right after
//! plaintext hostendpointd in each, and its server is stopped after them.

mod batches;
mod drive;
mod reads;
mod restart;
mod scale;
mod watch;
mod writes;

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed},
    },
};

use anyhow::Context as _;
use tempfile::TempDir;

use crate::{
    config::{DEFAULT_SCENARIOS, Settings, SystemKind},
    report::Report,
    server::Server,
    system::Client,
    workload::Workload,
};

/// A system under test: its server and what the run knows about its objects.
#[derive(Debug)]
pub(crate) struct Sut {
    /// Which system.
    pub(crate) kind: SystemKind,
    /// Its server process.
    pub(crate) server: Server,
    /// The objects, shared with the client tasks.
    pub(crate) shared: Arc<Shared>,
    /// The run's directory, for servers started for one scenario.
    pub(crate) dir: PathBuf,
}

/// What every client task of one system needs.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The objects.
    pub(crate) workload: Workload,
    /// The last known revision of each object (0: not created).
    pub(crate) revisions: Box<[AtomicU64]>,
    /// How many objects were created: objects `0..created` exist.
    pub(crate) created: AtomicUsize,
    /// The next value of the `generation` label.
    pub(crate) generation: AtomicU64,
    /// Object versions written so far: hostendpointd's log entries, etcd's key revisions.
    pub(crate) writes: AtomicU64,
}

impl Shared {
    /// Nothing created yet, room for `objects` objects.
    pub(crate) fn new(workload: Workload, objects: usize) -> Self {
        Self {
            workload,
            revisions: (0..objects).map(|_| AtomicU64::new(0)).collect(),
            created: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        }
    }

    /// How many objects exist.
    pub(crate) fn objects(&self) -> usize {
        self.created.load(Relaxed)
    }

    /// A label value no earlier write used.
    pub(crate) fn next_generation(&self) -> u64 {
        self.generation.fetch_add(1, Relaxed) + 1
    }

    /// Notes a successful write of object `index` at `revision`. Revisions only grow, so the
    /// largest one seen is the object's latest, also when writes of it raced.
    pub(crate) fn wrote(&self, index: usize, revision: u64) {
        self.revisions[index].fetch_max(revision, Relaxed);
        self.writes.fetch_add(1, Relaxed);
    }
}

impl Sut {
    /// A new client on its own connection.
    pub(crate) async fn client(&self) -> anyhow::Result<Client> {
        Client::connect(self.kind, &self.server.target()).await
    }

    /// `count` clients, each on its own connection.
    pub(crate) async fn clients(&self, count: usize) -> anyhow::Result<Vec<Client>> {
        let mut clients = Vec::with_capacity(count);
        for _ in 0..count {
            clients.push(self.client().await?);
        }
        Ok(clients)
    }
}

/// Runs the scenarios the settings ask for, on every system, and collects the figures.
pub(crate) async fn run_all(settings: &Settings) -> anyhow::Result<Report> {
    let dir = match &settings.work_dir {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .context("cannot make a data directory")?;
    let mut report = Report::default();
    if DEFAULT_SCENARIOS.clone().any(|n| settings.runs(n)) {
        run_default(settings, &dir, &mut report).await?;
    }
    // After the others' servers have stopped: one store of that size at a time.
    if settings.runs(10) {
        scale::scale(settings, dir.path(), &mut report).await?;
    }
    if settings.keep {
        eprintln!("the data directories are kept in {}", dir.keep().display());
    }
    Ok(report)
}

/// Scenarios 1 to 9, on servers that every one of them shares.
async fn run_default(
    settings: &Settings,
    dir: &TempDir,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut suts = start_all(settings, dir).await?;
    for sut in &mut suts {
        restart::until_ready(sut).await?;
    }
    if settings.runs(1) {
        writes::creates(&mut suts, settings, report).await?;
    }
    // Scenario 6 runs on servers of its own.
    if [2, 3, 4, 5, 7, 8, 9].iter().any(|&n| settings.runs(n)) {
        writes::fill(&mut suts, settings).await?;
    }
    if settings.runs(2) {
        writes::updates(&mut suts, settings, report).await?;
    }
    if settings.runs(3) {
        reads::gets(&mut suts, settings, report).await?;
    }
    if settings.runs(4) {
        reads::lists(&mut suts, settings, report).await?;
    }
    // The systems that run no later scenario are done: their servers stop here.
    suts.retain(|sut| [5, 6, 7, 8, 9].into_iter().any(|n| sut.kind.runs(n)));
    if settings.runs(7) {
        let histories = writes::fill_log(&mut suts, settings, report).await?;
        restart::restart(&mut suts, &histories, settings, report).await?;
    }
    if [5, 6, 8, 9].iter().any(|&n| settings.runs(n)) {
        watch::scenarios(&mut suts, settings, report).await?;
    }
    Ok(())
}

async fn start_all(settings: &Settings, dir: &TempDir) -> anyhow::Result<Vec<Sut>> {
    let workload = Workload::new(settings.nodes);
    let mut suts = Vec::new();
    for &kind in &settings.systems {
        let server = Server::start(kind, settings, dir.path()).await?;
        eprintln!("{} listens on {}", kind.name(), server.addr);
        let shared = Shared::new(workload.clone(), settings.objects);
        suts.push(Sut {
            kind,
            server,
            shared: Arc::new(shared),
            dir: dir.path().to_owned(),
        });
    }
    Ok(suts)
}
