//! hostendpointd (mTLS) against plaintext hostendpointd in the same run: each figure side by
//! side, their ratio, the latencies and the server's CPU time per call; and whether issue 11's
//! target for gets was met.

use std::fmt::Write as _;

use super::{Better, Figure, Report, latency, micros, number, value};
use crate::config::SystemKind;

/// Issue 11's target: gets over mTLS cost at most this much more than plaintext, in time per
/// get (the inverse of gets/s) and in server CPU per get.
const GET_TARGET: f64 = 0.10;
/// The scenario of the target, by its number.
const GET_SCENARIO: &str = "3 ";

/// Every scenario hostendpointd (mTLS) ran, with plaintext hostendpointd's figure of it.
#[derive(Debug)]
pub(super) struct Comparison<'a> {
    pairs: Vec<Pair<'a>>,
}

/// One scenario's figures.
#[derive(Debug)]
struct Pair<'a> {
    plaintext: Option<&'a Figure>,
    mtls: &'a Figure,
}

/// Issue 11's target for gets, from the gets' [`Pair`].
#[derive(Debug)]
struct Verdict {
    /// gets/s over mTLS divided by plaintext's.
    throughput_ratio: f64,
    /// How much more time a get takes over mTLS: plaintext's gets/s over mTLS's, minus 1.
    time_cost: f64,
    /// How much more server CPU a get takes over mTLS, minus 1; `None` without counts.
    cpu_cost: Option<f64>,
}

impl<'a> Comparison<'a> {
    /// The comparison, if hostendpointd (mTLS) ran.
    pub(super) fn of(report: &'a Report) -> Option<Self> {
        let pairs: Vec<_> = report
            .scenarios()
            .iter()
            .filter_map(|scenario| {
                Some(Pair {
                    plaintext: report.find(scenario, SystemKind::Hostendpointd),
                    mtls: report.find(scenario, SystemKind::HostendpointdMtls)?,
                })
            })
            .collect();
        (!pairs.is_empty()).then_some(Self { pairs })
    }

    /// The table, and the target's line.
    pub(super) fn render(&self) -> String {
        let (plain, mtls) = (
            SystemKind::Hostendpointd.name(),
            SystemKind::HostendpointdMtls.name(),
        );
        let mut out = format!(
            "\n{mtls} against {plain}, in the same run (ratio: mTLS over plaintext, below 1 is \
             slower; server CPU per op: the server's CPU time over the successful calls, a \
             ratio above 1 costs more):\n\n"
        );
        let _ = writeln!(
            out,
            "| scenario | unit | {plain} | {mtls} | ratio mTLS / plaintext | {plain} p50 / p99 / \
             max ms | {mtls} p50 / p99 / max ms | server CPU µs per op ({plain} / {mtls}) | \
             server CPU per op, mTLS / plaintext |\n|---|---|--:|--:|--:|--:|--:|--:|--:|"
        );
        for pair in &self.pairs {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} / {} | {} |",
                pair.mtls.scenario,
                pair.mtls.unit.label(),
                value(pair.plaintext),
                number(pair.mtls.value),
                times(pair.ratio()),
                latency(pair.plaintext),
                latency(Some(pair.mtls)),
                micros(pair.plaintext.and_then(Figure::cpu_per_op)),
                micros(pair.mtls.cpu_per_op()),
                times(pair.cpu_ratio()),
            );
        }
        out.push_str(&self.target_line());
        out
    }

    /// The figures as JSON: each scenario's ratios, and the target's verdict.
    pub(super) fn json(&self) -> serde_json::Value {
        let scenarios: Vec<_> = self
            .pairs
            .iter()
            .map(|pair| {
                serde_json::json!({
                    "scenario": pair.mtls.scenario,
                    "ratio": pair.ratio(),
                    "cpu_secs_per_op": {
                        "hostendpointd": pair.plaintext.and_then(Figure::cpu_per_op),
                        "hostendpointd-mtls": pair.mtls.cpu_per_op(),
                    },
                    "cpu_per_op_ratio": pair.cpu_ratio(),
                })
            })
            .collect();
        let target = self.verdict().map(|v| {
            serde_json::json!({
                "target": format!("gets cost at most {:.0} % more over mTLS", GET_TARGET * 100.0),
                "throughput_ratio": v.throughput_ratio,
                "time_cost": v.time_cost,
                "cpu_cost": v.cpu_cost,
                "met": v.met(),
            })
        });
        serde_json::json!({ "scenarios": scenarios, "get_target": target })
    }

    fn verdict(&self) -> Option<Verdict> {
        let gets = self
            .pairs
            .iter()
            .find(|pair| pair.mtls.scenario.starts_with(GET_SCENARIO))?;
        let throughput_ratio = gets.ratio()?;
        Some(Verdict {
            throughput_ratio,
            time_cost: 1.0 / throughput_ratio - 1.0,
            cpu_cost: gets.cpu_ratio().map(|r| r - 1.0),
        })
    }

    fn target_line(&self) -> String {
        let target = format!(
            "\nTarget (issue 11): gets over mTLS cost at most {:.0} % more than plaintext, in \
             time per get and in server CPU per get: ",
            GET_TARGET * 100.0
        );
        let Some(v) = self.verdict() else {
            return format!("{target}not measured (scenario 3 did not run on both).\n");
        };
        let cpu = v
            .cpu_cost
            .map_or_else(|| "not measured".into(), |c| format!("{:+.1} %", c * 100.0));
        format!(
            "{target}gets/s {} of plaintext's, so {:+.1} % time per get; server CPU per get \
             {cpu}: **{}**.\n",
            times(Some(v.throughput_ratio)),
            v.time_cost * 100.0,
            if v.met() { "met" } else { "missed" }
        )
    }
}

impl Pair<'_> {
    /// mTLS's figure over plaintext's (for throughput: above 1 is better).
    fn ratio(&self) -> Option<f64> {
        let plaintext = self.plaintext?;
        let ratio = match self.mtls.better {
            Better::Higher => self.mtls.value / plaintext.value,
            Better::Lower => plaintext.value / self.mtls.value,
        };
        ratio.is_finite().then_some(ratio)
    }

    /// mTLS's server CPU per call over plaintext's (above 1 costs more).
    fn cpu_ratio(&self) -> Option<f64> {
        let ratio = self.mtls.cpu_per_op()? / self.plaintext.and_then(Figure::cpu_per_op)?;
        ratio.is_finite().then_some(ratio)
    }
}

impl Verdict {
    fn met(&self) -> bool {
        self.time_cost <= GET_TARGET && self.cpu_cost.is_some_and(|c| c <= GET_TARGET)
    }
}

fn times(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "-".into(), |r| format!("{}×", number(r)))
}
