//! When the server was last heard from: the dialer's connections stamp every read, so that a
//! broken watch can be told apart from one the keepalive gave up on.
//!
//! hyper closes a connection whose ping went unanswered without saying why (its connection
//! task ends quietly), and the streams on it fail as if the pipe broke. But hyper only gives
//! up after hearing nothing for the keepalive interval plus its timeout; and before that, any
//! connection that works answers a ping. So a connection silent for that long when it broke
//! was given up by the keepalive.

use std::{
    io,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The time of the last bytes read on the latest connection.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    last_read: Mutex<Option<Instant>>,
}

impl Activity {
    /// Stamps now.
    fn heard(&self) {
        *self
            .last_read
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }

    /// How long nothing was read; `None` before any connection.
    pub(crate) fn silence(&self) -> Option<Duration> {
        let last = *self
            .last_read
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        last.map(|at| at.elapsed())
    }
}

/// A connection that stamps its reads on an [`Activity`].
#[derive(Debug)]
pub(crate) struct Stamped<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Stamped<T> {
    /// `inner`, newly connected: that counts as hearing from the server.
    pub(crate) fn new(inner: T, activity: Arc<Activity>) -> Self {
        activity.heard();
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Stamped<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.heard();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Stamped<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
