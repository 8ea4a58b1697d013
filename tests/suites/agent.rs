//! hep-agent: the state file always converges to the server's truth for the agent's node,
//! across changes, server restarts (resuming without a relist) and agent restarts; its
//! metrics say so.

use hostendpoint_tests::{
    agent::AgentProcess,
    metrics::{Scrape, promtool_check, wait_for_scrape},
    *,
};
use serde_json::Value;
use std::time::Duration;

/// (name, resourceVersion) pairs of a state file, in file order.
fn state_objects(state: &Value) -> Vec<(String, String)> {
    state["hostEndpoints"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|h| {
                    let meta = &h["metadata"];
                    let field = |k: &str| meta[k].as_str().unwrap_or_default().to_owned();
                    (field("name"), field("resourceVersion"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The server's truth for `node`, in the same shape.
async fn truth(client: &mut ApiClient, node: &str) -> Vec<(String, String)> {
    list(client, node, 0, "")
        .await
        .host_endpoints
        .iter()
        .map(|h| (meta(h).name.clone(), meta(h).resource_version.to_string()))
        .collect()
}

async fn converge(agent: &AgentProcess, client: &mut ApiClient) -> Value {
    let expected = truth(client, "n1").await;
    agent.wait_for_state(|s| state_objects(s) == expected).await
}

#[tokio::test]
async fn the_state_file_follows_changes_restarts_and_agent_crashes() {
    let mut server = ServerProcess::start();
    let mut client = server.client().await;
    create(&mut client, mk_sample()).await;
    create(&mut client, mk_hep("b", "n1")).await;
    create(&mut client, mk_hep("c", "n2")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let hooks = dir.path().join("hooks.log");
    let exec = format!("echo \"$HEP_AGENT_REVISION\" >> {}", hooks.display());
    let mut agent = AgentProcess::start(
        "n1",
        &server.endpoint(),
        &dir.path().join("state.json"),
        Some(&exec),
    );

    let state = converge(&agent, &mut client).await;
    assert_eq!(state["node"], "n1");
    assert_eq!(state_objects(&state), [("b".to_owned(), "2".to_owned())]);
    assert_eq!(state["hostEndpoints"][0]["kind"], "HostEndpoint");

    // Changes: one enters n1, one leaves it.
    let mut moved = mk_hep("c", "n1");
    meta_mut(&mut moved)
        .labels
        .insert("moved".into(), "yes".into());
    update(&mut client, moved, false)
        .await
        .expect("move c to n1");
    update(&mut client, mk_hep("b", "n2"), false)
        .await
        .expect("move b away");
    let state = converge(&agent, &mut client).await;
    assert_eq!(state_objects(&state), [("c".to_owned(), "4".to_owned())]);
    assert_eq!(state["revision"], 5);
    // The hook runs after the state file is written: wait for it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let hook_runs = std::fs::read_to_string(&hooks).unwrap_or_default();
        if hook_runs.lines().any(|l| l == "5") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the hook saw revision 5: {hook_runs}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The server restarts: the agent resumes without a relist.
    server.terminate().await;
    server.start_again_on_same_port();
    let mut client = server.client().await;
    create(&mut client, mk_hep("d", "n1")).await;
    converge(&agent, &mut client).await;
    assert_eq!(
        agent.log_text().matches("in sync").count(),
        1,
        "resumed, not relisted:\n{}",
        agent.log_text()
    );

    // The agent crashes; changes happen meanwhile; it comes back and converges.
    agent.kill();
    delete(&mut client, "c", 0, "").await.expect("delete c");
    create(&mut client, mk_hep("e", "n1")).await;
    agent.start_again();
    let state = converge(&agent, &mut client).await;
    assert_eq!(
        state_objects(&state),
        [
            ("d".to_owned(), "6".to_owned()),
            ("e".to_owned(), "8".to_owned())
        ]
    );

    let status = agent.terminate().await;
    assert!(status.success(), "SIGTERM is a clean exit: {status}");
}

#[tokio::test]
async fn the_agent_starts_before_its_server_and_catches_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = ServerProcess::start();
    let endpoint = server.endpoint();
    server.terminate().await;
    let agent = AgentProcess::start("n1", &endpoint, &dir.path().join("state.json"), None);
    server.start_again_on_same_port();
    let mut client = server.client().await;
    create(&mut client, mk_hep("a", "n1")).await;
    let state = converge(&agent, &mut client).await;
    assert_eq!(state_objects(&state), [("a".to_owned(), "1".to_owned())]);
}

#[tokio::test]
async fn the_agent_reports_sync_reconnects_and_relists_as_metrics() {
    let mut server = ServerProcess::start();
    let mut client = server.client().await;
    create(&mut client, mk_hep("a", "n1")).await;
    create(&mut client, mk_hep("b", "n1")).await;
    create(&mut client, mk_hep("c", "n2")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let agent =
        AgentProcess::start_with_metrics("n1", &server.endpoint(), &dir.path().join("state.json"));
    let addr = agent.metrics_addr().await;
    let state = converge(&agent, &mut client).await;
    let gauge = |scrape: &Scrape, name: &str| scrape.get(&format!("hep_agent_{name}"), &[]);

    let scrape = wait_for_scrape(addr, "the agent is in sync with n1's two", |s| {
        gauge(s, "synced") == 1.0 && gauge(s, "host_endpoints") == 2.0
    })
    .await;
    let revision = state["revision"].as_f64().expect("a numeric revision");
    assert_eq!(gauge(&scrape, "revision"), revision, "{}", scrape.text);
    assert_eq!(gauge(&scrape, "reconnects_total"), 0.0);
    assert_eq!(gauge(&scrape, "relists_total"), 0.0);
    let written = gauge(&scrape, "state_file_last_write_timestamp_seconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs_f64();
    assert!(
        (now - 60.0..=now).contains(&written),
        "the state file was written just now: {written} (now {now})"
    );
    promtool_check(&scrape.text).expect("promtool accepts the agent's exposition");

    // The server restarts: the watch resumes, counted as a reconnect, not a relist.
    server.terminate().await;
    server.start_again_on_same_port();
    let mut client = server.client().await;
    create(&mut client, mk_hep("d", "n1")).await;
    let scrape = wait_for_scrape(addr, "the agent reconnected and saw d", |s| {
        gauge(s, "reconnects_total") >= 1.0 && gauge(s, "host_endpoints") == 3.0
    })
    .await;
    assert_eq!(gauge(&scrape, "relists_total"), 0.0, "{}", scrape.text);

    // The store is replaced: the agent's position means nothing there, so it relists.
    server.terminate().await;
    server.replace_store_on_same_port();
    wait_for_scrape(addr, "the agent relisted the empty store", |s| {
        gauge(s, "relists_total") == 1.0
            && gauge(s, "synced") == 1.0
            && gauge(s, "host_endpoints") == 0.0
    })
    .await;
}

// === What an operator sees ===

#[test]
fn help_describes_the_agent() {
    let output = std::process::Command::new(binary("hep-agent"))
        .arg("--help")
        .output()
        .expect("hep-agent runs");
    assert!(output.status.success(), "{output:?}");
    let help = String::from_utf8(output.stdout).expect("UTF-8 help");
    assert!(
        help.starts_with("Keeps the Calico host endpoints of one node in a local JSON file"),
        "{help}"
    );
    hostendpoint_tests::golden::assert_golden("hep-agent", "help.txt", &help);
}

#[tokio::test]
async fn json_logs_follow_a_host_port_server_through_a_restart_in_words() {
    let mut server = ServerProcess::start();
    let mut client = server.client().await;
    create(&mut client, mk_hep("a", "n1")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // host:port, as hepctl takes it.
    let host_port = server.addr.to_string();
    let agent = AgentProcess::start_with(
        "n1",
        &host_port,
        &dir.path().join("state.json"),
        &["--log-format", "json"],
    );
    let following = agent
        .wait_for_json_line(&[("message", serde_json::json!("following"))])
        .await;
    assert_eq!(following["fields"]["server"], host_port.as_str());
    converge(&agent, &mut client).await;

    server.terminate().await;
    server.start_again_on_same_port();
    let mut client = server.client().await;
    create(&mut client, mk_hep("b", "n1")).await;
    let state = converge(&agent, &mut client).await;
    let restored = agent
        .wait_for_json_line(&[(
            "message",
            serde_json::json!("connection to the server restored; watch resumed"),
        )])
        .await;
    assert_eq!(restored["level"], "INFO");
    assert!(
        restored["fields"]["failed_attempts"].as_u64() >= Some(1),
        "{restored}"
    );
    assert!(restored["fields"]["revision"].as_u64() < state["revision"].as_u64());
    // Every line is JSON (json_log panics otherwise), and none speaks Rust's Debug.
    for line in agent.json_log() {
        let text = line["fields"].to_string();
        assert!(
            !["Some(", "None", "Status {", "Error("]
                .iter()
                .any(|debug| text.contains(debug)),
            "{line}"
        );
    }
}

#[tokio::test]
async fn hook_output_is_logged_as_exec_lines_with_its_stream() {
    let server = ServerProcess::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = AgentProcess::start_with(
        "n1",
        &server.endpoint(),
        &dir.path().join("state.json"),
        &[
            "--log-format",
            "json",
            "--exec",
            "echo \"reloaded $HEP_AGENT_REVISION\"; echo 'a warning' >&2",
        ],
    );
    let reloaded = format!("exec: reloaded {}", rev(0));
    let out = agent
        .wait_for_json_line(&[("message", serde_json::json!(reloaded))])
        .await;
    assert_eq!(
        (&out["level"], &out["fields"]["output"]),
        (&serde_json::json!("INFO"), &serde_json::json!("stdout"))
    );
    let err = agent
        .wait_for_json_line(&[("message", serde_json::json!("exec: a warning"))])
        .await;
    assert_eq!(err["fields"]["output"], "stderr");
}

#[tokio::test]
async fn the_state_file_is_0600_unless_another_mode_is_asked_for() {
    use std::os::unix::fs::PermissionsExt as _;

    let server = ServerProcess::start();
    let mut client = server.client().await;
    create(&mut client, mk_hep("a", "n1")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mode = |agent: &AgentProcess| {
        let metadata = std::fs::metadata(&agent.state_file).expect("the state file exists");
        metadata.permissions().mode() & 0o777
    };
    let default = AgentProcess::start("n1", &server.endpoint(), &dir.path().join("a.json"), None);
    converge(&default, &mut client).await;
    assert_eq!(mode(&default), 0o600);
    let group = AgentProcess::start_with(
        "n1",
        &server.endpoint(),
        &dir.path().join("b.json"),
        &["--state-file-mode", "0640"],
    );
    converge(&group, &mut client).await;
    assert_eq!(mode(&group), 0o640);
}

#[tokio::test]
async fn text_logs_have_no_colours_and_debug_is_ours_only() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    create(&mut client, mk_hep("a", "n1")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = AgentProcess::start_with(
        "n1",
        &server.endpoint(),
        &dir.path().join("state.json"),
        &["--log-level", "debug"],
    );
    converge(&agent, &mut client).await;
    let log = agent.log_text();
    assert!(!log.contains('\x1b'), "no colours on a pipe:\n{log}");
    let debug_targets: Vec<&str> = log
        .lines()
        .map(hostendpoint_tests::agent::without_timestamp)
        .filter_map(|line| line.strip_prefix("DEBUG "))
        .filter_map(|rest| rest.split(": ").next())
        .collect();
    assert!(
        debug_targets.contains(&"hostendpoint_client::watcher"),
        "our debug lines are in:\n{log}"
    );
    assert!(
        debug_targets
            .iter()
            .all(|t| t.starts_with("hep_agent") || t.starts_with("hostendpoint_")),
        "only ours at debug: {debug_targets:?}"
    );
}
