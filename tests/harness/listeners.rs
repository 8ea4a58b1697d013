//! Peers that are not a working hostendpointd, for the clients' error messages: an HTTP/1.1
//! server, a listener that accepts and never answers, one whose accept queue is full (a
//! connect that hangs), a proxy whose connections can be stalled, and one that can be cut.

use std::{
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpListener, TcpStream},
    os::fd::AsRawFd as _,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread,
    time::Duration,
};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// An HTTP/1.1 server that answers every connection `400 Bad Request`, as a web server
/// answers an HTTP/2 preface, and closes it.
#[derive(Debug)]
pub struct Http1Server {
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Http1Server {
    /// Starts it on a free port of 127.0.0.1.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let addr = listener.local_addr().expect("a bound address");
        thread::spawn(move || {
            for mut stream in listener.incoming().map_while(Result::ok) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let _ = stream.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Self { addr }
    }
}

/// A listener that accepts connections and never sends a byte.
#[derive(Debug)]
pub struct SilentListener {
    /// Where it listens.
    pub addr: SocketAddr,
}

impl SilentListener {
    /// Starts it on a free port of 127.0.0.1.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let addr = listener.local_addr().expect("a bound address");
        thread::spawn(move || {
            // Held open, unread, until the test process ends.
            let held: Vec<TcpStream> = listener.incoming().map_while(Result::ok).collect();
            drop(held);
        });
        Self { addr }
    }
}

/// A listening port whose accept queue is full, so that a new connection's handshake never
/// completes (the kernel drops its SYN), as behind a firewall that drops packets.
#[derive(Debug)]
pub struct FullBacklog {
    /// Where it listens.
    pub addr: SocketAddr,
    _listener: TcpListener,
    _queued: Vec<TcpStream>,
}

impl FullBacklog {
    /// Listens with a backlog of 0 and connects until a connection no longer completes.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let addr = listener.local_addr().expect("a bound address");
        // SAFETY: listen(2) on a socket this function owns; it only changes the backlog.
        let listened = unsafe { libc::listen(listener.as_raw_fd(), 0) };
        assert_eq!(listened, 0, "listen(fd, 0)");
        let mut queued = Vec::new();
        for _ in 0..16 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(stream) => queued.push(stream),
                Err(_) => {
                    return Self {
                        addr,
                        _listener: listener,
                        _queued: queued,
                    };
                }
            }
        }
        panic!("the accept queue of {addr} never filled");
    }
}

/// A TCP proxy to `upstream` whose open connections can be stalled: nothing more is
/// forwarded on them either way, and nothing is closed, as when a host vanishes. Connections
/// made after the stall are forwarded.
#[derive(Debug)]
pub struct StallingProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    accepted: Arc<AtomicU64>,
    stalled_below: Arc<AtomicU64>,
}

impl StallingProxy {
    /// Starts it on a free port of 127.0.0.1, in the current tokio runtime.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let addr = listener.local_addr().expect("a bound address");
        let accepted = Arc::new(AtomicU64::new(0));
        let stalled_below = Arc::new(AtomicU64::new(0));
        let (counter, stall) = (Arc::clone(&accepted), Arc::clone(&stalled_below));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let id = counter.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                let stall = Arc::clone(&stall);
                let stalled = move || id < stall.load(Ordering::SeqCst);
                tokio::spawn(forward(client_read, server_write, stalled.clone()));
                tokio::spawn(forward(server_read, client_write, stalled));
            }
        });
        Self {
            addr,
            accepted,
            stalled_below,
        }
    }

    /// Stalls every connection open now.
    pub fn stall(&self) {
        let open = self.accepted.load(Ordering::SeqCst);
        self.stalled_below.store(open, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until either closes, or forever holds both once `stalled`.
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    stalled: impl Fn() -> bool,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if stalled() {
            // Held, not closed: the peers see silence.
            std::future::pending::<()>().await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

/// A TCP proxy to `upstream` that can be cut, as a network partition cuts a host off: every
/// connection through it is closed, and new ones are closed as soon as they are accepted,
/// until it is mended.
#[derive(Debug)]
pub struct CuttingProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    cut: Arc<AtomicBool>,
    forwarding: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl CuttingProxy {
    /// Starts it on a free port of 127.0.0.1, in the current tokio runtime.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let addr = listener.local_addr().expect("a bound address");
        let cut = Arc::new(AtomicBool::new(false));
        let forwarding = Arc::new(Mutex::new(Vec::new()));
        let (refusing, tasks) = (Arc::clone(&cut), Arc::clone(&forwarding));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if refusing.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                let mut tasks = tasks.lock().expect("the proxy's task list");
                for (from, to) in [(client_read, server_write), (server_read, client_write)] {
                    tasks.push(tokio::spawn(forward(from, to, || false)).abort_handle());
                }
            }
        });
        Self {
            addr,
            cut,
            forwarding,
        }
    }

    /// Closes every connection, and every new one until [`mend`](Self::mend).
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for task in self
            .forwarding
            .lock()
            .expect("the proxy's task list")
            .drain(..)
        {
            task.abort();
        }
    }

    /// Forwards new connections again.
    pub fn mend(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}
