//! Dialling an etcd member: the TCP connection tonic would make, with its writes held until
//! HTTP/2 flushes them ([`Coalesced`]).
//!
//! A unary call's message is followed by an empty frame that ends the request; without the
//! hold, a message of 256 bytes or more (every write of an object) left in one `writev` and
//! the end of the request in a second.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use hyper_util::{client::legacy::connect::HttpConnector, rt::TokioIo};
use tokio::net::TcpStream;
use tonic::transport::Uri;

use crate::coalesce::Coalesced;

/// TCP keepalive probes find a member that vanished without a FIN.
const TCP_KEEPALIVE: Duration = Duration::from_secs(10);

/// A connector for `Endpoint::connect_with_connector_lazy`; tonic adds TLS on top for https.
#[derive(Clone, Debug)]
pub(super) struct Dialer {
    tcp: HttpConnector,
}

impl Dialer {
    pub(super) fn new(connect_timeout: Duration) -> Self {
        let mut tcp = HttpConnector::new();
        // https endpoints are dialled here too; tonic's TLS connector wraps the stream.
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_keepalive(Some(TCP_KEEPALIVE));
        tcp.set_connect_timeout(Some(connect_timeout));
        Self { tcp }
    }
}

type Dialled = TokioIo<Coalesced<TcpStream>>;
type Dialling = Pin<Box<dyn Future<Output = Result<Dialled, DialError>> + Send>>;
type DialError = Box<dyn std::error::Error + Send + Sync>;

impl tower::Service<Uri> for Dialer {
    type Response = Dialled;
    type Error = DialError;
    type Future = Dialling;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), DialError>> {
        self.tcp.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Dialling {
        let connecting = self.tcp.call(uri);
        Box::pin(async move {
            let tcp = connecting.await?.into_inner();
            Ok(TokioIo::new(Coalesced::new(tcp)))
        })
    }
}
