//! The hostendpoint.v1 API shared by the server and its clients.
//!
//! # Layout
//! - [`build_info`]: the version and git commit of the build.
//! - [`pb`]: the code generated from `proto/` (messages, tonic client and server).
//! - [`model`]: plain domain types for a HostEndpoint, with validated fields.
//! - [`validation`]: Calico's rules, turning a [`pb::HostEndpoint`] into a [`model::HostEndpoint`]
//!   or into field violations.
//! - [`convert`]: the infallible conversions from the domain model back to [`pb`].
//! - [`flag_values`]: parsers of command-line values the binaries share.
//! - [`frames`]: the watch response message, built from pre-encoded events.
//! - [`responses`]: the get and list response messages, built from pre-encoded objects.
//! - [`selector`]: Calico's label selector language: parsing, matching labels, canonical text.
//! - [`words`]: errors in words, for messages people read.
//! - [`calico`]: Calico's v3 HostEndpoint JSON document, to and from the domain model.
//! - [`wire`]: the ErrorInfo domain, reasons and metadata keys, and the response header the
//!   server sends and clients act on.
//! - `logging` (feature `logging`): the log set-up of the server and the agent.
//! - `metrics_http` (feature `metrics-http`): the `/metrics` endpoint of the server and the
//!   agent.

pub mod build_info;
pub mod calico;
pub mod convert;
mod encoded;
pub mod flag_values;
pub mod frames;
#[cfg(feature = "logging")]
pub mod logging;
#[cfg(feature = "metrics-http")]
pub mod metrics_http;
pub mod model;
pub mod responses;
pub mod selector;
pub mod validation;
pub mod wire;
pub mod words;

/// The generated protobuf and gRPC code of package `hostendpoint.v1`.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::unwrap_used)]
pub mod pb {
    tonic::include_proto!("hostendpoint.v1");

    pub use crate::{
        frames::WatchHostEndpointsResponse,
        responses::{GetHostEndpointResponse, ListHostEndpointsResponse},
    };

    /// The encoded `FileDescriptorSet` of the API, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/hostendpoint_descriptor.bin"));
}

/// The messages exactly as prost generates them, none written by hand: what the hand-written
/// ones must encode like.
#[cfg(test)]
#[allow(missing_docs, unreachable_pub, dead_code, clippy::all)]
mod reference {
    include!(concat!(env!("OUT_DIR"), "/reference/hostendpoint.v1.rs"));
}
