//! The figures of a run: a Markdown table with the systems of the comparison with etcd side by
//! side and each hostendpointd system's ratio to etcd, hostendpointd (mTLS) against plaintext
//! hostendpointd ([`mtls`]), the details of each figure, and the same as JSON.

mod mtls;

use std::{fmt::Write as _, path::Path};

use anyhow::Context as _;
use serde::Serialize;

use crate::{
    config::{Settings, SystemKind},
    histogram::Latency,
};

/// Whether more or less of a figure is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Better {
    /// Throughput.
    Higher,
    /// Time and memory.
    Lower,
}

/// The unit of a figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(crate) enum Unit {
    /// Calls per second.
    #[serde(rename = "ops/s")]
    OpsPerSec,
    /// Complete listings per second.
    #[serde(rename = "lists/s")]
    ListsPerSec,
    /// Events received by watchers per second.
    #[serde(rename = "deliveries/s")]
    DeliveriesPerSec,
    /// Acknowledged writes per second.
    #[serde(rename = "writes/s")]
    WritesPerSec,
    /// Milliseconds.
    #[serde(rename = "ms")]
    Millis,
    /// Seconds.
    #[serde(rename = "s")]
    Seconds,
    /// KiB of server memory per watch stream.
    #[serde(rename = "KiB/stream")]
    KibPerStream,
    /// MiB of server memory.
    #[serde(rename = "MiB")]
    Mib,
    /// Bytes of server memory per stored object.
    #[serde(rename = "B/object")]
    BytesPerObject,
}

impl Unit {
    fn label(self) -> &'static str {
        match self {
            Self::OpsPerSec => "ops/s",
            Self::ListsPerSec => "lists/s",
            Self::DeliveriesPerSec => "deliveries/s",
            Self::WritesPerSec => "writes/s",
            Self::Millis => "ms",
            Self::Seconds => "s",
            Self::KibPerStream => "KiB/stream",
            Self::Mib => "MiB",
            Self::BytesPerObject => "B/object",
        }
    }
}

/// One figure of one system in one scenario.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Figure {
    /// The scenario, numbered as in the issue (`1 creates, 16 clients`).
    pub(crate) scenario: String,
    /// The system measured.
    pub(crate) system: SystemKind,
    /// The unit of `value`.
    pub(crate) unit: Unit,
    /// Whether more is better.
    pub(crate) better: Better,
    /// The figure.
    pub(crate) value: f64,
    /// The operations behind `value`, for the server's CPU time per operation: successful
    /// calls, listings, deliveries or writes, watch streams opened, objects stored, or 1 for a
    /// single timed event (a restart, a snapshot); 0 when the figure has none.
    pub(crate) ops: u64,
    /// Latencies behind the figure, when it has some.
    pub(crate) latency: Option<Latency>,
    /// The server's CPU seconds during the scenario (hostendpointd-etcd: of hostendpointd and
    /// its etcd together).
    pub(crate) cpu_secs: f64,
    /// The server's peak resident memory during the scenario, in MiB (hostendpointd-etcd: the
    /// sum of hostendpointd's and its etcd's peaks).
    pub(crate) peak_rss_mib: f64,
    /// The load generator's (this process's) CPU seconds over the same measurement: it shares
    /// the machine's cores with the server, so what it uses caps what the server can do.
    pub(crate) generator_cpu_secs: f64,
    /// Operations that failed (a correct run has none).
    pub(crate) errors: u64,
    /// Counts and conditions behind the figure.
    pub(crate) detail: String,
}

impl Figure {
    /// The server's CPU seconds per operation of [`Figure::ops`]; `None` without operations.
    /// The one computation behind every "per op" column and field.
    pub(crate) fn cpu_per_op(&self) -> Option<f64> {
        (self.ops > 0).then(|| self.cpu_secs / self.ops as f64)
    }
}

/// A figure as written to the JSON file: its fields, and what is derived from them.
#[derive(Serialize)]
struct FigureJson<'a> {
    #[serde(flatten)]
    figure: &'a Figure,
    /// [`Figure::cpu_per_op`] in microseconds.
    server_cpu_us_per_op: Option<f64>,
}

