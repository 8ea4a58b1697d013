//! Connections cannot starve the server: a socket that never completes its handshake is
//! closed at the deadline, connections beyond the cap wait for a free slot, and the open-files
//! limit is raised at start with descriptors kept for the store.

use std::time::Duration;

use hostendpoint_tests::{ApiClient, ServerProcess, create, get, mk_hep};
use tokio::io::AsyncReadExt as _;

/// Generous upper bound on the server noticing what a test did.
const DEADLINE: Duration = Duration::from_secs(15);

/// Waits until the server closes `socket` (EOF or reset), failing after [`DEADLINE`].
async fn assert_closed_by_server(mut socket: tokio::net::TcpStream) {
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(DEADLINE, socket.read(&mut buf))
        .await
        .expect("the server closes a silent connection");
    // Plaintext: nothing was sent. With TLS nothing either, since no ClientHello arrived.
    assert!(matches!(read, Ok(0) | Err(_)), "closed, got {read:?}");
}

#[tokio::test]
async fn a_socket_that_never_speaks_is_closed_at_the_handshake_deadline() {
    let server = ServerProcess::start_with(&["--handshake-timeout", "1s"]);
    let silent = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connects");
    // A half-sent preface is no better than silence.
    let mut partial = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connects");
    tokio::io::AsyncWriteExt::write_all(&mut partial, b"PRI * HTTP/2.0")
        .await
        .expect("written");
    assert_closed_by_server(silent).await;
    assert_closed_by_server(partial).await;
    // A real client is unaffected.
    let mut client = server.client().await;
    create(&mut client, mk_hep("still-served", "n1")).await;
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let server = ServerProcess::start_with(&["--max-connections", "2"]);
    let first = server.client().await;
    let mut second = server.client().await;
    create(&mut second, mk_hep("web", "n1")).await;
    let mut first_call = first.clone();
    get(&mut first_call, "web")
        .await
        .expect("the first connection is served");

    let third = tonic::transport::Endpoint::from_shared(server.endpoint())
        .expect("a valid URL")
        .connect_lazy();
    let mut third = ApiClient::new(third);
    let call = tokio::spawn(async move { get(&mut third, "web").await });
    // The third connection is not accepted while two are open...
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !call.is_finished(),
        "a third connection waits while the cap is reached"
    );
    // ...and is served once one of them closes.
    drop((first, first_call));
    let answer = tokio::time::timeout(DEADLINE, call)
        .await
        .expect("the waiting connection is served once a slot is free")
        .expect("the call task completes");
    answer.expect("the object is there");
}

/// The soft and hard open-files limits of a process, from /proc.
fn open_files_limits(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("readable");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("an open-files line");
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

fn set_own_open_files_limit(soft: u64, hard: u64) {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit only reads the struct; nextest runs each test in its own process, so
    // lowering this process's limit (which the server inherits) affects no other test.
    let result = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert_eq!(result, 0, "the test may lower its own limit");
}

#[tokio::test]
async fn the_open_files_limit_is_raised_and_the_store_keeps_a_reserve() {
    let (_, hard) = open_files_limits(std::process::id());
    set_own_open_files_limit(256, hard);
    let server = ServerProcess::start();
    assert_eq!(
        open_files_limits(server.pid()),
        (hard, hard),
        "soft raised to hard"
    );
    assert!(server.log_text().contains("raised the open-files limit"));
    drop(server);

    // A hard limit of 300 leaves 44 connections beside the store's 256 descriptors.
    set_own_open_files_limit(300, 300);
    let server = ServerProcess::start();
    let log = server.log_text();
    assert!(
        log.contains("--max-connections lowered to keep descriptors for the store")
            && log.contains("\"allowed\":44"),
        "{log}"
    );
    let mut client = server.client().await;
    create(&mut client, mk_hep("served", "n1")).await;
}

/// The HTTP/2 client preface and an empty SETTINGS frame: a connection that is established
/// and then makes no call.
const H2_HELLO: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Reads until the server closes `socket`, failing after [`DEADLINE`].
async fn read_until_closed(socket: &mut tokio::net::TcpStream) {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(DEADLINE, async {
        while let Ok(n) = socket.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await
    .expect("the server closes the idle connection");
}

#[tokio::test]
async fn idle_connections_are_closed_but_open_watches_are_calls() {
    let server = ServerProcess::start_with(&[
        "--idle-timeout",
        "1s",
        // So that only idleness, not an unanswered ping, can close the raw connection.
        "--keepalive-interval",
        "1h",
    ]);
    let mut watcher = server.client().await;
    let mut watch = hostendpoint_tests::watching::watch(&mut watcher, "", 0)
        .await
        .expect("a watch");
    watch.expect_snapshot().await;

    let mut idle = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connects");
    tokio::io::AsyncWriteExt::write_all(&mut idle, H2_HELLO)
        .await
        .expect("written");
    read_until_closed(&mut idle).await;

    // The watch's connection outlived the idle timeout: a change still reaches it.
    let mut writer = server.client().await;
    create(&mut writer, mk_hep("after-idle", "n1")).await;
    let event = watch.expect_non_bookmark().await;
    assert_eq!(
        hostendpoint_tests::meta(event.host_endpoint.as_ref().expect("an object")).name,
        "after-idle"
    );
}

#[tokio::test]
async fn a_host_name_in_listen_is_resolved() {
    let server = ServerProcess::start_listening("localhost:0", &[]);
    assert!(server.addr.ip().is_loopback(), "{}", server.addr);
    let mut client = server.client().await;
    create(&mut client, mk_hep("by-name", "n1")).await;
}
