//! The dialer: opens the connections of a channel, for tonic.
//!
//! It is ours rather than tonic's `HttpConnector`, so that every way a dial can fail comes
//! back as one typed [`DialError`] that `diagnose` puts in words (hyper-util's connect error
//! is private and says only "tcp connect error"), its timeout covers TCP and TLS together, TLS
//! reads its files for each connection (see `tls`), and reads are stamped (see `activity`).
//! What it does is small: resolve, connect to the first address that accepts, and hand over
//! (after a TLS handshake).

use std::{sync::Arc, time::Duration};

use futures::future::BoxFuture;
use hostendpoint_api::words::{io_words, lower_first};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;
use tonic::transport::Uri;

use crate::{
    activity::{Activity, Stamped},
    tls::Tls,
};

/// Why a connection could not be opened; the words are the reason `diagnose` reports.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DialError {
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// The name.
        host: String,
        /// The resolver's answer, in words.
        reason: String,
    },
    /// No address accepted the connection.
    #[error("{0}")]
    Connect(String),
    /// The dial timeout passed.
    #[error("timed out")]
    Timeout,
    /// The TLS files or the TLS handshake failed.
    #[error("{0}")]
    Tls(String),
}

/// The connection the dialer hands to hyper.
type Io = TokioIo<Stamped<Either<TcpStream, TlsStream<TcpStream>>>>;

/// Opens connections to one server, for tonic's channel.
#[derive(Clone, Debug)]
pub(crate) struct Dialer {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// For resolving and connecting, then again for the TLS handshake.
    pub(crate) timeout: Duration,
    /// `None` for plaintext.
    pub(crate) tls: Option<Tls>,
    /// Stamped by every read of the connections.
    pub(crate) activity: Arc<Activity>,
}

impl Dialer {
    async fn dial(self) -> Result<Io, DialError> {
        let tcp = tokio::time::timeout(self.timeout, self.tcp())
            .await
            .map_err(|_| DialError::Timeout)??;
        let stream = match &self.tls {
            None => Either::Left(tcp),
            Some(tls) => Either::Right(
                tokio::time::timeout(self.timeout, tls.handshake(tcp))
                    .await
                    .map_err(|_| DialError::Timeout)?
                    .map_err(DialError::Tls)?,
            ),
        };
        Ok(TokioIo::new(Stamped::new(stream, self.activity)))
    }

    /// A TCP connection to the first of the host's addresses that accepts one.
    async fn tcp(&self) -> Result<TcpStream, DialError> {
        let addrs = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|err| DialError::Resolve {
                host: self.host.clone(),
                reason: resolver_words(&err),
            })?;
        let mut refused = DialError::Resolve {
            host: self.host.clone(),
            reason: "no address".into(),
        };
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(tcp) => {
                    // As tonic's own connector: small gRPC frames must not wait for Nagle.
                    tcp.set_nodelay(true)
                        .map_err(|err| DialError::Connect(io_words(&err)))?;
                    return Ok(tcp);
                }
                Err(err) => refused = DialError::Connect(io_words(&err)),
            }
        }
        Err(refused)
    }
}

/// The resolver's answer without the "failed to lookup address information" that std puts
/// before it, which "cannot resolve" already says.
fn resolver_words(err: &std::io::Error) -> String {
    let words = io_words(err);
    match words.strip_prefix("failed to lookup address information: ") {
        Some(reason) => lower_first(reason),
        None => words,
    }
}

impl tower::Service<Uri> for Dialer {
    type Response = Io;
    type Error = DialError;
    type Future = BoxFuture<'static, Result<Io, DialError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), DialError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        Box::pin(self.clone().dial())
    }
}
