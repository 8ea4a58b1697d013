//! What hepctl and hep-agent say when the server cannot be used, through the real binaries:
//! a refused port, an HTTP/1.1 server, a listener that never answers, a connect that hangs,
//! a TLS server reached in plaintext, an address or file that can never work, and a stalled
//! connection; each cause said once, with the exit code.

use std::time::{Duration, Instant};

use hostendpoint_tests::{
    ServerProcess,
    agent::{AgentProcess, run_to_exit, without_timestamp},
    create,
    hepctl::{Run, hepctl, mk_doc, run},
    listeners::{FullBacklog, Http1Server, SilentListener, StallingProxy},
    metrics::wait_for_scrape,
    mk_hep,
    mtls::MtlsServer,
};
use serde_json::{Value, json};

/// hepctl against `server` with `args` after `--server`.
fn hepctl_at(server: &str, args: &[&str]) -> Run {
    run(hepctl().arg("--server").arg(server).args(args), "")
}

// === hepctl ===

#[test]
fn hepctl_says_once_that_a_port_refuses_connections() {
    let refused = "cannot connect to 127.0.0.1:1: connection refused\n";
    hepctl_at("127.0.0.1:1", &["get", "hep"]).expect(1, "", refused);
    // Once, not once per name: the next names would fail the same way.
    hepctl_at("http://127.0.0.1:1", &["get", "hep", "a", "b"]).expect(1, "", refused);
}

#[test]
fn hepctl_says_an_http1_server_does_not_speak_grpc() {
    let web = Http1Server::start();
    let said = format!("{} does not speak gRPC (HTTP/1.1 answered)\n", web.addr);
    hepctl_at(&web.addr.to_string(), &["get", "hep"]).expect(1, "", &said);
    let create = run(
        hepctl().args(["--server", &web.addr.to_string(), "create", "-f", "-"]),
        &mk_doc("a", "n1"),
    );
    let failed = format!(
        "failed to create 'HostEndpoint' resource: [{}]\n",
        said.trim_end()
    );
    create.expect(1, "", &failed);
}

#[test]
fn hepctl_gives_up_on_a_listener_that_never_answers_at_the_request_timeout() {
    let silent = SilentListener::start();
    let started = Instant::now();
    let flag = hepctl_at(
        &silent.addr.to_string(),
        &["get", "hep", "--request-timeout", "1s"],
    );
    let said = format!(
        "no answer from {} within 1s (request timeout)\n",
        silent.addr
    );
    flag.expect(1, "", &said);
    let from_env = run(
        hepctl().env("HEPCTL_REQUEST_TIMEOUT", "1s").args([
            "get",
            "hep",
            "x",
            "--server",
            &silent.addr.to_string(),
        ]),
        "",
    );
    from_env.expect(1, "", &said);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "two runs of 1s took {:?}",
        started.elapsed()
    );
}

#[test]
fn hepctl_gives_up_on_a_connect_that_hangs_at_the_dial_timeout() {
    let full = FullBacklog::start();
    let said = format!(
        "timed out after 1s connecting to {} (dial timeout)\n",
        full.addr
    );
    hepctl_at(
        &full.addr.to_string(),
        &["get", "hep", "--dial-timeout", "1s"],
    )
    .expect(1, "", &said);
    let from_env = run(
        hepctl().env("HEPCTL_DIAL_TIMEOUT", "1s").args([
            "get",
            "hep",
            "--server",
            &full.addr.to_string(),
        ]),
        "",
    );
    from_env.expect(1, "", &said);
}

#[test]
fn hepctl_refuses_addresses_and_timeouts_that_cannot_work() {
    for (server, said) in [
        (
            "not an address",
            "invalid server address 'not an address': invalid uri character\n",
        ),
        ("http://", "invalid server address 'http://': no host\n"),
        (
            "127.0.0.1:70000",
            "invalid server address '127.0.0.1:70000': '70000' is not a port (1 to 65535)\n",
        ),
        (
            "ftp://127.0.0.1:1",
            "ftp://127.0.0.1:1: unknown scheme 'ftp': use http:// or https://\n",
        ),
    ] {
        hepctl_at(server, &["get", "hep"]).expect(1, "", said);
    }
    let zero = hepctl_at("127.0.0.1:1", &["get", "hep", "--dial-timeout", "0s"]);
    assert_eq!(zero.code, 1, "{zero:?}");
    assert!(
        zero.stderr.starts_with(
            "error: invalid value '0s' for '--dial-timeout <DURATION>': must be more than 0s\n"
        ),
        "{zero:?}"
    );
}

