//! go-grpc-prometheus' server metrics, so existing gRPC dashboards work unchanged:
//! `grpc_server_started_total`, `grpc_server_handled_total` (with `grpc_code`),
//! `grpc_server_handling_seconds`, `grpc_server_msg_received_total` and
//! `grpc_server_msg_sent_total`, labelled `grpc_type`, `grpc_service` and `grpc_method`.
//!
//! As go-grpc-prometheus' `InitializeMetrics` does, every method of every service the server
//! offers (health and reflection included) gets its series at start-up, from the descriptors
//! reflection serves: a call then only looks its method up and bumps atomics, and a path that
//! names no method (a scanner's) adds no series. The status comes from the response's
//! trailers, or its headers for a trailers-only response; messages are counted by following
//! gRPC's length-prefixed framing of the bodies ([`body`]).

mod body;

use std::{collections::HashMap, pin::Pin, sync::Arc, task::Context, task::Poll, time::Instant};

use prometheus_client::{
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};
use prost::Message as _;
use tower::{Layer, Service};

use self::body::{ObservedRequest, ObservedResponse};

/// gRPC's codes by number, named as grpc-go's `codes.Code.String()` names them.
const CODES: [&str; 17] = [
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];

/// Prometheus' default buckets, which go-grpc-prometheus uses for the handling time.
const HANDLING_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

type Labels = Vec<(&'static str, String)>;

/// The families, and every method's series in them.
#[derive(Debug)]
pub struct GrpcMetrics {
    started: Family<Labels, Counter>,
    handled: Family<Labels, Counter>,
    seconds: Family<Labels, Histogram>,
    received: Family<Labels, Counter>,
    sent: Family<Labels, Counter>,
    /// By path (`/package.Service/Method`); filled by [`GrpcMetrics::add_services`].
    methods: HashMap<String, Arc<MethodMetrics>>,
}

/// One method's series.
#[derive(Debug)]
struct MethodMetrics {
    started: Counter,
    /// By gRPC code number.
    handled: [Counter; 17],
    seconds: Histogram,
    received: Counter,
    sent: Counter,
}

impl GrpcMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let this = Self {
            started: Family::default(),
            handled: Family::default(),
            seconds: Family::new_with_constructor(|| Histogram::new(HANDLING_BUCKETS)),
            received: Family::default(),
            sent: Family::default(),
            methods: HashMap::new(),
        };
        registry.register(
            "grpc_server_started",
            "Total number of RPCs started on the server",
            this.started.clone(),
        );
        registry.register(
            "grpc_server_handled",
            "Total number of RPCs completed on the server, regardless of success or failure",
            this.handled.clone(),
        );
        registry.register("grpc_server_handling_seconds", "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server", this.seconds.clone());
        registry.register(
            "grpc_server_msg_received",
            "Total number of RPC stream messages received on the server",
            this.received.clone(),
        );
        registry.register(
            "grpc_server_msg_sent",
            "Total number of gRPC stream messages sent by the server",
            this.sent.clone(),
        );
        this
    }

    /// Creates the series of every method of every service in `descriptor_sets` (encoded
    /// `FileDescriptorSet`s); a set that does not decode is skipped.
    pub fn add_services(&mut self, descriptor_sets: &[&[u8]]) {
        let files = descriptor_sets
            .iter()
            .filter_map(|set| prost_types::FileDescriptorSet::decode(*set).ok())
            .flat_map(|set| set.file);
        for file in files {
            for service in &file.service {
                let name = match file.package() {
                    "" => service.name().to_owned(),
                    package => format!("{package}.{}", service.name()),
                };
                for method in &service.method {
                    let kind = grpc_type(method.client_streaming(), method.server_streaming());
                    let series = self.method_series(kind, &name, method.name());
                    self.methods
                        .insert(format!("/{name}/{}", method.name()), Arc::new(series));
                }
            }
        }
    }

    fn method_series(&self, kind: &'static str, service: &str, method: &str) -> MethodMetrics {
        let labels: Labels = vec![
            ("grpc_type", kind.to_owned()),
            ("grpc_service", service.to_owned()),
            ("grpc_method", method.to_owned()),
        ];
        let with_code = |code: &str| {
            let mut labels = labels.clone();
            labels.push(("grpc_code", code.to_owned()));
            self.handled.get_or_create(&labels).clone()
        };
        MethodMetrics {
            started: self.started.get_or_create(&labels).clone(),
            handled: CODES.map(with_code),
            seconds: self.seconds.get_or_create(&labels).clone(),
            received: self.received.get_or_create(&labels).clone(),
            sent: self.sent.get_or_create(&labels).clone(),
        }
    }

    fn method(&self, path: &str) -> Option<Arc<MethodMetrics>> {
        self.methods.get(path).cloned()
    }
}

/// go-grpc-prometheus' `grpc_type` values.
fn grpc_type(client_streaming: bool, server_streaming: bool) -> &'static str {
    match (client_streaming, server_streaming) {
        (false, false) => "unary",
        (true, false) => "client_stream",
        (false, true) => "server_stream",
        (true, true) => "bidi_stream",
    }
}

// === impl MethodMetrics ===

impl MethodMetrics {
    /// Records the end of a call that started at `start` with gRPC code `code`.
    fn handled(&self, code: usize, start: Instant) {
        // An unknown number is counted as grpc-go counts it: Unknown.
        let code = if code < CODES.len() { code } else { 2 };
        self.handled[code].inc();
        self.seconds.observe(start.elapsed().as_secs_f64());
    }
}

/// Instruments every call of the server it wraps; a pass-through without metrics.
#[derive(Clone, Debug, Default)]
pub struct GrpcMetricsLayer {
    metrics: Option<Arc<GrpcMetrics>>,
}

impl GrpcMetricsLayer {
    /// A layer that records into `metrics`, or records nothing.
    pub fn new(metrics: Option<Arc<GrpcMetrics>>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for GrpcMetricsLayer {
    type Service = Instrumented<S>;

    fn layer(&self, inner: S) -> Instrumented<S> {
        Instrumented {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`GrpcMetricsLayer`] makes.
#[derive(Clone, Debug)]
pub struct Instrumented<S> {
    inner: S,
    metrics: Option<Arc<GrpcMetrics>>,
}

impl<S, B> Service<http::Request<B>> for Instrumented<S>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = self
            .metrics
            .as_ref()
            .and_then(|metrics| metrics.method(request.uri().path()));
        let Some(method) = method else {
            let response = self.inner.call(request.map(tonic::body::Body::new));
            return Box::pin(response);
        };
        let start = Instant::now();
        method.started.inc();
        let received = method.received.clone();
        let request =
            request.map(|body| tonic::body::Body::new(ObservedRequest::new(body, received)));
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            if let Some(code) = body::status_of(response.headers()) {
                // Trailers-only: the call ended with its headers.
                method.handled(code, start);
                return Ok(response);
            }
            Ok(response
                .map(|body| tonic::body::Body::new(ObservedResponse::new(body, method, start))))
        })
    }
}
