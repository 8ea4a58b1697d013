//! Every RPC of the service core: create, get, list, update, delete; conflicts and
//! preconditions; no-op writes; pagination at one revision; restarts.

use hostendpoint_api::pb;
use hostendpoint_tests::*;
use tonic::Code;

#[tokio::test]
async fn create_sets_server_metadata_and_get_returns_it() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    let mut input = mk_sample();
    meta_mut(&mut input).uid = "user-chosen".into();
    let created = create(&mut client, input).await;
    let m = meta(&created);
    assert_eq!(m.resource_version, rev(1));
    assert_ne!(m.uid, "user-chosen", "uid is never taken from the input");
    assert_eq!(
        uuid_version(&m.uid),
        Some('4'),
        "uid {} is a v4 UUID",
        m.uid
    );
    let ts = m.creation_timestamp.expect("creation timestamp set");
    assert_eq!(ts.nanos, 0, "whole seconds, as Calico prints them");
    assert_eq!(spec(&created), spec(&mk_sample()));

    assert_eq!(get(&mut client, "endpoint1").await.expect("found"), created);
    assert_code(get(&mut client, "nope").await, Code::NotFound);
}

fn uuid_version(uid: &str) -> Option<char> {
    let parts: Vec<_> = uid.split('-').collect();
    (parts.len() == 5 && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12]))
        .then(|| parts[2].chars().next())
        .flatten()
}

#[tokio::test]
async fn create_rejects_existing_names_and_input_resource_versions() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    create(&mut client, mk_hep("a", "n1")).await;
    let again = client
        .create_host_endpoint(pb::CreateHostEndpointRequest {
            host_endpoint: Some(mk_hep("a", "n1")),
        })
        .await;
    let status = assert_code(again, Code::AlreadyExists);
    assert!(status.message().contains("HostEndpoint(a)"), "{status:?}");

    let mut with_rv = mk_hep("b", "n1");
    meta_mut(&mut with_rv).resource_version = 5;
    let result = client
        .create_host_endpoint(pb::CreateHostEndpointRequest {
            host_endpoint: Some(with_rv),
        })
        .await;
    assert_invalid(result, &["metadata.resourceVersion"]);
    assert_code(get(&mut client, "b").await, Code::NotFound);
    let missing = client
        .create_host_endpoint(pb::CreateHostEndpointRequest {
            host_endpoint: None,
        })
        .await;
    assert_invalid(missing, &["host_endpoint"]);
}

#[tokio::test]
async fn update_replaces_content_and_keeps_server_metadata() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    let created = create(&mut client, mk_sample()).await;

    let mut edit = mk_sample();
    meta_mut(&mut edit)
        .labels
        .insert("tier".into(), "gold".into());
    spec_mut(&mut edit).interface_name = "eth1".into();
    meta_mut(&mut edit).creation_timestamp = Some(prost_types::Timestamp {
        seconds: 1,
        nanos: 0,
    });
    let updated = update(&mut client, edit, false)
        .await
        .expect("update succeeds");
    assert_eq!(meta(&updated).resource_version, rev(2));
    assert_eq!(meta(&updated).uid, meta(&created).uid);
    assert_eq!(
        meta(&updated).creation_timestamp,
        meta(&created).creation_timestamp
    );
    assert_eq!(
        meta(&updated).labels.get("tier").map(String::as_str),
        Some("gold")
    );
    assert_eq!(spec(&updated).interface_name, "eth1");
    assert_eq!(get(&mut client, "endpoint1").await.expect("found"), updated);
}

#[tokio::test]
async fn stale_resource_version_conflicts_naming_both_versions() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    let created = create(&mut client, mk_sample()).await;
    let mut first = created.clone();
    spec_mut(&mut first).interface_name = "eth1".into();
    let first = update(&mut client, first, false)
        .await
        .expect("current version applies");
    assert_eq!(meta(&first).resource_version, rev(2));

    let mut stale = created.clone();
    spec_mut(&mut stale).interface_name = "eth2".into();
    let status = assert_code(update(&mut client, stale, false).await, Code::Aborted);
    let (expected, latest) = (format!("'{}'", rev(1)), format!("latest: {}", rev(2)));
    assert!(status.message().contains(&expected), "{}", status.message());
    assert!(status.message().contains(&latest), "{}", status.message());
    assert_eq!(get(&mut client, "endpoint1").await.expect("found"), first);

    let mut wrong_uid = first.clone();
    meta_mut(&mut wrong_uid).uid = "00000000-0000-4000-8000-000000000000".into();
    spec_mut(&mut wrong_uid).interface_name = "eth3".into();
    assert_code(update(&mut client, wrong_uid, false).await, Code::Aborted);
}

#[tokio::test]
async fn update_of_missing_is_not_found_unless_allow_missing() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    assert_code(
        update(&mut client, mk_hep("a", "n1"), false).await,
        Code::NotFound,
    );
    let created = update(&mut client, mk_hep("a", "n1"), true)
        .await
        .expect("allow_missing creates");
    assert_eq!(meta(&created).resource_version, rev(1));
    assert!(!meta(&created).uid.is_empty());
}

