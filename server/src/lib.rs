//! hostendpointd: the HostEndpoint gRPC API on a durable store.
//!
//! # Layout
//! - [`config`]: command-line flags.
//! - [`etcd`]: a generated client of etcd's v3 API.
//! - [`serve`]: wiring of the store, the API, health and reflection; shutdown.
//! - [`listener`]: accepting connections: limits, handshake deadline, TLS, the caller's peer.
//! - [`metrics`]: Prometheus metrics and the HTTP probes.
//! - [`security`]: TLS material, identities, roles, the audit log.
//! - [`api`]: the gRPC handlers: validate, call the store, map errors to statuses.
//! - [`store`]: the storage seam, the in-memory view and the sled backend.
//! - [`watch`]: WatchHostEndpoints streams.

pub mod api;
pub mod config;
pub mod etcd;
pub mod listener;
pub mod metrics;
pub mod security;
pub mod serve;
pub mod store;
pub mod watch;

pub use serve::{Datastore, ServeError, ServerConfig, run};
