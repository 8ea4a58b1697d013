//! The end-to-end test harness: starts the real `hostendpointd` binary on `127.0.0.1:0` with a
//! temporary data directory, connects gRPC clients to it, stops it politely or kills it, and
//! builds fixtures.
//!
//! The binaries are located next to the test executable (`target/<profile>/`); `./tests/run`
//! builds them before running the tests.

pub mod agent;
pub mod calls;
pub mod etcd;
pub mod faults;
pub mod fixtures;
pub mod golden;
pub mod hepctl;
pub mod listeners;
pub mod metrics;
pub mod mtls;
pub mod pki;
pub mod racing;
pub mod server;
pub mod tools;
pub mod wait;
pub mod watching;

pub use calls::*;
pub use fixtures::*;
pub use server::{ServerProcess, binary, etcd_backend, rev, run_to_exit};
pub use wait::wait_for;

/// The generated client of the API, connected over a tonic channel.
pub type ApiClient = hostendpoint_api::pb::host_endpoint_service_client::HostEndpointServiceClient<
    tonic::transport::Channel,
>;
