//! Calico label selectors in List and Watch, and the IP sets they resolve to
//! (ListIpSetMembers), through a real server.

use hostendpoint_api::pb::{self, EventType};
use hostendpoint_tests::{watching::*, *};
use tonic::Code;

fn mk_labelled(name: &str, node: &str, labels: &[(&str, &str)]) -> pb::HostEndpoint {
    let mut hep = mk_hep(name, node);
    meta_mut(&mut hep).labels = labels
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    hep
}

async fn list_selected(
    client: &mut ApiClient,
    node: &str,
    selector: &str,
) -> Result<Vec<String>, tonic::Status> {
    let response = client
        .list_host_endpoints(pb::ListHostEndpointsRequest {
            node: node.into(),
            selector: selector.into(),
            ..Default::default()
        })
        .await?;
    Ok(names(&response.into_inner().host_endpoints)
        .into_iter()
        .map(str::to_owned)
        .collect())
}

async fn ip_set(
    client: &mut ApiClient,
    selector: &str,
    port_name: &str,
    protocol: &str,
) -> Vec<String> {
    client
        .list_ip_set_members(pb::ListIpSetMembersRequest {
            selector: selector.into(),
            port_name: port_name.into(),
            protocol: protocol.into(),
        })
        .await
        .expect("ListIpSetMembers succeeds")
        .into_inner()
        .members
}

#[tokio::test]
async fn list_filters_by_selector_and_node() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    create(
        &mut client,
        mk_labelled("db-1", "n1", &[("role", "db"), ("tier", "gold")]),
    )
    .await;
    create(&mut client, mk_labelled("db-2", "n2", &[("role", "db")])).await;
    create(&mut client, mk_labelled("web-1", "n1", &[("role", "web")])).await;
    create(&mut client, mk_labelled("bare", "n1", &[])).await;

    let cases: &[(&str, &str, &[&str])] = &[
        ("", "", &["bare", "db-1", "db-2", "web-1"]),
        ("", "role == 'db'", &["db-1", "db-2"]),
        ("n1", "role == 'db'", &["db-1"]),
        ("", "role != 'db'", &["bare", "web-1"]),
        ("", "has(tier)", &["db-1"]),
        (
            "",
            "role in {'web', 'db'} && !has(tier)",
            &["db-2", "web-1"],
        ),
        ("", "role not in {'db'}", &["bare", "web-1"]),
        ("", "role starts with 'w'", &["web-1"]),
        ("", "all()", &["bare", "db-1", "db-2", "web-1"]),
        ("", "!all()", &[]),
    ];
    for (node, selector, expected) in cases {
        let listed = list_selected(&mut client, node, selector)
            .await
            .expect("a valid selector");
        assert_eq!(listed, *expected, "node {node:?} selector {selector:?}");
    }

    let status = list_selected(&mut client, "", "role == ")
        .await
        .expect_err("bad selector");
    assert_eq!(status.code(), Code::InvalidArgument);
    let violations = field_violations(&status);
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].0, "selector");
    assert!(violations[0].1.contains("position 8"), "{violations:?}");
}

#[tokio::test]
async fn selector_pages_keep_their_filter() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    for i in 0..6 {
        let role = if i % 2 == 0 { "db" } else { "web" };
        create(
            &mut client,
            mk_labelled(&format!("hep-{i}"), "n1", &[("role", role)]),
        )
        .await;
    }
    let request = |token: &str, selector: &str| pb::ListHostEndpointsRequest {
        page_size: 2,
        page_token: token.into(),
        selector: selector.into(),
        ..Default::default()
    };
    let first = client
        .list_host_endpoints(request("", "role == 'db'"))
        .await
        .expect("page")
        .into_inner();
    assert_eq!(names(&first.host_endpoints), ["hep-0", "hep-2"]);
    let second = client
        .list_host_endpoints(request(&first.next_page_token, "role == 'db'"))
        .await
        .expect("page")
        .into_inner();
    assert_eq!(names(&second.host_endpoints), ["hep-4"]);
    let changed = client
        .list_host_endpoints(request(&first.next_page_token, "role == 'web'"))
        .await;
    assert_invalid(changed, &["selector"]);
}

