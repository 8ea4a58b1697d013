//! Wiring: the store, the API, health and reflection on one tonic server, and shutdown.

use std::{future::Future, sync::Arc, time::Duration};

use hostendpoint_api::pb::{self, host_endpoint_service_server::HostEndpointServiceServer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Server, server::TcpIncoming};
use tonic_health::{ServingStatus, server::HealthReporter};
use tracing::{info, warn};

use crate::{
    api::HostEndpointApi,
    store::{
        Availability, Store,
        etcd::{self, EtcdConfig, EtcdStore},
        sled::{self, SledConfig, SledStore},
    },
    watch::{WatchConfig, Watches},
};

/// Everything `run` needs besides its listener.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where objects are kept.
    pub datastore: Datastore,
    /// Longest wait for in-flight calls once shutdown starts.
    pub drain_timeout: Duration,
    /// Watch settings.
    pub watch: WatchConfig,
    /// The most concurrent streams (calls and watches) on one HTTP/2 connection.
    pub max_concurrent_streams: u32,
}

/// The storage backend and its settings.
#[derive(Clone, Debug)]
pub enum Datastore {
    /// The embedded sled store (the default).
    Sled(SledConfig),
    /// An etcd v3 cluster, in Calico's key layout.
    Etcd(EtcdConfig),
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The sled store could not be opened.
    #[error(transparent)]
    OpenSled(#[from] sled::OpenError),
    /// The etcd store could not be opened.
    #[error(transparent)]
    OpenEtcd(#[from] etcd::OpenError),
    /// The reflection service could not be built from the descriptors.
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The transport failed.
    #[error("the gRPC transport failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The store could not be flushed at shutdown.
    #[error("cannot flush the store at shutdown: {0}")]
    Close(#[from] crate::store::Error),
}

/// The HTTP/2 connection receive window. h2 limits the small DATA frames a connection may have
/// buffered to half of it; every watch request is one, so a proxy that opens thousands of
/// watches at once on one connection needs room (16 MiB: about 30 000 pending requests).
const CONNECTION_WINDOW: u32 = 16 * 1024 * 1024;

const API_SERVICE: &str = pb::host_endpoint_service_server::SERVICE_NAME;

/// Serves the API on `listener` until `shutdown` completes, then drains within
/// `config.drain_timeout` and makes the store durable.
pub async fn run(
    config: ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    match &config.datastore {
        Datastore::Sled(sled) => {
            let store = SledStore::open(sled)?;
            serve(Arc::new(store), config, listener, shutdown).await
        }
        Datastore::Etcd(etcd) => {
            let store = EtcdStore::open(etcd).await?;
            serve(Arc::new(store), config, listener, shutdown).await
        }
    }
}

async fn serve<S: Store>(
    store: Arc<S>,
    config: ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    // Announced once the store is open, so "listening" means ready.
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "listening");
    }
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_service_status("", ServingStatus::Serving).await;
    health
        .set_service_status(API_SERVICE, ServingStatus::Serving)
        .await;

    let draining = CancellationToken::new();
    tokio::spawn(follow_availability(
        store.view().watch_availability(),
        health.clone(),
        draining.clone(),
    ));
    let signal = {
        let (draining, health) = (draining.clone(), health.clone());
        async move {
            shutdown.await;
            info!("shutting down: draining in-flight calls");
            set_all(&health, ServingStatus::NotServing).await;
            draining.cancel();
        }
    };
    let watches = Watches::new(Arc::clone(&store), config.watch.clone(), draining.clone());
    let api = HostEndpointApi::new(Arc::clone(&store), watches);
    let server = Server::builder()
        .max_concurrent_streams(Some(config.max_concurrent_streams))
        .initial_connection_window_size(Some(CONNECTION_WINDOW))
        .add_service(health_service)
        .add_service(reflection_v1()?)
        .add_service(reflection_v1alpha()?)
        .add_service(HostEndpointServiceServer::new(api))
        .serve_with_incoming_shutdown(incoming(listener), signal);
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result?,
        () = draining.cancelled() => {
            match tokio::time::timeout(config.drain_timeout, &mut server).await {
                Ok(result) => result?,
                Err(_) => warn!(timeout = ?config.drain_timeout, "drain timed out; closing anyway"),
            }
        }
    }
    store.close().await?;
    info!("store flushed; bye");
    Ok(())
}

/// Keeps the health status in step with the store: NOT_SERVING while its datastore is
/// unreachable or its writes fail, until shutdown (which sets NOT_SERVING for good).
async fn follow_availability(
    mut availability: tokio::sync::watch::Receiver<Availability>,
    health: HealthReporter,
    draining: CancellationToken,
) {
    loop {
        let serving = availability.borrow_and_update().serving();
        if draining.is_cancelled() {
            return;
        }
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        set_all(&health, status).await;
        tokio::select! {
            changed = availability.changed() => if changed.is_err() { return },
            () = draining.cancelled() => return,
        }
    }
}

/// Accepted connections, tuned for small RPCs: without TCP_NODELAY every answer waits for the
/// peer's delayed ACK (about 40 ms on Linux); keepalives find dead peers of idle watches.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(Duration::from_secs(60)))
}

async fn set_all(health: &HealthReporter, status: ServingStatus) {
    health.set_service_status("", status).await;
    health.set_service_status(API_SERVICE, status).await;
}

/// Every descriptor the server exposes, so reflection describes each service, health and
/// reflection included.
const DESCRIPTOR_SETS: [&[u8]; 5] = [
    pb::FILE_DESCRIPTOR_SET,
    // google.rpc error details, so grpcurl can print a BadRequest.
    tonic_types::pb::FILE_DESCRIPTOR_SET,
    tonic_health::pb::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
];

fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    DESCRIPTOR_SETS.iter().fold(
        tonic_reflection::server::Builder::configure().include_reflection_service(false),
        |builder, set| builder.register_encoded_file_descriptor_set(set),
    )
}

fn reflection_v1() -> Result<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    tonic_reflection::server::Error,
> {
    reflection_builder().build_v1()
}

fn reflection_v1alpha() -> Result<
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
    tonic_reflection::server::Error,
> {
    reflection_builder().build_v1alpha()
}