impl<'a> From<&'a Figure> for FigureJson<'a> {
    fn from(figure: &'a Figure) -> Self {
        Self {
            figure,
            server_cpu_us_per_op: figure.cpu_per_op().map(|secs| secs * 1e6),
        }
    }
}

/// Every figure of a run.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Report {
    figures: Vec<Figure>,
}

/// The machine, for the report.
#[derive(Debug, Serialize)]
struct Machine {
    cpu: String,
    cores: usize,
    memory_gib: f64,
    load_average: String,
}

impl Report {
    /// Adds a figure, and prints a line so that a long run shows progress.
    pub(crate) fn push(&mut self, figure: Figure) {
        eprintln!(
            "  {:<44} {:<20} {:>12.1} {}  ({})",
            figure.scenario,
            figure.system.name(),
            figure.value,
            figure.unit.label(),
            figure.detail
        );
        self.figures.push(figure);
    }

    /// How many operations failed in the whole run.
    pub(crate) fn errors(&self) -> u64 {
        self.figures.iter().map(|f| f.errors).sum()
    }

    /// Prints the table and the details to stdout.
    pub(crate) fn print(&self, settings: &Settings) {
        println!("{}", self.render(settings));
    }

    /// Writes the settings, the machine, what each system's server figures cover, and every
    /// figure as JSON.
    pub(crate) fn write_json(&self, path: &Path, settings: &Settings) -> anyhow::Result<()> {
        let systems: Vec<_> = settings
            .systems
            .iter()
            .map(|&kind| {
                serde_json::json!({
                    "system": kind,
                    "name": kind.name(),
                    "server_processes": kind.server_processes(),
                })
            })
            .collect();
        let json = serde_json::json!({
            "machine": machine(),
            "settings": settings,
            "systems": systems,
            "figures": self.figures.iter().map(FigureJson::from).collect::<Vec<_>>(),
            "mtls": mtls::Comparison::of(self).map(|c| c.json()),
        });
        std::fs::write(path, serde_json::to_vec_pretty(&json)?)
            .with_context(|| format!("cannot write {}", path.display()))
    }

    fn render(&self, settings: &Settings) -> String {
        let machine = machine();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nhep-bench: {} cores ({}), {:.1} GiB; load average {}; {} objects on {} nodes, \
             {:?} phases, etcd watches {} prev_kv, hostendpointd metrics {}\n",
            machine.cores,
            machine.cpu,
            machine.memory_gib,
            machine.load_average,
            settings.objects,
            settings.nodes,
            settings.phase,
            if settings.etcd_prev_kv {
                "with"
            } else {
                "without"
            },
            if settings.metrics { "on" } else { "off" },
        );
        out.push_str(&header());
        for scenario in self.scenarios() {
            if let Some(row) = self.row(&scenario) {
                out.push_str(&row);
            }
        }
        out.push_str(FOOTNOTE);
        if let Some(comparison) = mtls::Comparison::of(self) {
            out.push_str(&comparison.render());
        }
        out.push_str("\nDetails:\n");
        for figure in &self.figures {
            let _ = writeln!(
                out,
                "- {}, {}: {}",
                figure.scenario,
                figure.system.name(),
                figure.detail
            );
        }
        out
    }

    /// A scenario's row: each system's figure, each hostendpointd system's ratio to etcd, the
    /// latencies, CPU and memory; `None` when no system has a figure.
    fn row(&self, scenario: &str) -> Option<String> {
        let figures = SystemKind::COMPARED.map(|kind| self.find(scenario, kind));
        let unit = figures.iter().flatten().next()?.unit;
        let etcd = self.find(scenario, SystemKind::Etcd);
        let mut cells = vec![scenario.to_owned(), unit.label().to_owned()];
        cells.extend(figures.map(value));
        cells.push(
            figures
                .map(|f| micros(f.and_then(Figure::cpu_per_op)))
                .join(" / "),
        );
        cells.extend(RATIOS.map(|kind| ratio(self.find(scenario, kind), etcd)));
        cells.extend(figures.map(latency));
        cells.push(figures.map(cpu).join(" / "));
        cells.push(figures.map(generator_cpu).join(" / "));
        cells.push(figures.map(rss).join(" / "));
        Some(format!("| {} |\n", cells.join(" | ")))
    }

    /// The scenarios in the order they ran.
    fn scenarios(&self) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for figure in &self.figures {
            if !seen.contains(&figure.scenario) {
                seen.push(figure.scenario.clone());
            }
        }
        seen
    }

    fn find(&self, scenario: &str, system: SystemKind) -> Option<&Figure> {
        self.figures
            .iter()
            .find(|f| f.scenario == scenario && f.system == system)
    }
}

