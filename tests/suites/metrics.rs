//! The metrics endpoint and the HTTP probes, through the real binary: counters and gauges
//! after a known sequence of calls, the exposition checked by promtool, a real Prometheus
//! scraping it, and readiness while etcd is away.

use hostendpoint_api::pb;
use hostendpoint_tests::{
    ServerProcess, assert_code, create,
    etcd::EtcdCluster,
    etcd_backend,
    metrics::{PrometheusServer, Scrape, http_get, promtool_check, wait_for_scrape},
    mk_hep, rev,
    watching::watch,
};
use tonic::Code;

const API: (&str, &str) = ("grpc_service", "hostendpoint.v1.HostEndpointService");
const CREATE: (&str, &str) = ("grpc_method", "CreateHostEndpoint");
const WATCH: (&str, &str) = ("grpc_method", "WatchHostEndpoints");

fn metrics_addr(server: &ServerProcess) -> std::net::SocketAddr {
    server
        .metrics_addr
        .expect("the harness starts servers with a metrics endpoint")
}

/// Two creates and a refused one, then a watch of a node opened and closed.
#[tokio::test]
async fn counters_and_gauges_follow_a_known_sequence_of_calls() {
    let server = ServerProcess::start();
    let addr = metrics_addr(&server);
    let mut client = server.client().await;
    create(&mut client, mk_hep("a", "node-1")).await;
    create(&mut client, mk_hep("b", "node-1")).await;
    let refused = client
        .create_host_endpoint(pb::CreateHostEndpointRequest {
            host_endpoint: Some(mk_hep("a", "node-1")),
        })
        .await;
    assert_code(refused, Code::AlreadyExists);
    let mut node_watch = watch(&mut client, "node-1", 0).await.expect("watch opens");
    node_watch.expect_snapshot().await;

    let scrape = Scrape::of(addr);
    let create_code = |code| {
        scrape.get(
            "grpc_server_handled_total",
            &[API, CREATE, ("grpc_code", code)],
        )
    };
    assert_eq!(
        scrape.get(
            "grpc_server_started_total",
            &[API, CREATE, ("grpc_type", "unary")]
        ),
        3.0
    );
    assert_eq!(
        (
            create_code("OK"),
            create_code("AlreadyExists"),
            create_code("Internal")
        ),
        (2.0, 1.0, 0.0)
    );
    assert_eq!(
        scrape.get("grpc_server_handling_seconds_count", &[API, CREATE]),
        3.0
    );
    assert_eq!(
        scrape.get("grpc_server_msg_received_total", &[API, CREATE]),
        3.0
    );
    // The refusal is trailers-only: no message.
    assert_eq!(
        scrape.get("grpc_server_msg_sent_total", &[API, CREATE]),
        2.0
    );
    assert_eq!(
        scrape.get(
            "grpc_server_started_total",
            &[API, WATCH, ("grpc_type", "server_stream")]
        ),
        1.0
    );
    assert!(scrape.get("grpc_server_msg_sent_total", &[API, WATCH]) >= 1.0);
    assert_eq!(
        scrape.get("hostendpointd_watchers", &[("filter", "node")]),
        1.0
    );
    assert_eq!(
        scrape.get("hostendpointd_watchers", &[("filter", "all")]),
        0.0
    );
    // Two ADDED and the SYNCED marker.
    assert_eq!(
        scrape.get("hostendpointd_watch_events_sent_total", &[]),
        3.0
    );
    assert_eq!(scrape.get("hostendpointd_store_objects", &[]), 2.0);
    assert_eq!(
        scrape.get("hostendpointd_store_revision", &[]),
        rev(2) as f64
    );
    assert_eq!(scrape.get("hostendpointd_store_writable", &[]), 1.0);
    assert_eq!(
        scrape.get(
            "hostendpointd_build_info",
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("commit", hostendpoint_api::build_info::COMMIT)
            ]
        ),
        1.0
    );
    assert!(scrape.get("process_resident_memory_bytes", &[]) > 0.0);
    assert!(scrape.get("process_open_fds", &[]) > 0.0);
    if !etcd_backend() {
        // Every write was synced: at least one group, at most one per write.
        let groups = scrape.get("hostendpointd_wal_group_commit_writes_count", &[]);
        assert_eq!(
            scrape.get("hostendpointd_wal_group_commit_writes_sum", &[]),
            2.0
        );
        assert!((1.0..=2.0).contains(&groups), "{groups} groups");
        assert!(scrape.get("hostendpointd_wal_fsync_duration_seconds_count", &[]) >= groups);
        assert!(scrape.get("hostendpointd_wal_bytes", &[]) > 0.0);
    }

    drop(node_watch);
    let closed = [API, WATCH, ("grpc_code", "Canceled")];
    wait_for_scrape(addr, "the closed watch counted", |scrape| {
        scrape.value("hostendpointd_watchers", &[("filter", "node")]) == Some(0.0)
            && scrape.value("grpc_server_handled_total", &closed) == Some(1.0)
    })
    .await;
}

