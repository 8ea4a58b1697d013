//! Every role against every RPC: admins do everything, readers read, a node reads only its
//! own host endpoints (and IP sets), anyone else is refused; health answers everyone.

use hostendpoint_api::pb;
use hostendpoint_tests::{ApiClient, create, delete, get, mk_hep, names, update, watching};
use tonic::Code;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use hostendpoint_tests::mtls::MtlsServer;

use super::stranger;

/// The outcome of every RPC for one caller, as `rpc: CODE` lines; objects are named `a1`
/// (node-a), `b1` (node-b), and `new-<who>`.
async fn outcomes(client: &mut ApiClient, who: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = |rpc: &str, result: Result<String, tonic::Status>| {
        lines.push(match result {
            Ok(detail) => format!("{rpc}: OK {detail}"),
            Err(status) => format!("{rpc}: {:?}", status.code()),
        });
    };
    let created = client
        .create_host_endpoint(pb::CreateHostEndpointRequest {
            host_endpoint: Some(mk_hep(&format!("new-{who}"), "node-a")),
        })
        .await;
    line("Create", created.map(|_| String::new()));
    let mut relabelled = mk_hep("b1", "node-b");
    relabelled
        .metadata
        .as_mut()
        .map(|m| m.labels.insert("by".into(), who.into()));
    line(
        "Update b1",
        update(client, relabelled, false)
            .await
            .map(|_| String::new()),
    );
    line("Get a1", get(client, "a1").await.map(|_| String::new()));
    line("Get b1", get(client, "b1").await.map(|_| String::new()));
    line(
        "Get missing",
        get(client, "missing").await.map(|_| String::new()),
    );
    line("List", list(client, "").await);
    line("List node-b", list(client, "node-b").await);
    line("Watch", watch(client, "").await);
    line("Watch node-b", watch(client, "node-b").await);
    let members = client
        .list_ip_set_members(pb::ListIpSetMembersRequest {
            selector: "all()".into(),
            ..Default::default()
        })
        .await;
    line(
        "ListIpSetMembers",
        members.map(|r| r.into_inner().members.join(",")),
    );
    line(
        "Delete a1-doomed",
        delete(client, "a1-doomed", 0, "")
            .await
            .map(|_| String::new()),
    );
    lines
}

