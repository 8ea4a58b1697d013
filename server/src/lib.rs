//! hostendpointd: the HostEndpoint gRPC API on a durable store.
//!
//! # Layout
//! - [`config`]: command-line flags.
//! - [`serve`]: wiring of the store, the API, health and reflection; shutdown.
//! - [`listener`]: accepting connections: limits, handshake deadline, TLS, the caller's peer.
//! - [`metrics`]: Prometheus metrics and the HTTP probes.
//! - [`security`]: TLS material, identities, roles, the audit log.
//! - [`api`]: the gRPC handlers: validate, then call the store or open a watch.
//! - [`status`]: every gRPC status the server sends, from the errors of the other modules.
//! - [`store`]: the storage seam, the in-memory view and its change streams, the sled and
//!   etcd backends.
//! - [`watch`]: WatchHostEndpoints streams.

pub mod api;
pub mod config;
pub mod listener;
pub mod metrics;
pub mod security;
pub mod serve;
pub mod status;
pub mod store;
pub mod watch;

pub use serve::{Datastore, ServeError, ServerConfig, run};
