//! The Rust client library against a real server: typed calls and errors, the paged list
//! stream, and the watcher and reflector across restarts, a replaced store and backoff.

use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use hostendpoint_api::{model, validation};
use hostendpoint_client::{
    BackoffConfig, Client, Error, ListParams, Preconditions, reflector,
    watcher::{self, Event},
};
use hostendpoint_tests::{watching::EVENT_TIMEOUT, *};

fn mk_model(name: &str, node: &str) -> model::HostEndpoint {
    validation::host_endpoint(mk_hep(name, node)).expect("the fixture is valid")
}

/// Backoff short enough for tests.
fn quick_backoff() -> BackoffConfig {
    BackoffConfig {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
        reset_after: Duration::from_secs(5),
    }
}

async fn next<S: futures::Stream<Item = hostendpoint_client::Result<Event>> + Unpin>(
    events: &mut S,
) -> Event {
    tokio::time::timeout(EVENT_TIMEOUT, events.next())
        .await
        .expect("an event in time")
        .expect("the watcher never ends")
        .expect("no error")
}

#[tokio::test]
async fn typed_calls_and_errors() {
    let server = ServerProcess::start();
    let client = Client::connect(server.endpoint()).await.expect("connects");
    let created = client.create(&mk_model("a", "n1")).await.expect("create");
    assert_eq!(created.metadata.resource_version, 1);
    assert_eq!(client.get("a").await.expect("get"), created);
    assert!(matches!(
        client.get("zz").await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        client.create(&mk_model("a", "n1")).await,
        Err(Error::AlreadyExists { .. })
    ));

    let mut stale = created.clone();
    stale.spec.interface_name = "eth1".into();
    client.update(&stale, false).await.expect("current version");
    stale.spec.interface_name = "eth2".into();
    match client.update(&stale, false).await {
        Err(Error::Conflict {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (1, 2)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let mut invalid = mk_model("b", "n1");
    invalid.spec.node = "Bad_Node".into();
    match client.create(&invalid).await {
        Err(Error::Invalid { violations, .. }) => assert_eq!(violations[0].field, "spec.node"),
        other => panic!("expected invalid, got {other:?}"),
    }
    let gone = client
        .delete(
            "a",
            Preconditions {
                resource_version: 2,
                uid: created.metadata.uid.clone(),
            },
        )
        .await
        .expect("delete");
    assert_eq!(gone.metadata.resource_version, 3);

    match Client::connect("http://127.0.0.1:1").await {
        Err(err @ Error::Unreachable { .. }) => assert_eq!(
            err.to_string(),
            "cannot connect to 127.0.0.1:1: connection refused"
        ),
        other => panic!("expected unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn list_streams_every_page() {
    let server = ServerProcess::start();
    let client = Client::connect(server.endpoint()).await.expect("connects");
    for i in 0..7 {
        client
            .create(&mk_model(
                &format!("hep-{i}"),
                if i < 5 { "n1" } else { "n2" },
            ))
            .await
            .expect("create");
    }
    let params = ListParams {
        node: Some("n1".into()),
        page_size: 2,
        ..Default::default()
    };
    let names: Vec<String> = client
        .list(params)
        .map_ok(|h| h.metadata.name)
        .try_collect()
        .await
        .expect("list");
    assert_eq!(names, ["hep-0", "hep-1", "hep-2", "hep-3", "hep-4"]);
}

#[tokio::test]
async fn the_watcher_lists_then_resumes_across_a_restart() {
    let mut server = ServerProcess::start();
    let client = Client::connect(server.endpoint()).await.expect("connects");
    client.create(&mk_model("a", "n1")).await.expect("create");
    let config = watcher::Config {
        node: Some("n1".into()),
        backoff: quick_backoff(),
        ..Default::default()
    };
    let mut events = Box::pin(watcher::watcher(client.clone(), config));
    assert_eq!(next(&mut events).await, Event::Init);
    assert!(matches!(next(&mut events).await, Event::InitApply(h) if h.metadata.name == "a"));
    assert_eq!(next(&mut events).await, Event::InitDone(1));

    client.create(&mk_model("b", "n1")).await.expect("create");
    assert!(matches!(next(&mut events).await, Event::Apply(h) if h.metadata.name == "b"));

    // Down for a while: the watcher backs off and retries; then it resumes, no relist.
    server.terminate().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.start_again_on_same_port();
    let client = Client::connect(server.endpoint())
        .await
        .expect("connects again");
    client
        .delete("a", Preconditions::default())
        .await
        .expect("delete");
    match next(&mut events).await {
        Event::Delete(h) => assert_eq!(
            (h.metadata.name.as_str(), h.metadata.resource_version),
            ("a", 3)
        ),
        other => panic!("expected the delete, no relist; got {other:?}"),
    }
}

#[tokio::test]
async fn a_replaced_store_relists_and_the_reflector_synthesizes_deletes() {
    let mut server = ServerProcess::start();
    let client = Client::connect(server.endpoint()).await.expect("connects");
    client
        .create(&mk_model("old-1", "n1"))
        .await
        .expect("create");
    client
        .create(&mk_model("old-2", "n1"))
        .await
        .expect("create");
    let (store, writer) = reflector::store();
    let config = watcher::Config {
        node: None,
        backoff: quick_backoff(),
        ..Default::default()
    };
    let mut events = Box::pin(reflector::reflector(
        writer,
        watcher::watcher(client, config),
    ));
    let ready = store.clone();
    tokio::time::timeout(EVENT_TIMEOUT, async {
        tokio::select! {
            ready = ready.wait_until_ready() => ready.expect("ready"),
            _ = async { while events.next().await.is_some() {} } => unreachable!("the watcher never ends"),
        }
    })
    .await
    .expect("ready in time");
    assert_eq!(store.state().len(), 2);

    server.terminate().await;
    server.replace_store_on_same_port();
    let client = Client::connect(server.endpoint())
        .await
        .expect("connects again");
    client
        .create(&mk_model("old-2", "n1"))
        .await
        .expect("create in the new store");
    client
        .create(&mk_model("new", "n1"))
        .await
        .expect("create in the new store");
    // The watcher may relist before or after the two creates: read until both are in.
    let names = || -> Vec<String> {
        store
            .state()
            .iter()
            .map(|h| h.metadata.name.clone())
            .collect()
    };
    let mut seen = Vec::new();
    while !(seen
        .iter()
        .any(|e| matches!(e, Event::Delete(h) if h.metadata.name == "old-1"))
        && names() == ["new", "old-2"])
    {
        seen.push(next(&mut events).await);
    }
    assert_eq!(seen[0], Event::Init, "a relist, got {seen:?}");
    assert!(seen.iter().any(|e| matches!(e, Event::InitDone(_))));
}
