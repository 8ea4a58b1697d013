//! The server's HTTP endpoint: `/metrics`, `/livez` and `/readyz`, on the server's runtime.
//! Serving and the exposition itself are `hostendpoint_api::metrics_http`'s, shared with
//! hep-agent; this module owns the server's routes and what `/readyz` answers.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
pub use hostendpoint_api::metrics_http::MetricsServer;
use hostendpoint_api::metrics_http::{self, exposition};

use super::Metrics;

/// Binds `addr` and serves the endpoint on a task of the current runtime; logs `metrics
/// listening` with the bound address (port 0 picks one).
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<MetricsServer> {
    let router = Router::new()
        .route("/metrics", get(scrape))
        .route("/livez", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(metrics);
    metrics_http::serve(addr, router).await
}

async fn scrape(State(metrics): State<Arc<Metrics>>, headers: HeaderMap) -> Response {
    exposition(metrics.registry(), &headers)
}

async fn ready(State(metrics): State<Arc<Metrics>>) -> Response {
    match metrics.not_ready() {
        None => (StatusCode::OK, "ok\n").into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        )
            .into_response(),
    }
}
