//! The operator's first day with the server: versions that name their commit, a data directory
//! another server holds, an etcd that comes up after the server, logs without other crates'
//! chatter, and the audit trail of the last calls before a shutdown.

use std::{process::Command, time::Duration};

use hostendpoint_tests::{etcd::EtcdCluster, listeners::SilentListener, *};
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// How long an etcd that comes up late takes to be noticed (the retry pause is at most 5 s).
const ETCD_NOTICED: Duration = Duration::from_secs(30);

/// The commit of the checkout, as git abbreviates it: what the binaries were built from.
fn checkout_commit() -> String {
    let output = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(tools::workspace_root())
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git rev-parse: {output:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
fn every_binary_names_its_version_and_commit() {
    let expected = format!(
        "{} (commit {})",
        env!("CARGO_PKG_VERSION"),
        checkout_commit()
    );
    for name in ["hostendpointd", "hepctl", "hep-agent"] {
        let output = Command::new(binary(name))
            .arg("--version")
            .output()
            .expect("the binary runs");
        assert!(output.status.success(), "{name} --version: {output:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("{name} {expected}\n")
        );
    }
}

#[tokio::test]
async fn the_server_logs_its_version_and_commit_at_start_up() {
    let server = ServerProcess::start();
    let log = server.log_text();
    let first = log.lines().next().expect("a first log line");
    let line: serde_json::Value = serde_json::from_str(first).expect("a JSON log line");
    assert_eq!(
        line["fields"]["message"], "hostendpointd starting",
        "{first}"
    );
    assert_eq!(
        line["fields"]["version"],
        env!("CARGO_PKG_VERSION"),
        "{first}"
    );
    assert_eq!(line["fields"]["commit"], checkout_commit(), "{first}");
}

/// Every answer states the server's version, a refusal too: what `hepctl version` shows.
#[tokio::test]
async fn every_answer_states_the_servers_version() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    let version = Command::new(binary("hostendpointd"))
        .arg("--version")
        .output()
        .expect("hostendpointd --version runs");
    let version = String::from_utf8_lossy(&version.stdout);
    let expected = version
        .trim()
        .strip_prefix("hostendpointd ")
        .expect("the binary's name, then its version");
    assert!(expected.starts_with("0.1.0 (commit "), "{expected}");
    let header = hostendpoint_api::build_info::VERSION_HEADER;
    let listed = client
        .list_host_endpoints(hostendpoint_api::pb::ListHostEndpointsRequest::default())
        .await
        .expect("a listing");
    assert_eq!(
        listed.metadata().get(header).and_then(|v| v.to_str().ok()),
        Some(expected)
    );
    let missing = get(&mut client, "nope").await.expect_err("no such object");
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(
        missing.metadata().get(header).and_then(|v| v.to_str().ok()),
        Some(expected)
    );
}

#[tokio::test]
async fn a_data_directory_in_use_is_refused_in_words() {
    if etcd_backend() {
        return;
    }
    let server = ServerProcess::start();
    let data_dir = server.data_dir();
    let output = run_to_exit(&data_dir, &["--log-format", "text"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let refusal = format!("another hostendpointd is using {}", data_dir.display());
    assert_eq!(stderr.matches(&refusal).count(), 1, "said once:\n{stderr}");
    assert!(
        !stderr.contains("Os {") && !stderr.contains("WouldBlock"),
        "no Rust debug text:\n{stderr}"
    );
    // The first server is untouched.
    let mut client = server.client().await;
    create(&mut client, mk_hep("still-served", "n1")).await;
}

#[tokio::test]
async fn debug_logs_leave_out_other_crates_unless_named() {
    if etcd_backend() {
        return;
    }
    let ours_only = ServerProcess::start_with(&["--log-level", "debug"]);
    let mut client = ours_only.client().await;
    create(&mut client, mk_hep("web-1", "n1")).await;
    let targets = |server: &ServerProcess| -> Vec<String> {
        server
            .log_text()
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|line| line["level"] == "DEBUG")
            .filter_map(|line| line["target"].as_str().map(str::to_owned))
            .collect()
    };
    let debug = targets(&ours_only);
    assert!(
        debug.iter().any(|t| t.starts_with("hostendpointd")),
        "our debug lines: {debug:?}"
    );
    assert!(
        debug.iter().all(|t| t.starts_with("hostendpoint")),
        "only ours: {debug:?}"
    );
    let with_sled = ServerProcess::start_with(&["--log-level", "info,sled=debug"]);
    let debug = targets(&with_sled);
    assert!(
        debug.iter().any(|t| t.starts_with("sled")),
        "sled's lines when named: {debug:?}"
    );
}

#[tokio::test]
async fn a_server_started_before_etcd_waits_for_it_and_then_serves() {
    let mut cluster = EtcdCluster::start(1);
    let url = cluster.endpoints();
    cluster.members[0].kill();
    let server = ServerProcess::start_on_etcd_unready(&url, &[]);

    let cause = server
        .wait_for_log_line("cannot reach etcd for the first listing", ETCD_NOTICED)
        .await;
    assert!(
        cause.contains(&url) && cause.contains("cannot connect: connection refused"),
        "{cause}"
    );
    let channel = server.channel().await;
    let mut health = HealthClient::new(channel.clone());
    let status = health
        .check(HealthCheckRequest::default())
        .await
        .expect("health answers while etcd is down")
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::NotServing as i32);
    let mut client = server.client().await;
    let refused = get(&mut client, "web-1").await.expect_err("not ready");
    assert_eq!(refused.code(), Code::Unavailable);
    assert_eq!(
        refused.message(),
        format!("the server is not ready: it is waiting for etcd at {url}")
    );

    cluster.members[0].restart();
    wait_for("the server to serve", ETCD_NOTICED, || {
        let mut health = health.clone();
        async move {
            let status = health.check(HealthCheckRequest::default()).await.ok()?;
            (status.into_inner().status == ServingStatus::Serving as i32).then_some(())
        }
    })
    .await;
    let created = create(&mut client, mk_hep("web-1", "n1")).await;
    assert_eq!(get(&mut client, "web-1").await.expect("get"), created);
    let log = server.log_text();
    assert_eq!(
        log.matches("cannot reach etcd for the first listing")
            .count(),
        1,
        "the wait is said once, not at every attempt:\n{log}"
    );
    assert!(log.contains("reached etcd for the first listing"), "{log}");
}

#[tokio::test]
async fn sigterm_while_waiting_for_etcd_exits_cleanly() {
    // A port held (and never answered) for the whole test: no etcd of another test can come up
    // on it, as it could on a killed member's port.
    let silent = SilentListener::start();
    let url = format!("http://{}", silent.addr);
    let mut server = ServerProcess::start_on_etcd_unready(&url, &[]);
    let status = server.terminate().await;
    assert!(status.success(), "{status}\n{}", server.log_text());
    // The log is read by a thread of the harness: wait for its last line.
    server
        .wait_for_log_line("stopped before the store was open", Duration::from_secs(5))
        .await;
}

#[tokio::test]
async fn the_last_writes_before_a_shutdown_are_in_the_audit_log() {
    if etcd_backend() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.log");
    let audit_arg = audit.to_string_lossy().into_owned();
    let mut server = ServerProcess::start_with(&["--audit-log", &audit_arg]);
    let mut client = server.client().await;
    for i in 0..50 {
        create(&mut client, mk_hep(&format!("web-{i}"), "n1")).await;
    }
    let status = server.terminate().await;
    assert!(status.success(), "{status}");
    let lines = std::fs::read_to_string(&audit).expect("the audit log");
    assert_eq!(lines.lines().count(), 50, "{lines}");
    assert!(
        lines
            .lines()
            .last()
            .is_some_and(|l| l.contains("\"name\":\"web-49\""))
    );
}

#[tokio::test]
async fn sigterm_stops_the_server_after_its_log_reader_died() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = tokio::process::Command::new(binary("hostendpointd"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("hostendpointd starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("stderr reads") {
            if line.contains("listening") {
                return;
            }
        }
        panic!("stderr ended before the server listened");
    })
    .await
    .expect("the server listens");
    // The reader goes away, as a log shipper that died: every later log line fails to write.
    drop(lines);
    let pid = libc::pid_t::try_from(child.id().expect("a pid")).expect("pids fit pid_t");
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the server exits after SIGTERM although it cannot log")
        .expect("the server can be waited for");
    assert!(status.success(), "{status}");
}
