//! The API before the store is open: the server answers from its first second (health says
//! NOT_SERVING, as Kubernetes' probes and load balancers expect), while the store opens or
//! waits for etcd; calls meanwhile get UNAVAILABLE saying what the server waits for.
//!
//! A tower service rather than a second server: the listener, its connections and every layer
//! stay the same when the store opens, and the API service is put in place once.

use std::{
    convert::Infallible,
    sync::{Arc, OnceLock},
    task::{Context, Poll},
};

use futures::future::Either;
use tonic::{body::Body, codegen::http, server::NamedService};
use tower::{Service, ServiceExt as _, util::Oneshot};

/// A service that is `UNAVAILABLE` until [`UntilOpen::open`] puts the real one in place.
#[derive(Debug)]
pub struct UntilOpen<S> {
    service: Arc<OnceLock<S>>,
    waiting_for: Arc<str>,
}

impl<S> Clone for UntilOpen<S> {
    fn clone(&self) -> Self {
        Self {
            service: Arc::clone(&self.service),
            waiting_for: Arc::clone(&self.waiting_for),
        }
    }
}

impl<S> UntilOpen<S> {
    /// Unavailable for now; `waiting_for` completes "the server is waiting for ...".
    pub fn new(waiting_for: impl Into<Arc<str>>) -> Self {
        Self {
            service: Arc::new(OnceLock::new()),
            waiting_for: waiting_for.into(),
        }
    }

    /// Serves every later call with `service` (a second call changes nothing).
    pub fn open(&self, service: S) {
        let _ = self.service.set(service);
    }
}

impl<S: NamedService> NamedService for UntilOpen<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<B>> for UntilOpen<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>, Error = Infallible> + Clone,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Either<
        Oneshot<S, http::Request<B>>,
        std::future::Ready<Result<Self::Response, Infallible>>,
    >;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The inner service is readied per call, by `oneshot`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        match self.service.get() {
            Some(service) => Either::Left(service.clone().oneshot(request)),
            None => {
                let status = crate::status::not_ready(&self.waiting_for);
                Either::Right(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic::{Code, Status};
    use tower::service_fn;

    use super::*;

    fn answer_ok(
        _: http::Request<()>,
    ) -> std::future::Ready<Result<http::Response<Body>, Infallible>> {
        std::future::ready(Ok(http::Response::new(Body::empty())))
    }

    #[tokio::test]
    async fn unavailable_until_opened_then_the_service_answers() {
        let until = UntilOpen::new("etcd at http://127.0.0.1:2379");
        let response = until
            .clone()
            .oneshot(http::Request::new(()))
            .await
            .expect("infallible");
        let status = Status::from_header_map(response.headers()).expect("a status");
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(
            status.message(),
            "the server is not ready: it is waiting for etcd at http://127.0.0.1:2379"
        );
        until.open(service_fn(answer_ok));
        let response = until
            .oneshot(http::Request::new(()))
            .await
            .expect("infallible");
        assert!(Status::from_header_map(response.headers()).is_none());
    }
}
