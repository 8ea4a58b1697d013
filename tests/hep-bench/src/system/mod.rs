//! One client type over every system, so that every scenario runs the same code against each:
//! [`Client`] for the unary operations, [`WatchStream`] for watches.
//!
//! Each client is one HTTP/2 connection (over TLS, with a client certificate, to hostendpointd
//! (mTLS)), made once and reused for every call, as real clients do. Listings decode every
//! object they return, as a real client would: protobuf for hostendpointd (on either
//! backend), Calico's JSON for etcd. A get by name checks only that the answer is the object
//! asked for, at some revision, on every system alike ([`slim`]). Watch streams decode only
//! what the measurement needs (the revision, and for etcd's node filter the node).

mod etcd;
mod hep;
mod slim;

use std::net::SocketAddr;

use anyhow::Context as _;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use crate::{
    config::SystemKind,
    workload::{Version, Workload},
};

/// A client of one system over one HTTP/2 connection. Cheap to clone (clones share the
/// connection).
#[derive(Clone, Debug)]
pub(crate) enum Client {
    /// hostendpointd's gRPC API.
    Hep(hep::HepClient),
    /// etcd's v3 API, used the way Calico's etcdv3 datastore uses it.
    Etcd(etcd::EtcdClient),
}

/// A watch stream of any system.
#[derive(Debug)]
pub(crate) enum WatchStream {
    /// A `WatchHostEndpoints` stream.
    Hep(hep::HepWatch),
    /// An etcd prefix watch.
    Etcd(etcd::EtcdWatch),
}

/// Where a watch starts and what it selects.
#[derive(Clone, Debug)]
pub(crate) struct WatchSpec {
    /// The revision to resume after (no snapshot).
    pub(crate) after_revision: u64,
    /// Only this node's objects; every object when `None`.
    pub(crate) node: Option<String>,
    /// etcd only: ask for each event's previous value, as Calico's watcher does.
    pub(crate) prev_kv: bool,
}

/// Whether a call failed because the server could not do it in time (etcd's "request timed
/// out", a deadline, a full queue): a result under overload, not a fault of the harness.
pub(crate) fn overloaded(err: &anyhow::Error) -> bool {
    err.downcast_ref::<tonic::Status>().is_some_and(|status| {
        matches!(
            status.code(),
            tonic::Code::Unavailable
                | tonic::Code::DeadlineExceeded
                | tonic::Code::ResourceExhausted
        )
    })
}

/// Where a server is reached, and how: in plaintext, or over TLS with this configuration
/// (the CA to trust, and the client certificate to present).
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// The server's address.
    pub(crate) addr: SocketAddr,
    /// TLS, or plaintext for `None`.
    pub(crate) tls: Option<ClientTlsConfig>,
}

impl Target {
    /// A server that speaks plaintext.
    pub(crate) fn plain(addr: SocketAddr) -> Self {
        Self { addr, tls: None }
    }
}

/// A new HTTP/2 connection to `target` (with its TLS handshake, if it speaks TLS).
pub(crate) async fn connect(target: &Target) -> anyhow::Result<Channel> {
    connect_with(target, None).await
}

/// A new HTTP/2 connection with HTTP/2 flow-control windows of `window` bytes (per stream and
/// for the connection), or hyper's defaults for `None`.
pub(crate) async fn connect_with(target: &Target, window: Option<u32>) -> anyhow::Result<Channel> {
    let Target { addr, tls } = target;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))?.tcp_nodelay(true);
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls.clone())?;
    }
    if let Some(window) = window {
        endpoint = endpoint
            .initial_stream_window_size(window)
            .initial_connection_window_size(window);
    }
    endpoint
        .connect()
        .await
        .with_context(|| format!("cannot connect to {addr}"))
}

impl Client {
    /// A client of `kind` on `channel`.
    pub(crate) fn new(kind: SystemKind, channel: Channel) -> Self {
        if kind.is_hostendpointd() {
            Self::Hep(hep::HepClient::new(channel))
        } else {
            Self::Etcd(etcd::EtcdClient::new(channel))
        }
    }

    /// A client of `kind` on a new connection to `target`.
    pub(crate) async fn connect(kind: SystemKind, target: &Target) -> anyhow::Result<Self> {
        Ok(Self::new(kind, connect(target).await?))
    }

