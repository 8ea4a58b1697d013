//! One socket write per batch of HTTP/2 frames: the write side of every accepted connection.
//!
//! h2 sends a frame's payload of 256 bytes or more (1 KiB when the transport says it has no
//! vectored writes) from the message itself rather than copying it into its buffer, and must
//! flush before it can queue the next frame. A unary answer of a few hundred bytes (headers,
//! data, trailers) therefore left in two `writev` calls, which took about a sixth of a get's
//! server CPU. This layer tells h2 it has no vectored writes, so such answers are copied into
//! h2's buffer and leave in one write. A larger payload h2 then writes with a call of its own
//! right after the frame header before it; this layer holds small writes until h2 flushes, so
//! that the header leaves in one `writev` with the payload. It is written by hand because
//! tokio's `BufWriter` sends what it holds before a write larger than its buffer, and copies
//! payloads it could send as they are.

use std::{
    io::{self, IoSlice},
    pin::Pin,
    task::{Context, Poll, ready},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A write this large goes out at once, after what is held: h2 writes a payload of this size
/// (its chain threshold without vectored writes) on its own, so holding it would only copy it.
const HOLD_WRITE_MAX: usize = 1024;
/// The most bytes held, in case a writer writes many small pieces without flushing.
const HOLD_MAX: usize = 16 * 1024;
/// A buffer grown beyond this shrinks back once written, so idle connections hold little.
const KEEP_CAPACITY: usize = 4 * 1024;

/// A byte stream whose small writes are held until flushed, or until a large one follows.
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
            self.held.shrink_to(KEEP_CAPACITY);
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
        if data.len() < HOLD_WRITE_MAX && this.held.len() + data.len() <= HOLD_MAX {
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
    use std::{collections::VecDeque, task::Waker};

    use proptest::prelude::*;

    use super::*;

    /// A socket that records every write call. Each call takes at most the next of `limits`
    /// (no limit once they run out); a limit of 0 answers `Pending`, keeping the waker as a
    /// real socket registers it.
    #[derive(Default)]
    struct Socket {
        calls: Vec<Vec<u8>>,
        limits: VecDeque<usize>,
        waker: Option<Waker>,
        failing: bool,
        flushes: usize,
        shut: bool,
    }

    impl Socket {
        fn taking(limits: impl IntoIterator<Item = usize>) -> Self {
            Self {
                limits: limits.into_iter().collect(),
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
            if self.failing {
                return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
            }
            let limit = self.limits.pop_front().unwrap_or(usize::MAX);
            if limit == 0 {
                self.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            let offered: Vec<u8> = slices.iter().flat_map(|s| s.iter().copied()).collect();
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
            self.get_mut().shut = true;
            Poll::Ready(Ok(()))
        }
    }

    type Io = Coalesced<Socket>;

    /// Polls `op` until it is ready, checking after every `Pending` that the socket holds the
    /// waker, as the socket becoming writable would wake it.
    fn drive<T>(io: &mut Io, mut op: impl FnMut(Pin<&mut Io>, &mut Context<'_>) -> Poll<T>) -> T {
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(out) = op(Pin::new(io), &mut cx) {
                return out;
            }
            assert!(io.inner.waker.take().is_some(), "Pending without a waker");
        }
    }

    /// Writes each chunk with `poll_write` calls, as h2 does; no call may accept nothing.
    fn write_each(io: &mut Io, chunks: &[Vec<u8>]) -> io::Result<()> {
        for chunk in chunks {
            let mut rest = chunk.as_slice();
            while !rest.is_empty() {
                let n = drive(io, |io, cx| io.poll_write(cx, rest))?;
                assert!(n > 0, "a write accepted nothing");
                rest = &rest[n..];
                assert!(io.held.len() <= HOLD_MAX, "{} bytes held", io.held.len());
            }
        }
        Ok(())
    }

    fn flush(io: &mut Io) -> io::Result<()> {
        drive(io, |io, cx| io.poll_flush(cx))
    }

    fn bytes(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
    }

    #[test]
    fn an_answer_of_three_frames_leaves_in_one_write_at_the_flush() {
        let mut io = Coalesced::new(Socket::default());
        let frames = [bytes(30, 1), bytes(340, 2), bytes(10, 3)];
        write_each(&mut io, &frames).expect("held");
        assert!(
            io.inner.calls.is_empty(),
            "nothing is written before the flush"
        );

        flush(&mut io).expect("flushed");
        assert_eq!(io.inner.calls, [frames.concat()]);
        assert_eq!(io.inner.flushes, 1);
    }

    #[test]
    fn a_large_payload_leaves_at_once_with_the_frame_header_before_it() {
        let mut io = Coalesced::new(Socket::default());
        let (header, payload, trailers) = (bytes(9, 1), bytes(HOLD_WRITE_MAX, 2), bytes(10, 3));
        write_each(&mut io, &[header.clone(), payload.clone()]).expect("written");
        assert_eq!(
            io.inner.calls,
            [[header, payload].concat()],
            "one vectored call"
        );

        write_each(&mut io, std::slice::from_ref(&trailers)).expect("held");
        flush(&mut io).expect("flushed");
        assert_eq!(io.inner.calls.len(), 2);
        assert_eq!(io.inner.calls[1], trailers);
    }

    #[test]
    fn a_socket_that_takes_exactly_what_is_held_then_takes_the_large_write() {
        let mut io = Coalesced::new(Socket::taking([20]));
        let (held, large) = (bytes(20, 1), bytes(2 * HOLD_WRITE_MAX, 2));
        write_each(&mut io, &[held.clone(), large.clone()]).expect("written");

        assert_eq!(io.inner.calls, [held, large]);
    }

    #[test]
    fn a_large_write_with_nothing_held_goes_straight_to_the_socket() {
        let mut io = Coalesced::new(Socket::default());
        let large = bytes(3 * HOLD_MAX, 1);
        write_each(&mut io, std::slice::from_ref(&large)).expect("written");

        assert_eq!(io.inner.calls, [large]);
        assert_eq!(io.held.capacity(), 0, "nothing was copied");
    }

    #[test]
    fn small_writes_without_a_flush_are_sent_once_too_many_are_held() {
        let mut io = Coalesced::new(Socket::default());
        let pieces: Vec<_> = (0..100).map(|i| bytes(HOLD_WRITE_MAX - 1, i)).collect();
        write_each(&mut io, &pieces).expect("written");
        assert!(!io.inner.calls.is_empty(), "sent before the flush");

        flush(&mut io).expect("flushed");
        assert_eq!(io.inner.bytes(), pieces.concat());
    }

    #[test]
    fn a_shutdown_sends_what_is_held_before_shutting_the_socket() {
        let mut io = Coalesced::new(Socket::default());
        write_each(&mut io, &[bytes(20, 1)]).expect("held");
        drive(&mut io, |io, cx| io.poll_shutdown(cx)).expect("shut down");

        assert_eq!(io.inner.bytes(), bytes(20, 1));
        assert!(io.inner.shut);
    }

    #[test]
    fn a_socket_error_at_the_flush_is_returned() {
        let mut io = Coalesced::new(Socket::default());
        write_each(&mut io, &[bytes(20, 1)]).expect("held");
        io.inner.failing = true;

        let err = flush(&mut io).expect_err("the socket failed");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    }

    #[test]
    fn a_buffer_grown_large_shrinks_once_written() {
        let mut io = Coalesced::new(Socket::default());
        let pieces: Vec<_> = (0..12).map(|i| bytes(HOLD_WRITE_MAX - 1, i)).collect();
        write_each(&mut io, &pieces).expect("held");
        assert!(io.held.capacity() > KEEP_CAPACITY);
        flush(&mut io).expect("flushed");

        assert!(io.held.capacity() <= KEEP_CAPACITY);
    }

    #[test]
    fn h2_is_told_there_are_no_vectored_writes() {
        assert!(!Coalesced::new(Socket::default()).is_write_vectored());
    }

    /// A write of `len` bytes, or a flush.
    #[derive(Clone, Debug)]
    enum Op {
        Write(usize),
        Flush,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (1..2 * HOLD_WRITE_MAX).prop_map(Op::Write),
            1 => (1..3 * HOLD_MAX).prop_map(Op::Write),
            2 => Just(Op::Flush),
        ]
    }

    proptest! {
        #[test]
        fn any_writes_flushes_and_short_or_refused_socket_writes_arrive_whole_and_in_order(
            ops in prop::collection::vec(op(), 1..40),
            limits in prop::collection::vec(prop_oneof![1 => Just(0usize), 3 => 1..5000usize], 0..200),
        ) {
            let mut io = Coalesced::new(Socket::taking(limits));
            let mut written = Vec::new();
            for (i, op) in ops.iter().enumerate() {
                match op {
                    Op::Write(len) => {
                        let data = bytes(*len, i as u8);
                        write_each(&mut io, std::slice::from_ref(&data)).expect("written");
                        written.extend(data);
                    }
                    Op::Flush => {
                        flush(&mut io).expect("flushed");
                        prop_assert_eq!(io.inner.bytes(), written.clone());
                    }
                }
            }
            drive(&mut io, |io, cx| io.poll_shutdown(cx)).expect("shut down");
            prop_assert_eq!(io.inner.bytes(), written);
        }
    }
}
