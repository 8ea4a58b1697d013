//! A Rust client for hostendpointd, and the home of the `hepctl` CLI and the `hep-agent` node
//! agent.
//!
//! ```no_run
//! # async fn example() -> Result<(), hostendpoint_client::Error> {
//! use futures::TryStreamExt as _;
//! use hostendpoint_client::{Client, ListParams};
//!
//! let client = Client::connect("http://127.0.0.1:50051").await?;
//! let hep = client.get("endpoint1").await?;
//! println!("{} is on {}", hep.metadata.name, hep.spec.node);
//! let all: Vec<_> = client.list(ListParams::default()).try_collect().await?;
//! println!("{} host endpoints", all.len());
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//! - [`Client`]: typed create, get, update, delete and paged list over the domain model.
//! - [`ConnectOptions`]: server addresses, timeouts and keepalive; [`TlsFiles`]: TLS, with the
//!   files re-read for each connection.
//! - [`Error`]: typed errors (not found, already exists, conflict with both versions, invalid
//!   with the field violations, unavailable, ...), and failures of the connection in words
//!   (refused, timed out, not a gRPC server).
//! - [`watcher`]: a resuming, relisting stream of watch events.
//! - [`reflector`]: an in-memory store kept by a watcher.

mod activity;
mod backoff;
mod client;
mod connect;
mod diagnose;
mod dial;
mod error;
pub mod reflector;
mod tls;
pub mod watcher;

pub use self::{
    backoff::BackoffConfig,
    client::{Client, ListPage, ListParams, Preconditions},
    connect::ConnectOptions,
    error::{Error, Recovery, Result, duration_words, io_words},
    tls::TlsFiles,
};
pub use hostendpoint_api::model;
