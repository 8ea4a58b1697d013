//! Infallible conversions from the domain model to the wire types. The fallible direction
//! (wire to model) is [`crate::validation::host_endpoint`], because it is where Calico's rules
//! are enforced.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::{model, pb};

impl From<&model::HostEndpoint> for pb::HostEndpoint {
    fn from(hep: &model::HostEndpoint) -> Self {
        Self {
            metadata: Some(pb::ObjectMeta::from(&hep.metadata)),
            spec: Some(pb::HostEndpointSpec::from(&hep.spec)),
        }
    }
}

impl From<model::HostEndpoint> for pb::HostEndpoint {
    fn from(hep: model::HostEndpoint) -> Self {
        Self::from(&hep)
    }
}

impl From<&model::ObjectMeta> for pb::ObjectMeta {
    fn from(meta: &model::ObjectMeta) -> Self {
        Self {
            name: meta.name.clone(),
            labels: meta.labels.to_map(),
            annotations: meta.annotations.to_map(),
            uid: meta.uid.clone(),
            resource_version: meta.resource_version,
            creation_timestamp: meta.creation_timestamp.map(timestamp),
        }
    }
}

impl From<&model::HostEndpointSpec> for pb::HostEndpointSpec {
    fn from(spec: &model::HostEndpointSpec) -> Self {
        Self {
            node: spec.node.clone(),
            interface_name: spec.interface_name.clone(),
            expected_ips: spec.expected_ips.clone(),
            profiles: spec.profiles.clone(),
            ports: spec.ports.iter().map(pb::EndpointPort::from).collect(),
        }
    }
}

impl From<&model::EndpointPort> for pb::EndpointPort {
    fn from(port: &model::EndpointPort) -> Self {
        Self {
            name: port.name.clone(),
            protocol: port.protocol.to_string(),
            port: u32::from(port.port),
        }
    }
}

/// A protobuf timestamp for a time; times before 1970 cannot occur (validation rejects them).
pub fn timestamp(time: SystemTime) -> prost_types::Timestamp {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    prost_types::Timestamp {
        seconds: i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(since_epoch.subsec_nanos()).unwrap_or(0),
    }
}
