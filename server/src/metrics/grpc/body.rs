//! The request and response bodies of an instrumented call: they count gRPC messages as they
//! pass, and the response's records how the call ended.
//!
//! A gRPC message on the wire is a 1-byte compression flag and a 4-byte big-endian length,
//! then that many bytes; HTTP/2 DATA frames cut that stream anywhere. [`Frames`] follows it
//! across frames with a few integers, without buffering or copying.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use bytes::{Buf as _, Bytes};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use prometheus_client::metrics::counter::Counter;

use super::MethodMetrics;

/// The gRPC code of a call ended with these headers or trailers, if they end it.
pub(super) fn status_of(headers: &HeaderMap) -> Option<usize> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    // A status that is not a number is not a gRPC code: grpc-go reads it as Unknown.
    Some(value.parse().unwrap_or(2))
}

/// Where the message stream is: in a prefix (and how much of it was seen), or in a payload
/// (and how much of it is left).
#[derive(Debug, Default)]
struct Frames {
    prefix: [u8; 5],
    prefix_seen: usize,
    payload_left: u64,
}

impl Frames {
    /// Follows `data`, the next bytes of the stream; returns how many messages began in it.
    fn feed(&mut self, mut data: &[u8]) -> u64 {
        let mut started = 0;
        while !data.is_empty() {
            if self.payload_left > 0 {
                let skip = usize::try_from(self.payload_left)
                    .map_or(data.len(), |left| left.min(data.len()));
                data.advance(skip);
                self.payload_left -= skip as u64;
                continue;
            }
            let take = (5 - self.prefix_seen).min(data.len());
            self.prefix[self.prefix_seen..self.prefix_seen + take].copy_from_slice(&data[..take]);
            self.prefix_seen += take;
            data.advance(take);
            if self.prefix_seen == 5 {
                let [_, a, b, c, d] = self.prefix;
                self.payload_left = u64::from(u32::from_be_bytes([a, b, c, d]));
                self.prefix_seen = 0;
                started += 1;
            }
        }
        started
    }
}

pin_project_lite::pin_project! {
    /// A request body that counts the messages received.
    pub(super) struct ObservedRequest<B> {
        #[pin]
        body: B,
        frames: Frames,
        received: Counter,
    }
}

impl<B> ObservedRequest<B> {
    pub(super) fn new(body: B, received: Counter) -> Self {
        Self {
            body,
            frames: Frames::default(),
            received,
        }
    }
}

impl<B: Body<Data = Bytes>> Body for ObservedRequest<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.body.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.received.inc_by(this.frames.feed(data));
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

pin_project_lite::pin_project! {
    /// A response body that counts the messages sent and records the call's end: at its
    /// trailers, at its end without them (Unknown), or when dropped before either (the client
    /// went away: Canceled).
    pub(super) struct ObservedResponse {
        #[pin]
        body: tonic::body::Body,
        frames: Frames,
        call: Option<(Arc<MethodMetrics>, Instant)>,
    }

    impl PinnedDrop for ObservedResponse {
        fn drop(this: Pin<&mut Self>) {
            if let Some((method, start)) = this.project().call.take() {
                method.handled(CANCELED, start);
            }
        }
    }
}

const CANCELED: usize = 1;
const UNKNOWN: usize = 2;

impl ObservedResponse {
    pub(super) fn new(body: tonic::body::Body, method: Arc<MethodMetrics>, start: Instant) -> Self {
        Self {
            body,
            frames: Frames::default(),
            call: Some((method, start)),
        }
    }
}

impl Body for ObservedResponse {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let this = self.project();
        let polled = this.body.poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(Some(Ok(frame))) => match (frame.data_ref(), frame.trailers_ref()) {
                (Some(data), _) => {
                    if let Some((method, _)) = this.call.as_ref() {
                        method.sent.inc_by(this.frames.feed(data));
                    }
                    None
                }
                (None, Some(trailers)) => Some(status_of(trailers).unwrap_or(UNKNOWN)),
                (None, None) => None,
            },
            Poll::Ready(Some(Err(_)) | None) => Some(UNKNOWN),
            Poll::Pending => None,
        };
        if let (Some(code), Some((method, start))) = (ended, this.call.as_ref()) {
            method.handled(code, *start);
            *this.call = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(len: u32) -> Vec<u8> {
        let mut bytes = vec![0];
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend(std::iter::repeat_n(7, len as usize));
        bytes
    }

    #[test]
    fn messages_are_counted_however_frames_cut_them() {
        let stream: Vec<u8> = [message(3), message(0), message(300), message(1)].concat();
        for cut in [1, 2, 4, 5, 6, 64, stream.len()] {
            let mut frames = Frames::default();
            let counted: u64 = stream.chunks(cut).map(|chunk| frames.feed(chunk)).sum();
            assert_eq!(counted, 4, "chunks of {cut} bytes");
        }
    }

    #[test]
    fn a_status_that_is_not_a_number_is_unknown() {
        let mut headers = HeaderMap::new();
        assert_eq!(status_of(&headers), None);
        headers.insert("grpc-status", http::HeaderValue::from_static("5"));
        assert_eq!(status_of(&headers), Some(5));
        headers.insert("grpc-status", http::HeaderValue::from_static("x"));
        assert_eq!(status_of(&headers), Some(UNKNOWN));
    }
}
