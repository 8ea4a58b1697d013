//! The command line, and the [`Settings`] it resolves to: the full comparison by default, a
//! tiny one with `--quick`, and any figure overridden by its own flag.

use std::{collections::BTreeSet, path::PathBuf, time::Duration};

use anyhow::{Context as _, bail};
use serde::Serialize;

/// The systems under test, in the order they run and are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum SystemKind {
    /// This project's server, on its embedded sled store.
    Hostendpointd,
    /// The same, served over TLS with client certificates required (mutual TLS), its clients
    /// admins by the authorization policy. Runs scenarios 1 to 4 only, and only when
    /// `--systems` names it: it is there to be compared with plaintext hostendpointd.
    HostendpointdMtls,
    /// This project's server on its etcd backend (`--datastore etcdv3`), with an etcd of its
    /// own.
    HostendpointdEtcd,
    /// etcd v3, driven like Calico's etcdv3 datastore.
    Etcd,
}

impl SystemKind {
    /// The systems of the comparison with etcd, in the order they run: the default of
    /// `--systems`, and the columns of the report's main table.
    pub(crate) const COMPARED: [Self; 3] =
        [Self::Hostendpointd, Self::HostendpointdEtcd, Self::Etcd];

    /// The name in tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Hostendpointd => "hostendpointd",
            Self::HostendpointdMtls => "hostendpointd (mTLS)",
            Self::HostendpointdEtcd => "hostendpointd (etcd)",
            Self::Etcd => "etcd",
        }
    }

    /// Whether clients talk to hostendpointd's gRPC API (rather than to etcd's).
    pub(crate) fn is_hostendpointd(self) -> bool {
        matches!(
            self,
            Self::Hostendpointd | Self::HostendpointdMtls | Self::HostendpointdEtcd
        )
    }

    /// Whether the system runs scenario `n`. hostendpointd (mTLS) runs the writes and the
    /// reads (1 to 4), which is what its comparison with plaintext is about; the restart and
    /// the watch scenarios measure the store and the fan-out, and would make the run twice as
    /// long for a figure that TLS hardly moves (restart) or that is left for later (fan-out).
    pub(crate) fn runs(self, n: u8) -> bool {
        match self {
            Self::HostendpointdMtls => (1..=4).contains(&n),
            _ => true,
        }
    }

    /// The processes whose CPU time and memory count as the server's.
    pub(crate) fn server_processes(self) -> &'static str {
        match self {
            Self::Hostendpointd | Self::HostendpointdMtls => "hostendpointd",
            Self::HostendpointdEtcd => {
                "hostendpointd and its etcd together: CPU seconds summed, peak RSS the sum of \
                 both processes' peaks"
            }
            Self::Etcd => "etcd",
        }
    }
}

