//! Accepting connections: the connection limit, the handshake deadline, TLS with material that
//! can change under it, and what a call learns of its connection ([`Peer`]).
//!
//! The accept loop is ours rather than tonic's `TcpIncoming` and `ServerTlsConfig` because
//! those take one TLS configuration for the server's life, have no handshake deadline and no
//! connection cap, and would parse the client certificate again for every call.

mod coalesce;
mod conn;
mod fd_limit;
mod idle;
mod rejections;

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
    sync::{Semaphore, mpsc},
};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

pub use self::{
    conn::{Conn, Peer},
    fd_limit::{connection_cap, raise_open_files_limit},
    idle::CallsLayer,
};
use crate::security::identities;

/// The default of `--handshake-timeout`.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The default of `--idle-timeout`.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// The default of `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// The HTTP/2 client preface every plaintext connection starts with.
const H2_PREFACE_LEN: usize = 24;
/// TCP keepalive probes find peers that vanished without a FIN.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
/// After a failed accept (such as EMFILE), wait before the next one instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How long a connection whose TLS handshake failed is drained before it is closed, so that
/// the client reads the alert that says why (see [`close_after_alert`]).
const FAILED_HANDSHAKE_LINGER: Duration = Duration::from_secs(1);

/// How connections are accepted.
#[derive(Clone, Debug)]
pub struct ListenConfig {
    /// TLS material, swapped in place when its files change; `None` serves plaintext.
    pub tls: Option<Arc<ArcSwap<ServerConfig>>>,
    /// A connection must complete its TLS handshake (or send the HTTP/2 preface) within this.
    pub handshake_timeout: Duration,
    /// The most open connections; further ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// A connection without calls for this long is closed; `None` keeps it.
    pub idle_timeout: Option<Duration>,
}

/// Accepts connections on `listener` until `stop`, yielding those whose handshake completed.
pub fn incoming(
    listener: TcpListener,
    config: ListenConfig,
    stop: CancellationToken,
) -> ReceiverStream<io::Result<Conn>> {
    let (ready, incoming) = mpsc::channel(64);
    tokio::spawn(accept_loop(listener, config, ready, stop));
    ReceiverStream::new(incoming)
}

async fn accept_loop(
    listener: TcpListener,
    config: ListenConfig,
    ready: mpsc::Sender<io::Result<Conn>>,
    stop: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let config = Arc::new(config);
    let rejections = Arc::new(rejections::Rejections::new());
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            () = stop.cancelled() => return,
        };
        let Ok(slot) = slot else { return };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => return,
        };
        let (tcp, addr) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                warn!(error = %err, "cannot accept a connection");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let (config, ready) = (Arc::clone(&config), ready.clone());
        let rejections = Arc::clone(&rejections);
        tokio::spawn(async move {
            match tokio::time::timeout(config.handshake_timeout, handshake(tcp, addr, &config))
                .await
            {
                Ok(Ok(io)) => {
                    let conn = Conn::new(io, slot, config.idle_timeout);
                    let _ = ready.send(Ok(conn)).await;
                }
                // Closed before a word: a TCP probe of a load balancer, not worth a warning.
                Ok(Err(err)) if err.kind() == io::ErrorKind::UnexpectedEof => {
                    debug!(%addr, "closed before the handshake");
                }
                Ok(Err(err)) => rejections.report(addr, &err),
                Err(_) => rejections.report(
                    addr,
                    &format_args!(
                        "no handshake within {:?} (--handshake-timeout)",
                        config.handshake_timeout
                    ),
                ),
            }
        });
    }
}

/// The connection once its handshake completed.
async fn handshake(
    tcp: TcpStream,
    addr: SocketAddr,
    config: &ListenConfig,
) -> io::Result<conn::Io> {
    tune(&tcp);
    let Some(tls) = &config.tls else {
        wait_for_preface(&tcp).await?;
        return Ok(conn::Io::plain(tcp, addr));
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.load_full());
    let stream = match acceptor.accept(tcp).into_fallible().await {
        Ok(stream) => stream,
        Err((err, tcp)) => {
            close_after_alert(tcp).await;
            return Err(err);
        }
    };
    let identities = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| identities(leaf))
        .unwrap_or_default();
    Ok(conn::Io::tls(stream, addr, identities))
}

/// Closes a connection whose TLS handshake failed, after rustls wrote the alert that says why
/// (such as `certificate required`): a FIN, then whatever the client still sends is read and
/// dropped until it closes or [`FAILED_HANDSHAKE_LINGER`] passes. Closing with unread bytes
/// would send a RST instead, and a RST makes the client's kernel discard the alert before the
/// client reads it: with TLS 1.3 the client has finished its side of the handshake and sent
/// its first request by then, so it would see a broken pipe or retry until its deadline.
async fn close_after_alert(mut tcp: TcpStream) {
    let _ = tcp.shutdown().await;
    let mut sink = [0u8; 4096];
    let drain = async { while let Ok(1..) = tcp.read(&mut sink).await {} };
    let _ = tokio::time::timeout(FAILED_HANDSHAKE_LINGER, drain).await;
}

/// Waits until the client sent the HTTP/2 preface, without consuming it: a socket that never
/// speaks is dropped at the handshake deadline instead of holding a descriptor.
async fn wait_for_preface(tcp: &TcpStream) -> io::Result<()> {
    let mut buf = [0u8; H2_PREFACE_LEN];
    loop {
        let n = tcp.peek(&mut buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if n >= H2_PREFACE_LEN {
            return Ok(());
        }
        // peek returns at once while bytes are pending: wait for more to arrive.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Small RPCs must not wait for the peer's delayed ACK (about 40 ms on Linux); keepalives find
/// dead peers of idle watches.
fn tune(tcp: &TcpStream) {
    let _ = tcp.set_nodelay(true);
    let keepalive = socket2::TcpKeepalive::new().with_time(TCP_KEEPALIVE);
    let _ = socket2::SockRef::from(tcp).set_tcp_keepalive(&keepalive);
}
