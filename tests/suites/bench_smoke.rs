//! The benchmark harness's smoke run: `hep-bench --quick` drives every scenario against every
//! system (hostendpointd on sled, hostendpointd on etcd, and etcd) with tiny counts (scenario
//! 9: 20 stalled watchers on 2 connections, 1 s of writes), and
//! scenarios 1 to 4 against hostendpointd (mTLS), so that the harness cannot rot; and, in a
//! run of its own, the scale scenario (10), which runs only when named, on 300 objects. The benchmarks proper (`cargo run --release -p hep-bench`) are not
//! part of the tests.

use std::{collections::BTreeSet, process::Command};

use hostendpoint_tests::binary;

/// Whether `program` is on `PATH`.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// The columns that must have a figure in every scenario's row: each system's, and each
/// hostendpointd system's ratio to etcd.
const COLUMNS: [&str; 5] = [
    "hostendpointd",
    "hostendpointd (etcd)",
    "etcd",
    "ratio hostendpointd",
    "ratio hostendpointd (etcd)",
];

/// Rows that only some systems have, and the columns that must have a figure in them: the
/// replica catch-ups are hostendpointd on etcd's alone.
const PARTIAL_ROWS: [(&str, &[&str]); 2] = [
    (
        "7 replica catch-up after the burst",
        &["hostendpointd (etcd)"],
    ),
    (
        "10 replica catch-up after the fill",
        &["hostendpointd (etcd)"],
    ),
];

/// Every system, hostendpointd (mTLS) included (it runs only when named).
const SYSTEMS: &str = "hostendpointd,hostendpointd-mtls,hostendpointd-etcd,etcd";

/// The columns of the mTLS table that must have a figure in each of its rows.
const MTLS_COLUMNS: [&str; 3] = [
    "hostendpointd",
    "hostendpointd (mTLS)",
    "ratio mTLS / plaintext",
];

/// The cells of a Markdown table row.
fn cells(row: &str) -> Vec<&str> {
    row.split('|').map(str::trim).collect()
}

/// The numbers of the scenarios of the table whose header starts with `header`, after checking
/// that each row has a figure in each of `columns`.
fn scenarios_with_figures(stdout: &str, header: &str, columns: &[&str]) -> BTreeSet<u8> {
    let mut lines = stdout
        .lines()
        .skip_while(|l| !l.starts_with(header))
        .take_while(|l| l.starts_with('|'));
    let header = cells(
        lines
            .next()
            .unwrap_or_else(|| panic!("no table {header:?}:\n{stdout}")),
    );
    let position = |name: &&str| {
        header
            .iter()
            .position(|cell| cell == name)
            .unwrap_or_else(|| panic!("no column {name:?} in {header:?}"))
    };
    let columns: Vec<usize> = columns.iter().map(position).collect();
    let mut scenarios = BTreeSet::new();
    for row in lines {
        let cells = cells(row);
        let Some(number) = cells[1]
            .split(' ')
            .next()
            .and_then(|n| n.parse::<u8>().ok())
        else {
            continue;
        };
        scenarios.insert(number);
        let required: Vec<usize> = match PARTIAL_ROWS.iter().find(|(name, _)| *name == cells[1]) {
            Some((_, only)) => only.iter().map(position).collect(),
            None => columns.clone(),
        };
        assert!(
            required
                .iter()
                .all(|&c| cells.get(c).is_some_and(|&cell| cell != "-")),
            "a figure is missing for one system: {row}"
        );
    }
    scenarios
}

/// Runs `hep-bench --quick` with `args`, asserts that it succeeded, and returns its stdout.
fn hep_bench_quick(args: &[&str]) -> String {
    assert!(
        on_path("etcd"),
        "etcd is not on PATH: ./tests/run installs it (apt-get install etcd-server etcd-client)"
    );
    let output = Command::new(binary("hep-bench"))
        .arg("--quick")
        .args(args)
        .output()
        .expect("hep-bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "hep-bench --quick {args:?} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    stdout
}

#[test]
fn hep_bench_quick_runs_every_scenario_against_every_system() {
    let stdout = hep_bench_quick(&["--systems", SYSTEMS]);
    let scenarios = scenarios_with_figures(&stdout, "| scenario |", &COLUMNS);
    assert_eq!(
        scenarios,
        (1..=9).collect(),
        "every scenario has a row:\n{stdout}"
    );
    let mtls = scenarios_with_figures(
        &stdout,
        "| scenario | unit | hostendpointd | hostendpointd (mTLS) |",
        &MTLS_COLUMNS,
    );
    assert_eq!(
        mtls,
        (1..=4).collect(),
        "hostendpointd (mTLS) has a row for scenarios 1 to 4, next to plaintext:\n{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("Target (issue 11)")
            && (l.ends_with("**met**.") || l.ends_with("**missed**."))),
        "the gets' target is stated as met or missed:\n{stdout}"
    );
}

#[test]
fn hep_bench_quick_runs_the_scale_scenario_when_named() {
    let stdout = hep_bench_quick(&["--scenarios", "10"]);
    let scenarios = scenarios_with_figures(&stdout, "| scenario |", &COLUMNS);
    assert_eq!(
        scenarios,
        BTreeSet::from([10]),
        "only scenario 10 ran:\n{stdout}"
    );
    for row in [
        "| 10 memory per stored object, 300 objects |",
        "| 10 list all 300 |",
        "| 10 list one node's 100 of 300 |",
        "| 10 watch snapshot of all 300 |",
        "| 10 memory per stored object after the reads, 300 objects |",
        "| 10 restart after SIGKILL, 300 objects |",
        "| 10 memory per stored object after the restart, 300 objects |",
        "| 10 replica catch-up after the fill |",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(row)),
            "no row {row}:\n{stdout}"
        );
    }
}