async fn list(client: &mut ApiClient, node: &str) -> Result<String, tonic::Status> {
    let response = client
        .list_host_endpoints(pb::ListHostEndpointsRequest {
            node: node.into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    Ok(names(&response.host_endpoints).join(","))
}

async fn watch(client: &mut ApiClient, node: &str) -> Result<String, tonic::Status> {
    let mut watch = watching::watch(client, node, 0).await?;
    let (objects, _) = watch.expect_snapshot().await;
    Ok(names(&objects).join(","))
}

#[tokio::test]
async fn every_role_against_every_rpc() {
    let secured = MtlsServer::start();
    let mut admin = secured.client(&secured.admin).await;
    for (name, node) in [("a1", "node-a"), ("a1-doomed", "node-a"), ("b1", "node-b")] {
        create(&mut admin, mk_hep(name, node)).await;
    }
    let mut reader = secured.client(&secured.reader()).await;
    let mut node_a = secured.client(&secured.node("node-a")).await;
    let mut outsider = secured.client(&stranger(&secured)).await;

    // Before the admin's own row, so that every caller sees the same three objects.
    assert_eq!(
        outcomes(&mut reader, "reader").await,
        [
            "Create: PermissionDenied",
            "Update b1: PermissionDenied",
            "Get a1: OK ",
            "Get b1: OK ",
            "Get missing: NotFound",
            "List: OK a1,a1-doomed,b1",
            "List node-b: OK b1",
            "Watch: OK a1,a1-doomed,b1",
            "Watch node-b: OK b1",
            "ListIpSetMembers: OK ",
            "Delete a1-doomed: PermissionDenied",
        ]
    );
    assert_eq!(
        outcomes(&mut node_a, "node-a").await,
        [
            "Create: PermissionDenied",
            "Update b1: PermissionDenied",
            "Get a1: OK ",
            "Get b1: PermissionDenied",
            // The same answer as for b1: a node cannot learn what exists elsewhere.
            "Get missing: PermissionDenied",
            "List: OK a1,a1-doomed",
            "List node-b: PermissionDenied",
            "Watch: OK a1,a1-doomed",
            "Watch node-b: PermissionDenied",
            "ListIpSetMembers: OK ",
            "Delete a1-doomed: PermissionDenied",
        ]
    );
    let denied: Vec<String> = [
        "Create",
        "Update b1",
        "Get a1",
        "Get b1",
        "Get missing",
        "List",
        "List node-b",
        "Watch",
        "Watch node-b",
        "ListIpSetMembers",
        "Delete a1-doomed",
    ]
    .iter()
    .map(|rpc| format!("{rpc}: PermissionDenied"))
    .collect();
    assert_eq!(outcomes(&mut outsider, "stranger").await, denied);
    assert_eq!(
        outcomes(&mut admin, "admin").await,
        [
            "Create: OK ",
            "Update b1: OK ",
            "Get a1: OK ",
            "Get b1: OK ",
            "Get missing: NotFound",
            "List: OK a1,a1-doomed,b1,new-admin",
            "List node-b: OK b1",
            "Watch: OK a1,a1-doomed,b1,new-admin",
            "Watch node-b: OK b1",
            "ListIpSetMembers: OK ",
            "Delete a1-doomed: OK ",
        ]
    );

    // Nothing the refused callers tried changed anything.
    let b1 = get(&mut admin, "b1").await.expect("b1 exists");
    let labels = &b1.metadata.as_ref().expect("metadata").labels;
    assert_eq!(labels.get("by").map(String::as_str), Some("admin"));

    let certs = [
        secured.admin.clone(),
        secured.reader(),
        secured.node("node-a"),
        stranger(&secured),
    ];
    for cert in &certs {
        let channel = secured
            .server
            .tls_channel(&secured.pki.ca_file(), Some(cert))
            .await
            .expect("an authenticated client connects");
        let status = HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await
            .expect("health answers every authenticated client")
            .into_inner()
            .status;
        assert_eq!(status, 1, "SERVING");
    }
}

#[tokio::test]
async fn denials_name_the_identity_and_the_reason() {
    let secured = MtlsServer::start();
    let mut admin = secured.client(&secured.admin).await;
    create(&mut admin, mk_hep("b1", "node-b")).await;
    let mut node_a = secured.client(&secured.node("node-a")).await;
    let status = get(&mut node_a, "b1")
        .await
        .expect_err("another node's endpoint");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(
        status.message(),
        "CN:system:node:node-a is the identity of node 'node-a': it may read only host \
         endpoints whose spec.node is 'node-a'"
    );
    let status = delete(&mut node_a, "b1", 0, "")
        .await
        .expect_err("a node's write");
    assert_eq!(
        status.message(),
        "CN:system:node:node-a is the identity of node 'node-a': writes need the admin role"
    );
    let mut outsider = secured.client(&stranger(&secured)).await;
    let status = get(&mut outsider, "b1").await.expect_err("no role");
    assert_eq!(
        status.message(),
        "CN:someone-else has no role in the authorization policy"
    );
}

#[tokio::test]
async fn a_node_watch_sees_an_endpoint_leave_and_join_its_node() {
    let secured = MtlsServer::start();
    let mut admin = secured.client(&secured.admin).await;
    create(&mut admin, mk_hep("moving", "node-a")).await;
    let mut node_a = secured.client(&secured.node("node-a")).await;
    let mut watch = watching::watch(&mut node_a, "", 0).await.expect("own node");
    let (snapshot, _) = watch.expect_snapshot().await;
    assert_eq!(names(&snapshot), ["moving"]);
    let moved = update(&mut admin, mk_hep("moving", "node-b"), false)
        .await
        .expect("admin moves it");
    let event = watch.expect_non_bookmark().await;
    assert_eq!(watching::kind(&event), pb::EventType::Deleted);
    assert_eq!(
        event.resource_version,
        moved.metadata.as_ref().expect("metadata").resource_version
    );
    update(&mut admin, mk_hep("moving", "node-a"), false)
        .await
        .expect("admin moves it back");
    let event = watch.expect_non_bookmark().await;
    assert_eq!(watching::kind(&event), pb::EventType::Added);
}
