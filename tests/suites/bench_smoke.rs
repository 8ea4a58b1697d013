//! The benchmark harness's smoke run: `hep-bench --quick` drives every scenario against every
//! system (hostendpointd on sled, hostendpointd on etcd, and etcd) with tiny counts, so that
//! the harness cannot rot. The benchmarks proper (`cargo run --release -p hep-bench`) are not
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

/// The cells of a Markdown table row.
fn cells(row: &str) -> Vec<&str> {
    row.split('|').map(str::trim).collect()
}

#[test]
fn hep_bench_quick_runs_every_scenario_against_every_system() {
    assert!(
        on_path("etcd"),
        "etcd is not on PATH: ./tests/run installs it (apt-get install etcd-server etcd-client)"
    );
    let output = Command::new(binary("hep-bench"))
        .arg("--quick")
        .output()
        .expect("hep-bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "hep-bench --quick failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    let header = stdout
        .lines()
        .find(|l| l.starts_with("| scenario |"))
        .unwrap_or_else(|| panic!("no table header:\n{stdout}"));
    let header = cells(header);
    let columns: Vec<usize> = COLUMNS
        .iter()
        .map(|name| {
            header
                .iter()
                .position(|cell| cell == name)
                .unwrap_or_else(|| panic!("no column {name:?} in {header:?}"))
        })
        .collect();
    let mut scenarios = BTreeSet::new();
    for row in stdout.lines().filter(|l| l.starts_with("| ")) {
        let cells = cells(row);
        let Some(number) = cells[1]
            .split(' ')
            .next()
            .and_then(|n| n.parse::<u8>().ok())
        else {
            continue;
        };
        scenarios.insert(number);
        assert!(
            columns
                .iter()
                .all(|&c| cells.get(c).is_some_and(|&cell| cell != "-")),
            "a figure is missing for one system: {row}"
        );
    }
    assert_eq!(
        scenarios,
        (1..=8).collect(),
        "every scenario has a row:\n{stdout}"
    );
}
