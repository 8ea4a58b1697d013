//! Closing idle connections, as grpc-go's `MaxConnectionIdle` does: a connection with no call
//! in flight for the idle timeout is closed, so that clients that connect and then do nothing
//! cannot hold descriptors forever. Keepalive pings do not count as calls; an agent's open
//! watch does.
//!
//! [`CallsLayer`] counts the calls of each connection (a call lasts until its response body
//! is dropped, so a watch counts while it streams); the connection's reader ([`IdleClock`],
//! polled by the connection's own task) ends it with an EOF once the clock runs out, which
//! hyper handles like a client that went away.

use std::{
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use futures::task::AtomicWaker;
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

use super::Peer;

/// The calls of one connection, shared by its reader and its calls.
#[derive(Debug)]
pub(crate) struct Calls {
    in_flight: AtomicUsize,
    idle_since: Mutex<Instant>,
    /// The reader, woken when the last call ends so that it starts the idle clock then.
    reader: AtomicWaker,
}

impl Default for Calls {
    fn default() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            reader: AtomicWaker::new(),
        }
    }
}

/// One call in flight; the connection is idle again from its drop.
#[derive(Debug)]
struct CallGuard(Arc<Calls>);

impl CallGuard {
    fn start(calls: Arc<Calls>) -> Self {
        calls.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(calls)
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        // The time is set before the count drops to zero, so a reader that sees zero also
        // sees when the idleness began.
        *self
            .0
            .idle_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The clock of one connection's reader.
#[derive(Debug)]
pub(super) struct IdleClock {
    calls: Arc<Calls>,
    timeout: Duration,
    sleep: Pin<Box<Sleep>>,
}

impl IdleClock {
    pub(super) fn new(calls: Arc<Calls>, timeout: Duration) -> Self {
        let sleep = Box::pin(tokio::time::sleep(timeout));
        Self {
            calls,
            timeout,
            sleep,
        }
    }

    /// Whether the connection has been idle for the timeout; otherwise the reader's task is
    /// woken when it may have been.
    pub(super) fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.calls.reader.register(cx.waker());
        if self.calls.in_flight.load(Ordering::Acquire) > 0 {
            return false;
        }
        let since = *self
            .calls
            .idle_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let deadline = since + self.timeout;
        if self.sleep.deadline() != deadline {
            self.sleep.as_mut().reset(deadline);
        }
        self.sleep.as_mut().poll(cx).is_ready() && self.calls.in_flight.load(Ordering::Acquire) == 0
    }
}

/// Counts every call against its connection.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallsLayer;

impl<S> Layer<S> for CallsLayer {
    type Service = CountCalls<S>;

    fn layer(&self, inner: S) -> CountCalls<S> {
        CountCalls { inner }
    }
}

/// The service [`CallsLayer`] makes.
#[derive(Clone, Debug)]
pub struct CountCalls<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for CountCalls<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let guard = request
            .extensions()
            .get::<Peer>()
            .and_then(|peer| peer.calls.clone())
            .map(CallGuard::start);
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            let Some(guard) = guard else {
                return Ok(response);
            };
            Ok(response.map(|body| {
                tonic::body::Body::new(Counted {
                    body,
                    _guard: guard,
                })
            }))
        })
    }
}

pin_project_lite::pin_project! {
    /// A response body that holds its call's guard until it is dropped.
    struct Counted {
        #[pin]
        body: tonic::body::Body,
        _guard: CallGuard,
    }
}

impl http_body::Body for Counted {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, tonic::Status>>> {
        self.project().body.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
