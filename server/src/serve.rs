//! Wiring: the store, the API, health and reflection on one tonic server, and shutdown.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, LazyLock},
    time::Duration,
};

use hostendpoint_api::pb::{self, host_endpoint_service_server::HostEndpointServiceServer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic_health::{ServingStatus, server::HealthReporter};
use tracing::{info, warn};

use crate::{
    api::{self, HostEndpointApi, PageTokens, UntilOpen},
    listener::{self, ListenConfig},
    metrics::{self, GrpcMetricsLayer, Metrics, http::MetricsServer},
    security::{Security, SecurityConfig, SecurityError},
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
    /// TLS, authorization and audit.
    pub security: SecurityConfig,
    /// How connections are accepted and kept.
    pub connections: ConnectionConfig,
    /// Where to serve metrics and the HTTP probes; `None`: nowhere, and nothing is recorded.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// How connections are accepted and kept.
#[derive(Clone, Debug)]
pub struct ConnectionConfig {
    /// A connection must complete its handshake within this.
    pub handshake_timeout: Duration,
    /// The most open connections.
    pub max_connections: usize,
    /// A connection without calls for this long is closed; zero keeps it.
    pub idle_timeout: Duration,
    /// Interval of HTTP/2 keepalive pings.
    pub keepalive_interval: Duration,
    /// How long a ping may go unanswered before the connection is closed.
    pub keepalive_timeout: Duration,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            handshake_timeout: listener::DEFAULT_HANDSHAKE_TIMEOUT,
            max_connections: listener::DEFAULT_MAX_CONNECTIONS,
            idle_timeout: listener::DEFAULT_IDLE_TIMEOUT,
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(20),
        }
    }
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
    Reflection(tonic_reflection::server::Error),
    /// The transport failed.
    #[error("the gRPC transport failed: {0}")]
    Transport(tonic::transport::Error),
    /// The security settings cannot be used.
    #[error(transparent)]
    Security(#[from] SecurityError),
    /// The secret that signs page tokens could not be read or created.
    #[error("cannot load the page-token secret: {0}")]
    PageTokenSecret(String),
    /// The thread that opened the store ended without an answer (it panicked).
    #[error("the thread that opened the store failed: {0}")]
    OpeningFailed(String),
    /// The metrics endpoint could not listen.
    #[error("cannot serve metrics on {addr}: {cause}")]
    MetricsListen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        cause: std::io::Error,
    },
    /// The store could not be flushed at shutdown.
    #[error("cannot flush the store at shutdown: {0}")]
    Close(crate::store::Error),
}

/// The HTTP/2 connection receive window. h2 limits the small DATA frames a connection may have
/// buffered to half of it; every watch request is one, so a proxy that opens thousands of
/// watches at once on one connection needs room (16 MiB: about 30 000 pending requests).
const CONNECTION_WINDOW: u32 = 16 * 1024 * 1024;

/// The file in a sled data directory that keeps the page-token secret: tokens survive a
/// restart, and a wiped store gets a new secret with its new data.
const PAGE_TOKEN_SECRET_FILE: &str = "page-token.key";
/// The etcd key that keeps the page-token secret every replica shares.
const PAGE_TOKEN_SECRET_KEY: &[u8] = b"/calico/hostendpointd/page-token-key";

const API_SERVICE: &str = pb::host_endpoint_service_server::SERVICE_NAME;

/// Serves the API on `listener` until `shutdown` completes, then drains within
/// `config.drain_timeout` and makes the store durable.
pub async fn run(
    config: ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    // First: the store opens its files under the raised limit too.
    let open_files = listener::raise_open_files_limit();
    let draining = CancellationToken::new();
    // Before the store opens, so that a mistake in the files fails the start at once.
    let security = Security::start(&config.security, &draining)?;
    warn_if_open(&listener, &config.security);
    let connections = &config.connections;
    let front = Front {
        listener,
        listen: ListenConfig {
            tls: security.tls,
            handshake_timeout: connections.handshake_timeout,
            max_connections: listener::connection_cap(connections.max_connections, open_files),
            idle_timeout: Some(connections.idle_timeout).filter(|t| !t.is_zero()),
        },
        authz: security.authz,
        draining,
    };
    // Before the store opens, so that probes see it open (and /readyz says it is not yet).
    let (metrics, _endpoint) = start_metrics(&config, &front.draining).await?;
    let mut config = config;
    config.watch.metrics = metrics.watch.clone();
    match config.datastore.clone() {
        Datastore::Sled(sled) => {
            let sled = SledConfig {
                metrics: metrics.wal.clone(),
                ..sled
            };
            let waiting_for = format!("its data directory {} to open", sled.path.display());
            let opening = open_sled(sled, Arc::clone(&metrics));
            serve(opening, waiting_for, config, front, &metrics, shutdown).await
        }
        Datastore::Etcd(etcd) => {
            let etcd = EtcdConfig {
                metrics: metrics.etcd.clone(),
                ..etcd
            };
            let waiting_for = format!("etcd at {}", etcd.endpoints.join(","));
            let opening = open_etcd(etcd, Arc::clone(&metrics));
            serve(opening, waiting_for, config, front, &metrics, shutdown).await
        }
    }
}