    /// Creates an object that must not exist; returns its revision.
    pub(crate) async fn create(
        &mut self,
        workload: &Workload,
        version: Version,
    ) -> anyhow::Result<u64> {
        match self {
            Self::Hep(c) => c.create(workload, version).await,
            Self::Etcd(c) => c.create(workload, version).await,
        }
    }

    /// Replaces an object whose revision must be `expected`; returns the new revision.
    pub(crate) async fn update(
        &mut self,
        workload: &Workload,
        version: Version,
        expected: u64,
    ) -> anyhow::Result<u64> {
        match self {
            Self::Hep(c) => c.update(workload, version, expected).await,
            Self::Etcd(c) => c.update(workload, version, expected).await,
        }
    }

    /// Writes new versions of objects as fast as the system allows, without preconditions
    /// (setting up history, not measured); returns each one's revision.
    pub(crate) async fn overwrite(
        &mut self,
        workload: &Workload,
        versions: &[Version],
    ) -> anyhow::Result<Vec<u64>> {
        match self {
            Self::Hep(c) => c.overwrite(workload, versions).await,
            Self::Etcd(c) => c.overwrite(workload, versions).await,
        }
    }

    /// Creates objects that do not exist yet as fast as the system allows (filling a store,
    /// not measured); returns each one's revision. etcd puts them without Calico's
    /// precondition: nothing else writes them meanwhile.
    pub(crate) async fn create_batch(
        &mut self,
        workload: &Workload,
        versions: &[Version],
    ) -> anyhow::Result<Vec<u64>> {
        match self {
            Self::Hep(c) => c.create_batch(workload, versions).await,
            Self::Etcd(c) => c.overwrite(workload, versions).await,
        }
    }

    /// Reads one object by name, and checks its name and revision.
    pub(crate) async fn get(&mut self, index: usize) -> anyhow::Result<()> {
        match self {
            Self::Hep(c) => c.get(index).await,
            Self::Etcd(c) => c.get(index).await,
        }
    }

    /// Lists every object, or one node's, in pages of `page_size` that all reflect one
    /// revision, decoding each; returns how many matched.
    pub(crate) async fn list(
        &mut self,
        node: Option<&str>,
        page_size: u32,
    ) -> anyhow::Result<usize> {
        match self {
            Self::Hep(c) => c.list(node, page_size).await,
            Self::Etcd(c) => c.list(node, page_size).await,
        }
    }

    /// The store's current revision.
    pub(crate) async fn revision(&mut self) -> anyhow::Result<u64> {
        match self {
            Self::Hep(c) => c.revision().await,
            Self::Etcd(c) => c.revision().await,
        }
    }
}

/// Opens a watch of every object with the initial state, on `channel`, as each system's
/// clients do, and returns how many objects that state had once the watch is live:
/// hostendpointd, a `WatchHostEndpoints` stream from no revision read until its SYNCED marker;
/// etcd, Calico's way, a prefix listing in pages of `page_size` and then a watch from its
/// revision + 1 (with `prev_kv` as asked), until etcd created it. Every object is decoded, as
/// in a listing.
pub(crate) async fn snapshot(
    kind: SystemKind,
    channel: Channel,
    page_size: u32,
    prev_kv: bool,
) -> anyhow::Result<usize> {
    if kind.is_hostendpointd() {
        hep::snapshot(channel).await
    } else {
        etcd::snapshot(channel, page_size, prev_kv).await
    }
}

impl WatchStream {
    /// Opens a watch and waits until the server has set it up.
    pub(crate) async fn open(
        kind: SystemKind,
        channel: Channel,
        spec: WatchSpec,
    ) -> anyhow::Result<Self> {
        Ok(if kind.is_hostendpointd() {
            Self::Hep(hep::HepWatch::open(channel, spec).await?)
        } else {
            Self::Etcd(etcd::EtcdWatch::open(channel, spec).await?)
        })
    }

    /// Waits for the next batch of events and appends the revisions of those that match the
    /// watch to `revisions`. `Ok(false)` when the stream ended.
    pub(crate) async fn next_batch(&mut self, revisions: &mut Vec<u64>) -> anyhow::Result<bool> {
        match self {
            Self::Hep(w) => w.next_batch(revisions).await,
            Self::Etcd(w) => w.next_batch(revisions).await,
        }
    }
}
