//! Fixtures shared by hepctl's unit tests.

use hostendpoint_api::model::{HostEndpoint, HostEndpointSpec, ObjectMeta};

/// A minimal valid host endpoint `name` on `node` at `resource_version`.
pub(crate) fn mk_hep(name: &str, node: &str, resource_version: u64) -> HostEndpoint {
    HostEndpoint {
        metadata: ObjectMeta {
            name: name.into(),
            resource_version,
            ..ObjectMeta::default()
        },
        spec: HostEndpointSpec {
            node: node.into(),
            interface_name: "eth0".into(),
            ..HostEndpointSpec::default()
        },
    }
}