/// An open store and the page tokens it signs.
type Opened<S> = (Arc<S>, PageTokens);

/// Opens the sled store (on a blocking thread: replaying the log takes a while) and its
/// page-token secret.
async fn open_sled(
    sled: SledConfig,
    metrics: Arc<Metrics>,
) -> Result<Opened<SledStore>, ServeError> {
    let opened = tokio::task::spawn_blocking(move || {
        let store = Arc::new(SledStore::open(&sled)?);
        let secret = api::load_or_create_secret(&sled.path.join(PAGE_TOKEN_SECRET_FILE))
            .map_err(|err| ServeError::PageTokenSecret(err.to_string()))?;
        Ok::<_, ServeError>((store, secret))
    })
    .await
    .map_err(|err| ServeError::OpeningFailed(err.to_string()))?;
    let (store, secret) = opened?;
    metrics.attach_store(store.clone(), store.view().watch_availability());
    let tokens = PageTokens::new(&secret, store.store_uid());
    Ok((store, tokens))
}

/// Opens the etcd store, waiting for etcd as long as it takes, and reads (or creates) the
/// page-token secret every replica shares.
async fn open_etcd(
    etcd: EtcdConfig,
    metrics: Arc<Metrics>,
) -> Result<Opened<EtcdStore>, ServeError> {
    let store = Arc::new(EtcdStore::open(&etcd).await?);
    let secret = store
        .shared_value(PAGE_TOKEN_SECRET_KEY, api::random_secret().to_vec())
        .await
        .map_err(|err| ServeError::PageTokenSecret(err.to_string()))?;
    let secret = <[u8; api::SECRET_LEN]>::try_from(secret).map_err(|_| {
        ServeError::PageTokenSecret("the secret in etcd has the wrong length".into())
    })?;
    let tokens = PageTokens::new(&secret, store.store_uid());
    // After the page-token secret: a replica that cannot read it is not ready.
    metrics.attach_store(store.clone(), store.view().watch_availability());
    Ok((store, tokens))
}

/// The metrics, and their endpoint when `config.metrics_listen` names one (serving until
/// dropped). Without an endpoint nothing reads them, and the gRPC layer records nothing.
async fn start_metrics(
    config: &ServerConfig,
    draining: &CancellationToken,
) -> Result<(Arc<Metrics>, Option<MetricsServer>), ServeError> {
    let mut metrics = Metrics::new(draining.clone());
    let Some(addr) = config.metrics_listen else {
        return Ok((Arc::new(metrics), None));
    };
    if let Some(grpc) = Arc::get_mut(&mut metrics.grpc) {
        grpc.add_services(&DESCRIPTOR_SETS);
    }
    let metrics = Arc::new(metrics);
    let endpoint = metrics::http::serve(addr, Arc::clone(&metrics))
        .await
        .map_err(|cause| ServeError::MetricsListen { addr, cause })?;
    Ok((metrics, Some(endpoint)))
}

/// What faces the clients: the listener, how connections are accepted and authorized, and the
/// signal that starts the drain.
struct Front {
    listener: TcpListener,
    listen: ListenConfig,
    authz: Arc<crate::security::authz::Authorizer>,
    draining: CancellationToken,
}

/// Warns when anyone who reaches a non-loopback address may call every RPC.
fn warn_if_open(listener: &TcpListener, security: &SecurityConfig) {
    let client_certs = security.tls.as_ref().is_some_and(|t| t.client_ca.is_some());
    if let Ok(addr) = listener.local_addr()
        && !addr.ip().is_loopback()
        && !client_certs
    {
        warn!(
            %addr,
            "client certificates are not required (--tls-client-ca-file): anyone who reaches \
             this address can read, change and delete every host endpoint"
        );
    }
}

