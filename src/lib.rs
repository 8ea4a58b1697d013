//! The hostendpoint.v1 API shared by the server and its clients.
//!
//! # Layout
//! - [`pb`]: the code generated from `proto/` (messages, tonic client and server).
//! - [`model`]: plain domain types for a HostEndpoint, with validated fields.
//! - [`validation`]: Calico's rules, turning a [`pb::HostEndpoint`] into a [`model::HostEndpoint`]
//!   or into field violations.
//! - [`convert`]: the infallible conversions from the domain model back to [`pb`].
//! - [`frames`]: the watch response message, built from pre-encoded events.
//! - [`selector`]: Calico's label selector language: parsing, matching labels, canonical text.

pub mod convert;
pub mod frames;
pub mod model;
pub mod selector;
pub mod validation;

/// The generated protobuf and gRPC code of package `hostendpoint.v1`.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::unwrap_used)]
pub mod pb {
    tonic::include_proto!("hostendpoint.v1");

    pub use crate::frames::WatchHostEndpointsResponse;

    /// The encoded `FileDescriptorSet` of the API, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/hostendpoint_descriptor.bin"));
}