/// The systems with a ratio column: how they compare with etcd.
const RATIOS: [SystemKind; 2] = [SystemKind::Hostendpointd, SystemKind::HostendpointdEtcd];

const FOOTNOTE: &str = "\nratio: how many times better than etcd each hostendpointd system is \
    (higher throughput, or less time or memory); a figure only one system has (\"-\" for the \
    others) has none. server CPU µs per op: the server's CPU time over the operations the \
    figure counts (a call, a listing, a delivery, a write, an opened watch stream, an object \
    written by the fill, an initial state; a restart's is the whole restart's). load \
    generator CPU s: this process's over the same measurement, on the cores it shares with the \
    server. hostendpointd (etcd)'s server CPU seconds and peak RSS are those of hostendpointd \
    and its etcd together (CPU summed; the sum of the two processes' peaks); its restarts (7, \
    10) restart hostendpointd only, as for a replica: its etcd keeps running.\n";

/// The table's header: a column per system, a ratio column per hostendpointd system.
fn header() -> String {
    let names = SystemKind::COMPARED.map(SystemKind::name);
    let mut cells = vec!["scenario".to_owned(), "unit".to_owned()];
    cells.extend(names.map(str::to_owned));
    cells.push(format!("server CPU µs per op ({})", names.join(" / ")));
    cells.extend(RATIOS.map(|kind| format!("ratio {}", kind.name())));
    cells.extend(names.map(|name| format!("{name} p50 / p99 / max ms")));
    cells.push(format!("server CPU s ({})", names.join(" / ")));
    cells.push(format!("load generator CPU s ({})", names.join(" / ")));
    cells.push(format!("server peak RSS MiB ({})", names.join(" / ")));
    let numeric = cells.len() - 2;
    format!(
        "| {} |\n|---|---|{}\n",
        cells.join(" | "),
        "--:|".repeat(numeric)
    )
}

fn value(figure: Option<&Figure>) -> String {
    figure.map_or_else(|| "-".into(), |f| number(f.value))
}

/// A figure with about three significant digits and thousands separated.
fn number(x: f64) -> String {
    if x >= 1000.0 {
        let digits = format!("{:.0}", x);
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(' ');
            }
            out.push(c);
        }
        out
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn ratio(hep: Option<&Figure>, etcd: Option<&Figure>) -> String {
    let (Some(hep), Some(etcd)) = (hep, etcd) else {
        return "-".into();
    };
    let ratio = match hep.better {
        Better::Higher => hep.value / etcd.value,
        Better::Lower => etcd.value / hep.value,
    };
    if ratio.is_finite() {
        format!("{}×", number(ratio))
    } else {
        "∞".into()
    }
}

fn latency(figure: Option<&Figure>) -> String {
    match figure.and_then(|f| f.latency) {
        Some(l) => format!(
            "{} / {} / {}",
            number(l.p50_ms),
            number(l.p99_ms),
            number(l.max_ms)
        ),
        None => "-".into(),
    }
}

fn cpu(figure: Option<&Figure>) -> String {
    figure.map_or_else(|| "-".into(), |f| number(f.cpu_secs))
}

fn generator_cpu(figure: Option<&Figure>) -> String {
    figure.map_or_else(|| "-".into(), |f| number(f.generator_cpu_secs))
}

/// Seconds as microseconds, "-" for none.
fn micros(secs: Option<f64>) -> String {
    secs.map_or_else(|| "-".into(), |s| number(s * 1e6))
}

fn rss(figure: Option<&Figure>) -> String {
    figure.map_or_else(|| "-".into(), |f| number(f.peak_rss_mib))
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        memory_gib: memory_kib / (1024.0 * 1024.0),
        load_average: load
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    }
}