/// Serves from the start: health says NOT_SERVING and the API answers UNAVAILABLE until
/// `opening` completes; then until `shutdown`, draining and flushing the store at the end.
async fn serve<S: Store>(
    opening: impl Future<Output = Result<Opened<S>, ServeError>>,
    waiting_for: String,
    config: ServerConfig,
    front: Front,
    metrics: &Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let Front {
        listener,
        listen,
        authz,
        draining,
    } = front;
    let addr = listener.local_addr().ok();
    let tls = listen.tls.is_some();
    let (health, health_service) = tonic_health::server::health_reporter();
    set_all(&health, ServingStatus::NotServing).await;
    tokio::spawn({
        let (draining, health) = (draining.clone(), health.clone());
        async move {
            shutdown.await;
            info!("shutting down: draining in-flight calls");
            set_all(&health, ServingStatus::NotServing).await;
            draining.cancel();
        }
    });
    if let Some(addr) = addr {
        info!(%addr, tls, "accepting connections; ready once the store is open");
    }
    let api = UntilOpen::new(waiting_for);
    let connections = &config.connections;
    let incoming = listener::incoming(listener, listen, draining.clone());
    let server = Server::builder()
        .max_concurrent_streams(Some(config.max_concurrent_streams))
        .initial_connection_window_size(Some(CONNECTION_WINDOW))
        .http2_keepalive_interval(Some(connections.keepalive_interval))
        .http2_keepalive_timeout(Some(connections.keepalive_timeout))
        // Every answer states the server's version, refusals included (`hepctl version`).
        .layer(tower::util::MapResponseLayer::new(stamp_version))
        // Outermost: it sees every call, those the layers below refuse included.
        .layer(GrpcMetricsLayer::new(
            config.metrics_listen.map(|_| Arc::clone(&metrics.grpc)),
        ))
        .layer(listener::CallsLayer)
        .layer(api::too_large_layer())
        .add_service(health_service)
        .add_service(reflection_v1().map_err(ServeError::Reflection)?)
        .add_service(reflection_v1alpha().map_err(ServeError::Reflection)?)
        .add_service(api.clone())
        .serve_with_incoming_shutdown(incoming, draining.clone().cancelled_owned());
    tokio::pin!(server);

    let (store, tokens) = tokio::select! {
        // Biased: the server ends only once draining, so a stop is always seen as one.
        biased;
        () = draining.cancelled() => {
            let drained = drained(server.as_mut(), config.drain_timeout).await;
            info!("stopped before the store was open");
            return drained;
        }
        opened = opening => match opened {
            Ok(opened) => opened,
            Err(err) => {
                draining.cancel();
                let _ = drained(server.as_mut(), config.drain_timeout).await;
                return Err(err);
            }
        },
        // Ends Ok only once draining: `biased` orders the polls, but the drain may start on
        // another thread between this select's poll of `draining` and of `server`.
        result = &mut server => {
            result.map_err(ServeError::Transport)?;
            if draining.is_cancelled() {
                info!("stopped before the store was open");
            } else {
                warn!("stopped accepting connections before the store was open");
            }
            return Ok(());
        }
    };
    let watches = Watches::new(Arc::clone(&store), config.watch.clone(), draining.clone());
    api.open(
        HostEndpointServiceServer::new(HostEndpointApi::new(
            Arc::clone(&store),
            watches,
            tokens,
            Arc::clone(&authz),
        ))
        .max_decoding_message_size(api::MAX_REQUEST_BYTES),
    );
    tokio::spawn(follow_availability(
        store.view().watch_availability(),
        health.clone(),
        draining.clone(),
    ));
    // Announced once the store is open, so "listening" means ready.
    if let Some(addr) = addr {
        info!(%addr, tls, "listening");
    }
    tokio::select! {
        result = &mut server => result.map_err(ServeError::Transport)?,
        () = draining.cancelled() => drained(server.as_mut(), config.drain_timeout).await?,
    }
    let closed = store.close().await.map_err(ServeError::Close);
    // The drained calls' audit lines, before the process (and the writer thread) ends.
    let _ = tokio::task::spawn_blocking(move || authz.flush_audit()).await;
    closed?;
    info!("store flushed; bye");
    Ok(())
}

/// Waits, once draining has started, for the server to finish its in-flight calls: at most
/// `timeout`, after which the rest are cut off.
async fn drained(
    server: Pin<&mut impl Future<Output = Result<(), tonic::transport::Error>>>,
    timeout: Duration,
) -> Result<(), ServeError> {
    match tokio::time::timeout(timeout, server).await {
        Ok(result) => result.map_err(ServeError::Transport),
        Err(_) => {
            warn!(
                timeout = %humantime::format_duration(timeout),
                "drain timed out; closing anyway"
            );
            Ok(())
        }
    }
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

/// Adds the `hostendpointd-version` header to a response (a version that were no valid
/// header value is left out rather than fail the call). The header is built once: every
/// answer carries it.
fn stamp_version<B>(mut response: http::Response<B>) -> http::Response<B> {
    use hostendpoint_api::build_info::{VERSION_HEADER, long_version};
    static HEADER: LazyLock<Option<(http::HeaderName, http::HeaderValue)>> = LazyLock::new(|| {
        let name = http::HeaderName::from_static(VERSION_HEADER);
        http::HeaderValue::from_str(long_version())
            .ok()
            .map(|value| (name, value))
    });
    if let Some((name, value)) = HEADER.as_ref() {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}