/// Runs the same HostEndpoint workload against hostendpointd (on its embedded store and on its
/// etcd backend) and against etcd v3 used the way Calico's etcdv3 datastore uses it, and prints
/// every system's figures and their ratio to etcd's; with `--systems hostendpointd,
/// hostendpointd-mtls`, hostendpointd over mutual TLS against plaintext.
#[derive(Debug, clap::Parser)]
#[command(version, about)]
#[deny(missing_docs)]
pub(crate) struct Args {
    /// A tiny run that only shows the harness works: 300 objects, 10 and 20 watchers, 0.5 s
    /// phases; 20 stalled watchers on 2 connections for 1 s.
    #[arg(long)]
    quick: bool,
    /// Objects stored for the read, watch, restart and scale scenarios [default: 100000].
    #[arg(long)]
    objects: Option<usize>,
    /// Objects per node: the size of a one-node listing and watch. The objects are spread over
    /// `--objects` / this many nodes (1 000 at 100 000 objects, 10 000 at 1 000 000), so a
    /// node's listing is the same size at every scale.
    #[arg(long, default_value_t = 100)]
    objects_per_node: usize,
    /// Change-log entries (etcd: key revisions) before the restart scenario [default: 1000000].
    #[arg(long)]
    log_entries: Option<u64>,
    /// Watcher counts of the fan-out scenario, comma-separated [default: 1000,10000].
    #[arg(long, value_delimiter = ',')]
    watchers: Option<Vec<usize>>,
    /// Watch streams per HTTP/2 connection, on every system.
    #[arg(long, default_value_t = 100)]
    watchers_per_connection: usize,
    /// Length of every timed phase [default: 5s].
    #[arg(long, value_parser = humantime::parse_duration)]
    phase: Option<Duration>,
    /// Writes per second offered during the watch scenarios, by 4 writers [default: 200].
    #[arg(long)]
    watch_write_rate: Option<u32>,
    /// The longest wait for watchers to receive every write after the writes stopped
    /// [default: 10s].
    #[arg(long, value_parser = humantime::parse_duration)]
    drain: Option<Duration>,
    /// Whether etcd watchers ask for each event's previous value (`prev_kv`), as Calico's
    /// etcdv3 watcher does. `false` shows what etcd's fan-out costs without it (etcd 3.4 reads
    /// the previous value from its store once per event and watcher).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    etcd_prev_kv: bool,
    /// Whether hostendpointd serves its metrics, as it does by default; `false` runs it with
    /// `--metrics-listen ''`, to show what the metrics cost.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    metrics: bool,
    /// Scenario 7 stops (SIGSTOP) hostendpointd on etcd while the history is written straight
    /// into its etcd, and lets it go on (SIGCONT) after the last write: a replica that fell far
    /// behind its etcd (a long pause, a node short of CPU). hostendpointd alone.
    #[arg(long)]
    stop_replica_during_burst: bool,
    /// Page size of the list scenarios, the same on every system.
    #[arg(long, default_value_t = 500)]
    page_size: u32,
    /// Watchers of scenario 9 that read their first message and then stop reading
    /// [default: 2000].
    #[arg(long)]
    stalled_watchers: Option<usize>,
    /// HTTP/2 connections scenario 9's stalled watchers share, on every system [default: 10].
    #[arg(long)]
    stalled_connections: Option<usize>,
    /// Writes per second of scenario 9's one writer.
    #[arg(long, default_value_t = 30)]
    stalled_write_rate: u32,
    /// Bytes of the annotation that scenario 9's writer gives every object it updates.
    #[arg(long, default_value_t = 4096)]
    stalled_object_bytes: usize,
    /// How long scenario 9's writer writes while the watchers stall [default: 60s].
    #[arg(long, value_parser = humantime::parse_duration)]
    stalled_phase: Option<Duration>,
    /// Scenarios to run (1 to 10), comma-separated [default: 1 to 9]. 10, the scale scenario,
    /// runs only when named, on fresh servers of its own, one system at a time: memory per
    /// stored object, listings, a watch's initial state, a restart and the memory after it,
    /// with `--objects` objects, for instance `--scenarios 10 --objects 1000000`.
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<u8>,
    /// Systems to run, comma-separated [default: hostendpointd,hostendpointd-etcd,etcd;
    /// hostendpointd-mtls runs only when named, and only scenarios 1 to 4].
    #[arg(long, value_delimiter = ',', value_enum)]
    systems: Vec<SystemKind>,
    /// The hostendpointd binary [default: the one next to this executable].
    #[arg(long)]
    hostendpointd: Option<PathBuf>,
    /// The etcd binary.
    #[arg(long, default_value = "etcd")]
    etcd: PathBuf,
    /// Where the servers' fresh data directories are made [default: the temporary directory].
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Also write every figure as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Keep the servers' data directories (to profile a restart, say); their path is printed.
    #[arg(long)]
    keep: bool,
}

/// The number of the last scenario.
const LAST_SCENARIO: u8 = 10;
/// The scenarios that run when `--scenarios` names none: all but 10, the scale scenario,
/// which runs only when named (it is meant for a million objects, and takes minutes).
pub(crate) const DEFAULT_SCENARIOS: std::ops::RangeInclusive<u8> = 1..=9;