#[test]
fn hepctl_in_plaintext_is_told_that_a_tls_server_expects_tls() {
    let mtls = MtlsServer::start();
    let addr = mtls.server.addr;
    let said = format!("{addr} expects TLS: use https://{addr}\n");
    hepctl_at(&format!("http://{addr}"), &["get", "hep"]).expect(1, "", &said);
}

#[test]
fn a_request_timeout_does_not_end_a_watch() {
    let server = ServerProcess::start();
    let mut watch = hepctl()
        .args([
            "watch",
            "hep",
            "-o",
            "json",
            "--request-timeout",
            "1s",
            "--server",
        ])
        .arg(server.endpoint())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("hepctl watch starts");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let metrics = server.metrics_addr.expect("the harness serves metrics");
        wait_for_scrape(metrics, "the watch is open", |scrape| {
            scrape.get("hostendpointd_watchers", &[("filter", "all")]) == 1.0
        })
        .await;
        // From then on, the watch stays quiet for longer than its 1 s request timeout.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let mut client = server.client().await;
        create(&mut client, mk_hep("late", "n1")).await;
    });
    let stdout = watch.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let documents = serde_json::Deserializer::from_reader(stdout).into_iter::<Value>();
        for document in documents.map_while(Result::ok) {
            let _ = tx.send(document);
        }
    });
    let event = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the watch is still open and prints the create");
    assert_eq!(event["type"], "ADDED");
    assert_eq!(event["object"]["metadata"]["name"], "late");
    watch.kill().expect("the watch can be stopped");
    let output = watch.wait_with_output().expect("the watch is reaped");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "",
        "no error was printed"
    );
}

// === hep-agent ===

/// A JSON-logging agent for node n1 against `server`, writing under `dir`.
fn json_agent(server: &str, dir: &tempfile::TempDir, extra: &[&str]) -> AgentProcess {
    let mut args = vec!["--log-format", "json"];
    args.extend(extra);
    AgentProcess::start_with("n1", server, &dir.path().join("state.json"), &args)
}

/// Waits for the agent's warning that it could not open the watch, saying `error`, twice
/// (it keeps retrying), and checks that it still runs.
async fn assert_retries_saying(agent: &mut AgentProcess, error: &str) {
    let warning = [
        ("message", json!("cannot open the watch; retrying")),
        ("error", json!(error)),
    ];
    let first = agent.wait_for_json_line(&warning).await;
    assert_eq!(first["level"], "WARN", "{first}");
    assert_eq!(first["target"], "hostendpoint_client::watcher", "{first}");
    hostendpoint_tests::wait_for(
        "a second attempt",
        hostendpoint_tests::agent::CONVERGE_TIMEOUT,
        || {
            let count = agent
                .json_log()
                .iter()
                .filter(|l| l["fields"]["error"] == json!(error))
                .count();
            async move { (count >= 2).then_some(()) }
        },
    )
    .await;
    assert!(agent.is_running(), "a daemon keeps retrying");
}

#[tokio::test]
async fn hep_agent_warns_that_a_port_refuses_connections_and_retries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut agent = json_agent("127.0.0.1:1", &dir, &[]);
    assert_retries_saying(
        &mut agent,
        "cannot connect to 127.0.0.1:1: connection refused",
    )
    .await;
}

#[tokio::test]
async fn hep_agent_warns_that_an_http1_server_does_not_speak_grpc() {
    let web = Http1Server::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut agent = json_agent(&web.addr.to_string(), &dir, &[]);
    let said = format!("{} does not speak gRPC (HTTP/1.1 answered)", web.addr);
    assert_retries_saying(&mut agent, &said).await;
}

