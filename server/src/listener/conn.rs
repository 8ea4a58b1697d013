//! One accepted connection: its byte stream (plain or TLS, its writes held until flushed, see
//! [`Coalesced`]), what calls learn of it, and its slot under the connection limit, released
//! when the connection is dropped.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::OwnedSemaphorePermit,
};
use tokio_rustls::server::TlsStream;
use tonic::transport::server::Connected;

use super::{
    coalesce::Coalesced,
    idle::{Calls, IdleClock},
};

/// What a call knows of its connection; in every request's extensions.
#[derive(Clone, Debug, Default)]
pub struct Peer {
    /// The client's address.
    pub addr: Option<SocketAddr>,
    /// The identities of the client certificate (`URI:...`, then `CN:...`); empty without one.
    pub identities: Arc<[String]>,
    /// The connection's calls in flight, when idle connections are closed.
    pub(super) calls: Option<Arc<Calls>>,
}

/// An accepted connection, as tonic serves it.
#[derive(Debug)]
pub struct Conn {
    io: Io,
    idle: Option<IdleClock>,
    _slot: OwnedSemaphorePermit,
}

#[derive(Debug)]
pub(super) struct Io {
    stream: Coalesced<Stream>,
    peer: Peer,
}

#[derive(Debug)]
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Io {
    pub(super) fn plain(tcp: TcpStream, addr: SocketAddr) -> Self {
        Self {
            stream: Coalesced::new(Stream::Plain(tcp)),
            peer: Peer {
                addr: Some(addr),
                identities: Arc::new([]),
                calls: None,
            },
        }
    }

    pub(super) fn tls(
        tls: TlsStream<TcpStream>,
        addr: SocketAddr,
        identities: Vec<String>,
    ) -> Self {
        Self {
            stream: Coalesced::new(Stream::Tls(Box::new(tls))),
            peer: Peer {
                addr: Some(addr),
                identities: identities.into(),
                calls: None,
            },
        }
    }
}

impl Conn {
    /// A connection holding `slot`; closed after `idle_timeout` without calls, if given.
    pub(super) fn new(
        mut io: Io,
        slot: OwnedSemaphorePermit,
        idle_timeout: Option<std::time::Duration>,
    ) -> Self {
        let idle = idle_timeout.map(|timeout| {
            let calls = Arc::new(Calls::default());
            io.peer.calls = Some(Arc::clone(&calls));
            IdleClock::new(calls, timeout)
        });
        Self {
            io,
            idle,
            _slot: slot,
        }
    }
}

impl Connected for Conn {
    type ConnectInfo = Peer;

    fn connect_info(&self) -> Peer {
        self.io.peer.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // An EOF ends the connection as if the client had closed it.
        if this.idle.as_mut().is_some_and(|clock| clock.expired(cx)) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io.stream).poll_write(cx, buf)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io.stream).poll_shutdown(cx)
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(tcp) => tcp.is_write_vectored(),
            Stream::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}