/// Scenario 9: watchers that read their first message and then stop reading, while one writer
/// updates objects with a large annotation.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct Stalled {
    /// How many watchers stall.
    pub(crate) watchers: usize,
    /// Over how many HTTP/2 connections (the watchers spread evenly).
    pub(crate) connections: usize,
    /// Writes per second.
    pub(crate) write_rate: u32,
    /// Bytes of the annotation every written object gets.
    pub(crate) object_bytes: usize,
    /// How long the writer writes.
    pub(crate) phase: Duration,
}

impl Stalled {
    /// Watchers per connection: the last connection may have fewer.
    pub(crate) fn per_connection(&self) -> usize {
        self.watchers.div_ceil(self.connections)
    }
}

/// Everything a run needs to know, resolved from [`Args`].
#[derive(Debug, Serialize)]
pub(crate) struct Settings {
    /// Whether this is the `--quick` smoke run.
    pub(crate) quick: bool,
    /// Objects stored for scenarios 2 to 10.
    pub(crate) objects: usize,
    /// Nodes the objects are spread over.
    pub(crate) nodes: usize,
    /// Change-log entries before the restart.
    pub(crate) log_entries: u64,
    /// Watcher counts of scenario 5, ascending.
    pub(crate) watchers: Vec<usize>,
    /// Watch streams per HTTP/2 connection.
    pub(crate) watchers_per_connection: usize,
    /// Length of a timed phase.
    pub(crate) phase: Duration,
    /// Writes per second during the watch scenarios.
    pub(crate) watch_write_rate: u32,
    /// The longest wait for watchers to catch up.
    pub(crate) drain: Duration,
    /// Page size of the list scenarios.
    pub(crate) page_size: u32,
    /// Whether etcd watchers ask for `prev_kv`.
    pub(crate) etcd_prev_kv: bool,
    /// Whether hostendpointd serves its metrics.
    pub(crate) metrics: bool,
    /// Whether scenario 7 stops hostendpointd on etcd while its etcd takes the history.
    pub(crate) stop_replica_during_burst: bool,
    /// Scenario 9: the stalled watchers, their connections and the writes they stop reading.
    pub(crate) stalled: Stalled,
    /// The scenarios to run.
    pub(crate) scenarios: BTreeSet<u8>,
    /// The systems to run, in the order of [`SystemKind`]'s variants.
    pub(crate) systems: Vec<SystemKind>,
    /// The hostendpointd binary.
    pub(crate) hostendpointd: PathBuf,
    /// The etcd binary.
    pub(crate) etcd: PathBuf,
    /// Where data directories are made.
    #[serde(skip)]
    pub(crate) work_dir: Option<PathBuf>,
    /// The JSON output file.
    #[serde(skip)]
    pub(crate) json: Option<PathBuf>,
    /// Whether the data directories are kept.
    #[serde(skip)]
    pub(crate) keep: bool,
}

