//! The audit log (one JSON line per write and per denied call, reopened on SIGHUP) and the
//! limit on open watches per identity.

use std::path::Path;

use hostendpoint_api::pb;
use hostendpoint_tests::{create, delete, get, mk_hep, update, watching};
use serde_json::Value;
use tonic::Code;

use hostendpoint_tests::mtls::{MtlsServer, path_str};

use hostendpoint_tests::wait_for;

use super::RELOAD_DEADLINE;

/// The audit log's lines once it holds `count` (its writer runs behind the calls).
async fn audit_lines_when(path: &Path, count: usize) -> Vec<Value> {
    wait_for("the audit lines are written", RELOAD_DEADLINE, || async {
        let lines = audit_lines(path);
        (lines.len() >= count).then_some(lines)
    })
    .await
}

fn audit_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each audit line is JSON"))
        .collect()
}

/// The fields a test can predict: everything but the time and the peer's port.
fn summary(line: &Value) -> String {
    let field = |key: &str| line.get(key).map_or("-".to_owned(), |v| v.to_string());
    format!(
        "{} {} {} {} {} {} {}",
        field("rpc"),
        field("identity"),
        field("name"),
        field("node"),
        field("resourceVersionBefore"),
        field("resourceVersionAfter"),
        field("code"),
    )
}

#[tokio::test]
async fn writes_and_denials_are_audited_and_sighup_reopens_the_file() {
    let dir = tempfile::tempdir().expect("a directory");
    let audit = dir.path().join("audit.log");
    let secured = MtlsServer::start_with(&["--audit-log", path_str(&audit)]);
    let mut admin = secured.client(&secured.admin).await;
    let mut node_a = secured.client(&secured.node("node-a")).await;

    let created = create(&mut admin, mk_hep("web", "node-a")).await;
    let rv = created
        .metadata
        .as_ref()
        .expect("metadata")
        .resource_version;
    let mut changed = mk_hep("web", "node-b");
    changed
        .metadata
        .as_mut()
        .map(|m| m.labels.insert("tier".into(), "gold".into()));
    update(&mut admin, changed.clone(), false)
        .await
        .expect("update");
    // A write that changes nothing is audited with the version it left in place.
    update(&mut admin, changed, false)
        .await
        .expect("no-op update");
    get(&mut admin, "web").await.expect("reads are not audited");
    get(&mut node_a, "web")
        .await
        .expect_err("denied: web is on node-b now");
    let exists = admin
        .create_host_endpoint(pb::CreateHostEndpointRequest {
            host_endpoint: Some(mk_hep("web", "node-a")),
        })
        .await
        .expect_err("web exists");
    assert_eq!(exists.code(), Code::AlreadyExists);
    delete(&mut node_a, "web", 0, "")
        .await
        .expect_err("denied: nodes do not write");
    delete(&mut admin, "web", rv + 1, "").await.expect("delete");

    let lines = audit_lines_when(&audit, 7).await;
    let summaries: Vec<String> = lines.iter().map(summary).collect();
    let (r1, r2, r3) = (rv, rv + 1, rv + 2);
    assert_eq!(
        summaries,
        [
            format!(r#""CreateHostEndpoint" "CN:calico-admin" "web" "node-a" - {r1} "OK""#),
            format!(r#""UpdateHostEndpoint" "CN:calico-admin" "web" "node-b" {r1} {r2} "OK""#),
            format!(r#""UpdateHostEndpoint" "CN:calico-admin" "web" "node-b" {r2} {r2} "OK""#),
            r#""GetHostEndpoint" "CN:system:node:node-a" "web" - - - "PERMISSION_DENIED""#
                .to_owned(),
            format!(
                r#""CreateHostEndpoint" "CN:calico-admin" "web" "node-b" {r2} - "ALREADY_EXISTS""#
            ),
            r#""DeleteHostEndpoint" "CN:system:node:node-a" "web" - - - "PERMISSION_DENIED""#
                .to_owned(),
            format!(r#""DeleteHostEndpoint" "CN:calico-admin" "web" "node-b" {r2} {r3} "OK""#),
        ]
    );
    for line in &lines {
        let peer = line["peer"].as_str().expect("every line names the peer");
        assert!(peer.starts_with("127.0.0.1:"), "{peer}");
        let time = line["time"].as_str().expect("every line has a time");
        humantime::parse_rfc3339(time).expect("RFC 3339");
    }

    // logrotate: move the file away, then SIGHUP.
    let rotated = dir.path().join("audit.log.1");
    std::fs::rename(&audit, &rotated).expect("rotated");
    secured.server.send_signal(libc::SIGHUP);
    wait_for("the audit log is reopened", RELOAD_DEADLINE, || async {
        secured
            .server
            .log_text()
            .contains("audit log reopened")
            .then_some(())
    })
    .await;
    create(&mut admin, mk_hep("after-rotation", "node-a")).await;
    let fresh = audit_lines_when(&audit, 1).await;
    assert_eq!(
        audit_lines(&rotated).len(),
        7,
        "the rotated file is left alone"
    );
    assert_eq!(fresh.len(), 1);
    assert_eq!(fresh[0]["name"], "after-rotation");
}

#[tokio::test]
async fn each_identity_has_a_bounded_number_of_watches() {
    let secured = MtlsServer::start_with(&["--max-watches-per-identity", "2"]);
    let mut node_a = secured.client(&secured.node("node-a")).await;
    let first = watching::watch(&mut node_a, "", 0).await.expect("first");
    let _second = watching::watch(&mut node_a, "", 0).await.expect("second");
    let status = watching::watch(&mut node_a, "", 0)
        .await
        .expect_err("a third watch of the same identity");
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(
        status.message(),
        "CN:system:node:node-a already has 2 open watches, the most one identity may have \
         (--max-watches-per-identity)"
    );
    // Other identities are counted on their own.
    let mut admin = secured.client(&secured.admin).await;
    let _admins = watching::watch(&mut admin, "", 0)
        .await
        .expect("the admin's watch");

    drop(first);
    wait_for("a closed watch frees its slot", RELOAD_DEADLINE, || {
        let mut node_a = node_a.clone();
        async move { watching::watch(&mut node_a, "", 0).await.ok() }
    })
    .await;
}
