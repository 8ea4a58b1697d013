//! The HTTP side of Prometheus metrics, shared by hostendpointd and hep-agent: binding and
//! serving an endpoint on the caller's runtime, and answering `/metrics` from a
//! prometheus-client registry in Prometheus' text format, or OpenMetrics when the scraper
//! asks for it in `Accept`. Each binary owns its own registry and routes (the server adds its
//! probes); this module owns only what both must do the same way.
//!
//! Why in the API crate, behind the `metrics-http` feature: it is the one crate that both the
//! server and the client depend on, and what the module needs is already in their graphs
//! (tonic's router brings axum, tonic brings tokio and tracing; prometheus-client is a small
//! pure-Rust crate). A separate crate would add a directory to the workspace's fixed layout
//! for some eighty lines; the feature keeps the dependencies out of builds that only want the
//! API types.

use std::net::SocketAddr;

use axum::{
    Router,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use prometheus_client::{
    encoding::{prometheus_text, text},
    registry::Registry,
};
use tokio::{net::TcpListener, task::JoinHandle};
use tracing::{Instrument as _, info, info_span, warn};

/// OpenMetrics' content type, which Prometheus asks for first.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A metrics endpoint, serving until dropped.
#[derive(Debug)]
pub struct MetricsServer {
    task: JoinHandle<()>,
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` and serves `router` on a task of the current runtime; logs `metrics
/// listening` with the bound address, so that `127.0.0.1:0` can be found from the log.
pub async fn serve(addr: SocketAddr, router: Router) -> std::io::Result<MetricsServer> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    if !bound.ip().is_loopback() {
        warn!(addr = %bound, "the metrics endpoint is reachable beyond this host");
    }
    info!(addr = %bound, "metrics listening");
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

/// The answer to a scrape of `registry` whose request carried `headers`.
pub fn exposition(registry: &Registry, headers: &HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let mut body = String::new();
    let (encoded, content_type) = if openmetrics {
        (text::encode(&mut body, registry), OPENMETRICS)
    } else {
        (
            prometheus_text::encode(&mut body, registry),
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
