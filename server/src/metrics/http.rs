//! The HTTP endpoint: `/metrics` (Prometheus text, or OpenMetrics when the scraper asks for it
//! in `Accept`), `/livez` and `/readyz`, on the server's runtime.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use prometheus_client::encoding::{prometheus_text, text};
use tokio::{net::TcpListener, task::JoinHandle};
use tracing::{Instrument as _, info, info_span, warn};

use super::Metrics;

/// OpenMetrics' content type, which Prometheus asks for first.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The endpoint, serving until dropped.
#[derive(Debug)]
pub struct MetricsServer {
    task: JoinHandle<()>,
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` and serves the endpoint on a task of the current runtime; logs `metrics
/// listening` with the bound address (port 0 picks one).
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<MetricsServer> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    if !bound.ip().is_loopback() {
        warn!(addr = %bound, "the metrics endpoint is reachable beyond this host");
    }
    info!(addr = %bound, "metrics listening");
    let router = Router::new()
        .route("/metrics", get(scrape))
        .route("/livez", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(metrics);
    let task = tokio::spawn(
        async move {
            if let Err(err) = axum::serve(listener, router).await {
                warn!(error = %err, "the metrics endpoint failed");
            }
        }
        .instrument(info_span!("metrics_http")),
    );
    Ok(MetricsServer { task })
}

async fn scrape(State(metrics): State<Arc<Metrics>>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let mut body = String::new();
    let (encoded, content_type) = if openmetrics {
        (text::encode(&mut body, metrics.registry()), OPENMETRICS)
    } else {
        (
            prometheus_text::encode(&mut body, metrics.registry()),
            prometheus_text::CONTENT_TYPE,
        )
    };
    match encoded {
        Ok(()) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot encode the metrics\n",
        )
            .into_response(),
    }
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