#[tokio::test]
async fn a_selector_watch_sees_objects_enter_and_leave_by_their_labels() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    create(&mut client, mk_labelled("a", "n1", &[("role", "db")])).await; // 1
    let request = pb::WatchHostEndpointsRequest {
        selector: "role == 'db'".into(),
        ..Default::default()
    };
    let mut watch = watch_with(&mut client, request).await.expect("watch");
    let (added, synced) = watch.expect_snapshot().await;
    assert_eq!((names(&added), synced), (vec!["a"], rev(1)));

    update(
        &mut client,
        mk_labelled("a", "n1", &[("role", "web")]),
        false,
    )
    .await
    .expect("relabel"); // 2
    create(&mut client, mk_labelled("b", "n2", &[("role", "db")])).await; // 3
    update(
        &mut client,
        mk_labelled("a", "n1", &[("role", "db"), ("x", "y")]),
        false,
    )
    .await
    .expect("back"); // 4
    let events = watch.object_events_until(rev(4)).await;
    let seen: Vec<_> = events
        .iter()
        .map(|e| {
            (
                kind(e),
                meta(e.host_endpoint.as_ref().expect("object")).name.clone(),
                e.resource_version,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (EventType::Deleted, "a".to_owned(), rev(2)),
            (EventType::Added, "b".to_owned(), rev(3)),
            (EventType::Added, "a".to_owned(), rev(4)),
        ]
    );
    let left = events[0].host_endpoint.as_ref().expect("object");
    assert_eq!(
        meta(left).labels.get("role").map(String::as_str),
        Some("db"),
        "the last state that matched"
    );

    let bad = pb::WatchHostEndpointsRequest {
        selector: "has (x)".into(),
        ..Default::default()
    };
    let status = watch_with(&mut client, bad)
        .await
        .expect_err("bad selector");
    assert_eq!(status.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn ip_sets_follow_felix_for_addresses_and_named_ports() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    // The spec's fixtures: four IPs matched by b == 'b', and named ports.
    let mut hep = mk_labelled("fixture", "n1", &[("b", "b")]);
    spec_mut(&mut hep).expected_ips = ["10.0.0.1", "10.0.0.2", "fc00:fe11::1", "fc00:fe11::2"]
        .map(String::from)
        .to_vec();
    spec_mut(&mut hep).ports = vec![
        mk_port("tcpport", "TCP", 8080),
        mk_port("tcpport2", "TCP", 1234),
        mk_port("udpport", "UDP", 9091),
        mk_port("tcpport", "17", 8081),
    ];
    create(&mut client, hep).await;
    // Interface-only: contributes nothing. A shared IP appears once.
    create(&mut client, mk_labelled("iface-only", "n1", &[("b", "b")])).await;
    let mut shared = mk_labelled("shared", "n2", &[("b", "b")]);
    spec_mut(&mut shared).expected_ips = vec!["10.0.0.1".into(), "::ffff:10.9.9.9".into()];
    create(&mut client, shared).await;

    assert_eq!(
        ip_set(&mut client, "b == 'b'", "", "").await,
        [
            "10.0.0.1/32",
            "10.0.0.2/32",
            "10.9.9.9/32",
            "fc00:fe11::1/128",
            "fc00:fe11::2/128"
        ]
    );
    assert_eq!(
        ip_set(&mut client, "b == 'b' && !has(c)", "tcpport", "TCP").await,
        [
            "10.0.0.1,tcp:8080",
            "10.0.0.2,tcp:8080",
            "fc00:fe11::1,tcp:8080",
            "fc00:fe11::2,tcp:8080"
        ]
    );
    // No protocol matches a port name of any protocol; numbers match by number.
    let any = ip_set(&mut client, "b == 'b'", "tcpport", "").await;
    assert_eq!(any.len(), 8, "{any:?}");
    assert!(any.contains(&"10.0.0.1,udp:8081".to_owned()));
    assert_eq!(
        ip_set(&mut client, "b == 'b'", "tcpport", "17").await.len(),
        4
    );
    assert!(ip_set(&mut client, "b == 'nope'", "", "").await.is_empty());

    let bad = client
        .list_ip_set_members(pb::ListIpSetMembersRequest {
            port_name: "tcpport".into(),
            protocol: "ICMP".into(),
            ..Default::default()
        })
        .await;
    assert_invalid(bad, &["protocol"]);
}