#[tokio::test]
async fn hep_agent_warns_about_a_listener_that_never_answers_at_its_request_timeout() {
    let silent = SilentListener::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut agent = json_agent(&silent.addr.to_string(), &dir, &["--request-timeout", "1s"]);
    let said = format!("no answer from {} within 1s (request timeout)", silent.addr);
    assert_retries_saying(&mut agent, &said).await;
}

#[tokio::test]
async fn hep_agent_finds_a_stalled_connection_by_keepalive_and_resumes() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    create(&mut client, mk_hep("a", "n1")).await;
    let proxy = StallingProxy::start(server.addr).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = json_agent(
        &proxy.addr.to_string(),
        &dir,
        &["--keepalive-interval", "1s", "--keepalive-timeout", "1s"],
    );
    agent
        .wait_for_json_line(&[("message", json!("in sync"))])
        .await;

    proxy.stall();
    let lost = format!(
        "lost the connection to {}: no answer to keepalive pings within 1s (keepalive timeout)",
        proxy.addr
    );
    agent
        .wait_for_json_line(&[
            ("message", json!("watch interrupted; retrying")),
            ("error", json!(lost)),
        ])
        .await;
    let restored = agent
        .wait_for_json_line(&[(
            "message",
            json!("connection to the server restored; watch resumed"),
        )])
        .await;
    assert_eq!(restored["fields"]["failed_attempts"], 1, "{restored}");
    create(&mut client, mk_hep("b", "n1")).await;
    agent
        .wait_for_state(|s| s["hostEndpoints"].as_array().is_some_and(|h| h.len() == 2))
        .await;
}

/// Runs `hep-agent --node n1 <args>` to its exit; asserts exit code 2 and that stderr is one
/// log line saying `said`.
async fn assert_refused_at_start_up(args: &[&str], said: &str) {
    let mut all = vec!["--node", "n1"];
    all.extend(args);
    let (code, stderr) = run_to_exit(&all).await;
    let lines: Vec<&str> = stderr.lines().map(without_timestamp).collect();
    assert_eq!(
        (code, lines),
        (2, vec![format!("ERROR hep_agent: {said}").as_str()]),
        "{args:?}"
    );
}

#[tokio::test]
async fn hep_agent_refuses_what_can_never_work_at_start_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    let state = state.to_str().expect("a UTF-8 path");
    for (server, said) in [
        (
            "grpc://127.0.0.1:1",
            "grpc://127.0.0.1:1: unknown scheme 'grpc': use http:// or https://",
        ),
        (
            "not an address",
            "invalid server address 'not an address': invalid uri character",
        ),
    ] {
        assert_refused_at_start_up(&["--server", server, "--state-file", state], said).await;
    }
    let https = ["--server", "https://127.0.0.1:1", "--state-file", state];
    let missing = ["--ca-cert-file", "/nonexistent/ca.pem"];
    assert_refused_at_start_up(
        &[&https[..], &missing[..]].concat(),
        "cannot read /nonexistent/ca.pem: no such file or directory",
    )
    .await;
    let garbage = dir.path().join("ca.pem");
    std::fs::write(&garbage, "not a certificate\n").expect("written");
    let garbage = garbage.to_str().expect("a UTF-8 path");
    assert_refused_at_start_up(
        &[&https[..], &["--ca-cert-file", garbage][..]].concat(),
        &format!("{garbage} holds no PEM certificate"),
    )
    .await;
}

#[tokio::test]
async fn hep_agent_checks_that_the_state_directory_is_writable_before_connecting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing");
    let missing_state = missing.join("state.json");
    assert_refused_at_start_up(
        &[
            "--server",
            "127.0.0.1:1",
            "--state-file",
            &missing_state.display().to_string(),
        ],
        &format!(
            "the state file's directory {} is not writable: no such file or directory",
            missing.display()
        ),
    )
    .await;
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").expect("written");
    assert_refused_at_start_up(
        &[
            "--server",
            "127.0.0.1:1",
            "--state-file",
            &file.join("state.json").display().to_string(),
        ],
        &format!(
            "the state file's directory {} is not writable: not a directory",
            file.display()
        ),
    )
    .await;
}