#[tokio::test]
async fn writes_that_change_nothing_make_no_revision() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    let created = create(&mut client, mk_sample()).await;
    let same = update(&mut client, mk_sample(), false)
        .await
        .expect("no-op update");
    assert_eq!(same, created);
    let listing = list(&mut client, "", 0, "").await;
    assert_eq!(listing.resource_version, rev(1));
}

#[tokio::test]
async fn delete_checks_preconditions_and_returns_the_last_state() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    let created = create(&mut client, mk_sample()).await;
    let m = meta(&created).clone();
    assert_code(delete(&mut client, "endpoint1", 7, "").await, Code::Aborted);
    assert_code(
        delete(&mut client, "endpoint1", 0, "other-uid").await,
        Code::Aborted,
    );
    assert_code(delete(&mut client, "missing", 0, "").await, Code::NotFound);
    let deleted = delete(&mut client, "endpoint1", m.resource_version, &m.uid)
        .await
        .expect("matching preconditions delete");
    assert_eq!(spec(&deleted), spec(&created));
    assert_eq!(meta(&deleted).uid, m.uid);
    assert_eq!(
        meta(&deleted).resource_version,
        rev(2),
        "stamped with the delete's revision"
    );
    assert_code(get(&mut client, "endpoint1").await, Code::NotFound);
    assert_eq!(list(&mut client, "", 0, "").await.resource_version, rev(2));
}

#[tokio::test]
async fn list_is_sorted_filtered_by_node_and_paged() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    for (name, node) in [
        ("c", "n1"),
        ("a", "n2"),
        ("b", "n1"),
        ("e", "n1"),
        ("d", "n2"),
    ] {
        create(&mut client, mk_hep(name, node)).await;
    }
    let all = list(&mut client, "", 0, "").await;
    assert_eq!(names(&all.host_endpoints), ["a", "b", "c", "d", "e"]);
    assert!(all.next_page_token.is_empty());
    assert_eq!(all.resource_version, rev(5));
    assert!(!all.store_uid.is_empty());

    let n1 = list(&mut client, "n1", 0, "").await;
    assert_eq!(names(&n1.host_endpoints), ["b", "c", "e"]);

    let first = list(&mut client, "n1", 2, "").await;
    assert_eq!(names(&first.host_endpoints), ["b", "c"]);
    assert!(!first.next_page_token.is_empty());
    let second = list(&mut client, "n1", 2, &first.next_page_token).await;
    assert_eq!(names(&second.host_endpoints), ["e"]);
    assert!(second.next_page_token.is_empty());

    let other_filter = client
        .list_host_endpoints(pb::ListHostEndpointsRequest {
            node: "n2".into(),
            page_size: 2,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await;
    assert_invalid(other_filter, &["node"]);
    let garbage = client
        .list_host_endpoints(pb::ListHostEndpointsRequest {
            page_token: "not-a-token".into(),
            ..Default::default()
        })
        .await;
    assert_invalid(garbage, &["page_token"]);
}

#[tokio::test]
async fn pages_reflect_one_revision_while_writes_go_on() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    for i in 0..30 {
        create(&mut client, mk_hep(&format!("hep-{i:02}"), "n1")).await;
    }
    let mut token = String::new();
    let mut seen = Vec::new();
    let mut revisions = Vec::new();
    let mut writes = 0;
    loop {
        let page = list(&mut client, "", 7, &token).await;
        revisions.push(page.resource_version);
        seen.extend(page.host_endpoints.iter().map(|h| meta(h).clone()));
        // Between pages: delete an object not yet listed, add one, and modify a listed one.
        writes += 1;
        let _ = delete(&mut client, &format!("hep-{:02}", 30 - writes), 0, "").await;
        create(&mut client, mk_hep(&format!("hep-{writes:02}x"), "n1")).await;
        let mut changed = mk_hep("hep-00", "n2");
        meta_mut(&mut changed)
            .labels
            .insert("w".into(), writes.to_string());
        update(&mut client, changed, false).await.expect("update");
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert!(
        revisions.iter().all(|r| *r == rev(30)),
        "every page at the revision of the 30th write: {revisions:?}"
    );
    let expected: Vec<_> = (0..30).map(|i| format!("hep-{i:02}")).collect();
    let listed: Vec<_> = seen.iter().map(|m| m.name.clone()).collect();
    assert_eq!(listed, expected, "exactly the objects of that revision");
    assert!(
        seen.iter()
            .all(|m| m.resource_version <= rev(30) && m.labels.is_empty())
    );
}

#[tokio::test]
async fn restart_keeps_objects_revision_and_store_uid() {
    let mut server = ServerProcess::start();
    let mut client = server.client().await;
    create(&mut client, mk_sample()).await;
    create(&mut client, mk_hep("b", "n1")).await;
    delete(&mut client, "b", 0, "").await.expect("delete");
    let before = list(&mut client, "", 0, "").await;
    server.restart().await;
    let mut client = server.client().await;
    let after = list(&mut client, "", 0, "").await;
    assert_eq!(after, before);
    assert_eq!(after.resource_version, rev(3));
    let next = create(&mut client, mk_hep("c", "n1")).await;
    assert_eq!(
        meta(&next).resource_version,
        rev(4),
        "the revision continues after a restart"
    );
}

#[tokio::test]
async fn sigterm_exits_cleanly() {
    let mut server = ServerProcess::start();
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status}");
}
