//! `hepctl version`: the client's version and commit, and the server's as it states it.

use std::process::Command;

use hostendpoint_tests::{ServerProcess, binary, golden::assert_calicoctl};

use super::Hepctl;

/// What a binary's `--version` prints after its name: `0.1.0 (commit abc1234)`.
fn long_version(name: &str) -> String {
    let output = Command::new(binary(name))
        .arg("--version")
        .output()
        .expect("--version runs");
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .strip_prefix(&format!("{name} "))
        .expect("the name, then the version")
        .to_owned()
}

/// calicoctl's layout with the values filled in.
fn expected(golden_values: &[(&str, &str)], text: &str) -> String {
    golden_values
        .iter()
        .fold(text.to_owned(), |text, (value, placeholder)| {
            text.replacen(value, placeholder, 1)
        })
}

#[test]
fn version_prints_the_client_then_the_server_as_calicoctl_lays_them_out() {
    let server = ServerProcess::start();
    let client = long_version("hepctl");
    let (client_version, client_commit) = client
        .split_once(" (commit ")
        .map(|(v, c)| (v.to_owned(), c.trim_end_matches(')').to_owned()))
        .expect("0.1.0 (commit abc1234)");
    let server_version = long_version("hostendpointd");

    let run = Hepctl::new(&server).run(&["version"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    let values = [
        (client_version.as_str(), "<VERSION>"),
        (client_commit.as_str(), "<COMMIT>"),
        (server_version.as_str(), "<CLUSTER_VERSION>"),
        ("hostendpointd\n", "<CLUSTER_TYPE>\n"),
    ];
    assert_calicoctl("version.stdout", &expected(&values, &run.stdout));

    // --client asks no server.
    let offline = Hepctl::offline().run(&["version", "--client"]);
    assert_eq!(
        (offline.code, offline.stderr.as_str()),
        (0, ""),
        "{offline:?}"
    );
    assert_calicoctl("version-client.stdout", &expected(&values, &offline.stdout));
}

#[test]
fn version_says_why_the_server_version_is_unknown_after_the_clients() {
    let run = Hepctl::offline().run(&["version"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout.lines().count(), 2, "the client's lines: {run:?}");
    assert_calicoctl(
        "version-unreachable.stderr",
        &run.stderr.replace(
            "cannot connect to 127.0.0.1:1: connection refused",
            "<ERROR>",
        ),
    );
}
