//! One accepted connection: its byte stream (plain or TLS), what calls learn of it, and its
//! slot under the connection limit, released when the connection is dropped.

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

/// What a call knows of its connection; in every request's extensions.
#[derive(Clone, Debug, Default)]
pub struct Peer {
    /// The client's address.
    pub addr: Option<SocketAddr>,
    /// The identities of the client certificate (`URI:...`, then `CN:...`); empty without one.
    pub identities: Arc<[String]>,
}

/// An accepted connection, as tonic serves it.
#[derive(Debug)]
pub struct Conn {
    io: Io,
    _slot: OwnedSemaphorePermit,
}

#[derive(Debug)]
pub(super) struct Io {
    stream: Stream,
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
            stream: Stream::Plain(tcp),
            peer: Peer {
                addr: Some(addr),
                identities: Arc::new([]),
            },
        }
    }

    pub(super) fn tls(
        tls: TlsStream<TcpStream>,
        addr: SocketAddr,
        identities: Vec<String>,
    ) -> Self {
        Self {
            stream: Stream::Tls(Box::new(tls)),
            peer: Peer {
                addr: Some(addr),
                identities: identities.into(),
            },
        }
    }
}

impl Conn {
    pub(super) fn new(io: Io, slot: OwnedSemaphorePermit) -> Self {
        Self { io, _slot: slot }
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
        match &mut self.get_mut().io.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io.stream {
            Stream::Plain(tcp) => tcp.is_write_vectored(),
            Stream::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}