impl Args {
    /// The settings: `--quick` or full defaults, then the flags given.
    pub(crate) fn resolve(self) -> anyhow::Result<Settings> {
        let Self {
            quick,
            objects,
            objects_per_node,
            log_entries,
            watchers,
            watchers_per_connection,
            phase,
            watch_write_rate,
            drain,
            etcd_prev_kv,
            metrics,
            stop_replica_during_burst,
            page_size,
            stalled_watchers,
            stalled_connections,
            stalled_write_rate,
            stalled_object_bytes,
            stalled_phase,
            scenarios,
            systems,
            hostendpointd,
            etcd,
            work_dir,
            json,
            keep,
        } = self;
        let pick = Pick(quick);
        let objects = objects.unwrap_or(pick.of(100_000, 300));
        if objects_per_node == 0 || objects < objects_per_node {
            bail!("--objects must be at least --objects-per-node, which must not be 0");
        }
        let mut watchers = watchers.unwrap_or_else(|| pick.of(vec![1000, 10_000], vec![10, 20]));
        watchers.sort_unstable();
        watchers.dedup();
        if watchers.first() == Some(&0) || watchers.is_empty() || watchers_per_connection == 0 {
            bail!("--watchers and --watchers-per-connection must be positive");
        }
        let stalled = Stalled {
            watchers: stalled_watchers.unwrap_or(pick.of(2000, 20)),
            connections: stalled_connections.unwrap_or(pick.of(10, 2)),
            write_rate: stalled_write_rate.max(1),
            object_bytes: stalled_object_bytes,
            phase: stalled_phase
                .unwrap_or(pick.of(Duration::from_secs(60), Duration::from_secs(1))),
        };
        if stalled.watchers == 0 || stalled.connections == 0 {
            bail!("--stalled-watchers and --stalled-connections must be positive");
        }
        let scenarios: BTreeSet<u8> = if scenarios.is_empty() {
            DEFAULT_SCENARIOS.collect()
        } else {
            scenarios.into_iter().collect()
        };
        if let Some(bad) = scenarios.iter().find(|s| !(1..=LAST_SCENARIO).contains(*s)) {
            bail!("there is no scenario {bad}: they are 1 to {LAST_SCENARIO}");
        }
        let mut systems = if systems.is_empty() {
            SystemKind::COMPARED.to_vec()
        } else {
            systems
        };
        systems.sort_unstable();
        systems.dedup();
        if let Some(idle) = systems
            .iter()
            .find(|kind| !scenarios.iter().any(|&n| kind.runs(n)))
        {
            bail!(
                "{} runs none of the scenarios asked for (it runs scenarios 1 to 4)",
                idle.name()
            );
        }
        let hostendpointd = match hostendpointd {
            Some(path) => path,
            None if systems.iter().any(|kind| kind.is_hostendpointd()) => {
                sibling_binary("hostendpointd")?
            }
            None => PathBuf::new(),
        };
        Ok(Settings {
            quick,
            objects,
            nodes: objects.div_ceil(objects_per_node),
            log_entries: log_entries.unwrap_or(pick.of(1_000_000, 1_000)),
            watchers,
            watchers_per_connection,
            phase: phase.unwrap_or(pick.of(Duration::from_secs(5), Duration::from_millis(500))),
            watch_write_rate: watch_write_rate.unwrap_or(pick.of(200, 50)).max(1),
            drain: drain.unwrap_or(pick.of(Duration::from_secs(10), Duration::from_secs(2))),
            page_size: page_size.max(1),
            etcd_prev_kv,
            metrics,
            stop_replica_during_burst,
            stalled,
            scenarios,
            systems,
            hostendpointd,
            etcd,
            work_dir,
            json,
            keep,
        })
    }
}

impl Settings {
    /// Whether scenario `n` was asked for.
    pub(crate) fn runs(&self, n: u8) -> bool {
        self.scenarios.contains(&n)
    }

    /// The most watchers of scenario 5: the idle-stream scenario opens this many.
    pub(crate) fn max_watchers(&self) -> usize {
        self.watchers.last().copied().unwrap_or(1)
    }

    /// The fewest watchers of scenario 5: the stalled-watcher scenario runs with this many.
    pub(crate) fn min_watchers(&self) -> usize {
        self.watchers.first().copied().unwrap_or(1)
    }
}

/// Chooses between the full and the `--quick` value of a setting.
#[derive(Clone, Copy)]
struct Pick(bool);

impl Pick {
    fn of<T>(self, full: T, quick: T) -> T {
        if self.0 { quick } else { full }
    }
}

/// A binary of this workspace, built next to this executable (`target/<profile>/`).
fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("this executable has no path")?;
    let path = exe
        .parent()
        .context("this executable has no directory")?
        .join(name);
    if !path.exists() {
        bail!(
            "{} is missing: build it (`cargo build --release -p hostendpointd`) or pass \
             --hostendpointd",
            path.display()
        );
    }
    Ok(path)
}
