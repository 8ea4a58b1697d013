//! Builders for test objects and helpers for checking statuses.

use std::collections::HashMap;

use hostendpoint_api::pb;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

/// The spec's sample host endpoint `endpoint1` on `host1`.
pub fn mk_sample() -> pb::HostEndpoint {
    pb::HostEndpoint {
        metadata: Some(pb::ObjectMeta {
            name: "endpoint1".into(),
            labels: HashMap::from([("type".into(), "database".into())]),
            ..pb::ObjectMeta::default()
        }),
        spec: Some(pb::HostEndpointSpec {
            node: "host1".into(),
            interface_name: "eth0".into(),
            expected_ips: vec!["192.168.0.1".into()],
            profiles: vec!["prof1".into(), "prof2".into()],
            ports: vec![mk_port("some-port", "TCP", 1234)],
        }),
    }
}

/// A minimal valid host endpoint `name` on `node`, on interface eth0.
pub fn mk_hep(name: &str, node: &str) -> pb::HostEndpoint {
    pb::HostEndpoint {
        metadata: Some(pb::ObjectMeta {
            name: name.into(),
            ..pb::ObjectMeta::default()
        }),
        spec: Some(pb::HostEndpointSpec {
            node: node.into(),
            interface_name: "eth0".into(),
            ..pb::HostEndpointSpec::default()
        }),
    }
}

/// A named port.
pub fn mk_port(name: &str, protocol: &str, port: u32) -> pb::EndpointPort {
    pb::EndpointPort {
        name: name.into(),
        protocol: protocol.into(),
        port,
    }
}

/// The metadata of an object, which every stored object has.
pub fn meta(hep: &pb::HostEndpoint) -> &pb::ObjectMeta {
    hep.metadata.as_ref().expect("stored objects have metadata")
}

/// The spec of an object, which every stored object has.
pub fn spec(hep: &pb::HostEndpoint) -> &pb::HostEndpointSpec {
    hep.spec.as_ref().expect("stored objects have a spec")
}

/// The metadata of an object, for editing.
pub fn meta_mut(hep: &mut pb::HostEndpoint) -> &mut pb::ObjectMeta {
    hep.metadata.get_or_insert_with(Default::default)
}

/// The spec of an object, for editing.
pub fn spec_mut(hep: &mut pb::HostEndpoint) -> &mut pb::HostEndpointSpec {
    hep.spec.get_or_insert_with(Default::default)
}

/// The (field, description) pairs of a status's google.rpc.BadRequest.
pub fn field_violations(status: &Status) -> Vec<(String, String)> {
    status
        .get_details_bad_request()
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts an INVALID_ARGUMENT naming exactly `fields`, in order, and returns the violations.
pub fn assert_invalid(
    result: Result<impl std::fmt::Debug, Status>,
    fields: &[&str],
) -> Vec<(String, String)> {
    let status = result.expect_err("the request must be rejected");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let violations = field_violations(&status);
    let named: Vec<_> = violations.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(named, fields, "violations: {violations:?}");
    violations
}

/// Asserts a status code and returns the status.
pub fn assert_code(result: Result<impl std::fmt::Debug, Status>, code: Code) -> Status {
    let status = result.expect_err("the request must fail");
    assert_eq!(status.code(), code, "{status:?}");
    status
}