#[tokio::test]
async fn the_exposition_passes_promtool_and_openmetrics_is_served_on_request() {
    let server = ServerProcess::start();
    let addr = metrics_addr(&server);
    let mut client = server.client().await;
    create(&mut client, mk_hep("a", "node-1")).await;
    let plain = http_get(addr, "/metrics", &[]).expect("/metrics answers");
    assert_eq!(
        plain.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    promtool_check(&plain.body)
        .unwrap_or_else(|problems| panic!("promtool: {problems}\n{}", plain.body));

    let accept = (
        "Accept",
        "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
    );
    let open = http_get(addr, "/metrics", &[accept]).expect("/metrics answers");
    let content_type = open.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(open.body.ends_with("# EOF\n"), "{}", open.body);
}

#[tokio::test]
async fn probes_answer_and_an_empty_address_turns_the_endpoint_off() {
    let server = ServerProcess::start();
    let addr = metrics_addr(&server);
    for path in ["/livez", "/readyz"] {
        let response = http_get(addr, path, &[]).expect("the probe answers");
        assert_eq!(response.status, 200, "{path}: {}", response.body);
    }
    let off = ServerProcess::start_with(&["--metrics-listen", ""]);
    assert_eq!(off.metrics_addr, None);
    assert!(!off.log_text().contains("metrics listening"));
}

#[tokio::test]
async fn a_real_prometheus_reads_grpc_server_handled_total_back() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    create(&mut client, mk_hep("a", "node-1")).await;
    let prometheus = PrometheusServer::start(metrics_addr(&server)).await;
    let expr = r#"grpc_server_handled_total{grpc_method="CreateHostEndpoint",grpc_code="OK"}"#;
    let result = prometheus.wait_for(expr, |result| !result.is_empty()).await;
    assert_eq!(result.len(), 1, "{result:?}");
    assert_eq!(result[0].1, 1.0);
    assert_eq!(result[0].0["grpc_type"], "unary");
    assert_eq!(result[0].0["job"], "hostendpointd");
}

#[tokio::test]
async fn etcd_up_and_readyz_follow_etcd_down_and_back() {
    let mut cluster = EtcdCluster::start(1);
    let server = ServerProcess::start_on_etcd(&cluster.endpoints(), &[]);
    let addr = metrics_addr(&server);
    let ready = || {
        http_get(addr, "/readyz", &[])
            .expect("/readyz answers")
            .status
    };
    let up =
        |value| move |scrape: &Scrape| scrape.value("hostendpointd_etcd_up", &[]) == Some(value);
    wait_for_scrape(addr, "etcd up", up(1.0)).await;
    assert_eq!(ready(), 200);

    cluster.members[0].kill();
    wait_for_scrape(addr, "etcd down", up(0.0)).await;
    let down = http_get(addr, "/readyz", &[]).expect("/readyz answers");
    assert_eq!(down.status, 503);
    assert!(down.body.contains("etcd is unreachable"), "{}", down.body);
    assert_eq!(
        http_get(addr, "/livez", &[])
            .expect("/livez answers")
            .status,
        200
    );

    cluster.members[0].restart();
    cluster.wait_ready();
    let back = wait_for_scrape(addr, "etcd back", up(1.0)).await;
    assert!(back.get("hostendpointd_etcd_watch_restarts_total", &[]) >= 1.0);
    assert_eq!(
        back.get("hostendpointd_etcd_invalid_values_total", &[]),
        0.0
    );
    assert_eq!(ready(), 200);
}
