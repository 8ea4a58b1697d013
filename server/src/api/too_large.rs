//! The status of a request larger than the server takes: gRPC's RESOURCE_EXHAUSTED. tonic
//! answers OUT_OF_RANGE, which in this API means "restart the listing" or "relist", so a tower
//! layer around the services corrects the code of that one answer.

use std::task::{Context, Poll};

use futures::TryFutureExt as _;
use tonic::{Code, Status, codegen::http};
use tower::{Layer, Service, layer::layer_fn};

/// The largest request message taken: gRPC's usual default, stated here so that the
/// RESOURCE_EXHAUSTED message can name it.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// How tonic's message for a request over the limit starts.
const TONIC_TOO_LARGE: &str = "Error, decoded message length too large";

/// The layer that answers RESOURCE_EXHAUSTED for requests over [`MAX_REQUEST_BYTES`].
pub fn layer<S>() -> impl Layer<S, Service = TooLarge<S>> + Clone {
    layer_fn(TooLarge)
}

/// A service whose too-large requests are answered RESOURCE_EXHAUSTED.
#[derive(Clone, Debug)]
pub struct TooLarge<S>(S);

type Correct<B> = fn(http::Response<B>) -> http::Response<B>;

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for TooLarge<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::MapOk<S::Future, Correct<ResBody>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        self.0.call(request).map_ok(correct as Correct<ResBody>)
    }
}

/// Rewrites tonic's OUT_OF_RANGE for a too-large request; it comes in the response headers,
/// since the request fails before any response message.
fn correct<B>(mut response: http::Response<B>) -> http::Response<B> {
    let Some(status) = Status::from_header_map(response.headers()) else {
        return response;
    };
    if status.code() != Code::OutOfRange || !status.message().starts_with(TONIC_TOO_LARGE) {
        return response;
    }
    let detail = status.message().trim_start_matches(TONIC_TOO_LARGE);
    let corrected = crate::status::request_too_large(detail);
    // Only a message that is not a valid header fails; ours always is.
    let _ = corrected.add_header(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tonics_too_large_answer_becomes_resource_exhausted() {
        let tonic_answer = Status::out_of_range(format!(
            "{TONIC_TOO_LARGE}: found 5000000 bytes, the limit is: 4194304 bytes"
        ))
        .into_http::<()>();
        let corrected = correct(tonic_answer);
        let status = Status::from_header_map(corrected.headers()).expect("a status");
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(
            status.message(),
            "the request is larger than the server takes: found 5000000 bytes, the limit is: \
             4194304 bytes"
        );
    }

    #[test]
    fn other_out_of_range_answers_are_kept() {
        let answer = Status::out_of_range("resource version 3 is too old").into_http::<()>();
        let status = Status::from_header_map(correct(answer).headers()).expect("a status");
        assert_eq!(status.code(), Code::OutOfRange);
    }
}
