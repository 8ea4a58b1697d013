//! One socket write per batch of HTTP/2 frames: the write side of every accepted connection.
//!
//! h2 writes a frame's payload of 256 bytes or more (1 KiB when the transport says it has no
//! vectored writes) straight from its own buffer, and must flush before it can queue the next
//! frame. A unary answer of a few hundred bytes (headers, data, trailers) therefore left in two
//! `writev` calls: a fifth of a get's server CPU. This layer tells h2 it has no vectored writes,
//! so such answers are copied into h2's buffer and leave in one write, and it holds what h2
//! writes until h2 flushes, so that the frame header before a larger payload still leaves
//! together with it. It is written by hand because tokio's `BufWriter` sends what it holds
//! before any write larger than its buffer, which would cost large frames a second call.

use std::{
    io::{self, IoSlice},
    pin::Pin,
    task::{Context, Poll, ready},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most bytes held for one write: h2's write buffer, so that a full buffer with a payload
/// of up to the same size leaves in one call.
const HOLD_MAX: usize = 16 * 1024;
/// A buffer grown beyond this is freed once written, so idle connections hold little.
const KEEP_CAPACITY: usize = 4 * 1024;

/// A byte stream whose writes are held until flushed, or until they no longer fit.
#[derive(Debug)]
pub(super) struct Coalesced<S> {
    inner: S,
    /// Accepted bytes, written from `sent` on.
    held: Vec<u8>,
    sent: usize,
}

impl<S> Coalesced<S> {
    pub(super) fn new(inner: S) -> Self {
        Self {
            inner,
            held: Vec::new(),
            sent: 0,
        }
    }

    fn unsent(&self) -> usize {
        self.held.len() - self.sent
    }

    fn mark_sent(&mut self, n: usize) {
        self.sent += n;
        if self.sent == self.held.len() {
            self.held.clear();
            self.sent = 0;
            if self.held.capacity() > KEEP_CAPACITY {
                self.held = Vec::new();
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> Coalesced<S> {
    /// Writes every held byte.
    fn poll_send_held(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.unsent() > 0 {
            let unsent = &self.held[self.sent..];
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, unsent))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.mark_sent(n);
        }
        Poll::Ready(Ok(()))
    }

    /// Writes the held bytes and then `data`, in one call where the socket takes them.
    fn poll_write_through(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            let unsent = self.unsent();
            if unsent == 0 {
                return Pin::new(&mut self.inner).poll_write(cx, data);
            }
            let slices = [IoSlice::new(&self.held[self.sent..]), IoSlice::new(data)];
            let n = ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, &slices))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.mark_sent(n.min(unsent));
            if n > unsent {
                return Poll::Ready(Ok(n - unsent));
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Coalesced<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Coalesced<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.held.len() + data.len() <= HOLD_MAX {
            this.held.extend_from_slice(data);
            return Poll::Ready(Ok(data.len()));
        }
        this.poll_write_through(cx, data)
    }

    /// `false`, so that h2 copies small payloads into its buffer (see the module doc).
    fn is_write_vectored(&self) -> bool {
        false
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_held(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_held(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::VecDeque, future::poll_fn};

    use tokio::io::AsyncWriteExt as _;

    use super::*;

    /// A socket that records every write call and takes at most what the next limit allows,
    /// answering `Pending` (and waking at once) when the limit is 0.
    #[derive(Default)]
    struct Socket {
        calls: Vec<Vec<u8>>,
        limits: VecDeque<usize>,
        flushes: usize,
    }

    impl Socket {
        fn taking(limits: &[usize]) -> Self {
            Self {
                limits: limits.iter().copied().collect(),
                ..Self::default()
            }
        }

        fn bytes(&self) -> Vec<u8> {
            self.calls.concat()
        }

        fn take(
            &mut self,
            cx: &mut Context<'_>,
            slices: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let offered: Vec<u8> = slices.iter().flat_map(|s| s.iter().copied()).collect();
            let limit = self.limits.pop_front().unwrap_or(usize::MAX);
            if limit == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let n = offered.len().min(limit);
            self.calls.push(offered[..n].to_vec());
            Poll::Ready(Ok(n))
        }
    }

    impl AsyncWrite for Socket {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.get_mut().take(cx, &[IoSlice::new(data)])
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            slices: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.get_mut().take(cx, slices)
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.get_mut().flushes += 1;
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Writes each chunk with one `poll_write` call, as h2 does, and returns what it accepted.
    async fn write_each(io: &mut Coalesced<Socket>, chunks: &[Vec<u8>]) -> io::Result<()> {
        for chunk in chunks {
            let mut rest = chunk.as_slice();
            while !rest.is_empty() {
                let n = poll_fn(|cx| Pin::new(&mut *io).poll_write(cx, rest)).await?;
                rest = &rest[n..];
            }
        }
        Ok(())
    }

    fn bytes(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
    }

    #[tokio::test]
    async fn an_answer_of_three_frames_leaves_in_one_write_at_the_flush() {
        let mut io = Coalesced::new(Socket::default());
        let frames = [bytes(30, 1), bytes(340, 2), bytes(10, 3)];
        write_each(&mut io, &frames).await.expect("held");
        assert!(
            io.inner.calls.is_empty(),
            "nothing is written before the flush"
        );

        io.flush().await.expect("flushed");
        assert_eq!(io.inner.calls.len(), 1);
        assert_eq!(io.inner.bytes(), frames.concat());
        assert_eq!(io.inner.flushes, 1);
    }

    #[tokio::test]
    async fn a_large_payload_leaves_with_the_frame_header_before_it() {
        let mut io = Coalesced::new(Socket::default());
        let frames = [bytes(9, 1), bytes(HOLD_MAX, 2)];
        write_each(&mut io, &frames).await.expect("written");
        io.flush().await.expect("flushed");

        assert_eq!(io.inner.calls.len(), 1, "one vectored write of both");
        assert_eq!(io.inner.bytes(), frames.concat());
    }

    #[tokio::test]
    async fn short_and_refused_writes_lose_and_reorder_nothing() {
        let limits = [0, 3, 0, 1, 7, 0, 2, 5000, 0, 1, 100];
        let mut io = Coalesced::new(Socket::taking(&limits));
        let frames = [
            bytes(9, 1),
            bytes(200, 2),
            bytes(HOLD_MAX - 100, 3),
            bytes(9, 4),
            bytes(3 * HOLD_MAX, 5),
            bytes(10, 6),
        ];
        write_each(&mut io, &frames).await.expect("written");
        io.shutdown().await.expect("shut down");

        assert_eq!(io.inner.bytes(), frames.concat());
    }

    #[tokio::test]
    async fn a_large_buffer_is_freed_once_written() {
        let mut io = Coalesced::new(Socket::default());
        write_each(&mut io, &[bytes(HOLD_MAX, 1)])
            .await
            .expect("held");
        io.flush().await.expect("flushed");

        assert_eq!(io.held.capacity(), 0);
    }

    #[test]
    fn h2_is_told_there_are_no_vectored_writes() {
        assert!(!Coalesced::new(Socket::default()).is_write_vectored());
    }
}
