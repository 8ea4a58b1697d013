//! Calico's etcdv3 layout: key `/calico/resources/v3/projectcalico.org/hostendpoints/<name>`,
//! value Calico's v3 JSON (kind, apiVersion, metadata without resourceVersion, spec). Objects
//! written here read back in calicoctl and Felix, and theirs read back here.
//!
//! Values are read leniently (unknown fields are ignored, as Calico's own client does) but
//! validated: a value that breaks Calico's rules is reported, and the caller skips it.

use std::{collections::BTreeMap, time::SystemTime};

use hostendpoint_api::{
    model::{HostEndpoint, Revision},
    pb, validation,
};
use serde::{Deserialize, Serialize};

/// Where Calico's etcdv3 datastore keeps host endpoints.
pub const DEFAULT_PREFIX: &str = "/calico/resources/v3/projectcalico.org/hostendpoints/";

const KIND: &str = "HostEndpoint";
const API_VERSION: &str = "projectcalico.org/v3";

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    kind: String,
    api_version: String,
    metadata: Metadata,
    #[serde(default)]
    spec: Spec,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    creation_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    node: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    interface_name: String,
    #[serde(default, rename = "expectedIPs", skip_serializing_if = "Vec::is_empty")]
    expected_ips: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    profiles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ports: Vec<Port>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Port {
    name: String,
    protocol: Protocol,
    port: u32,
}

/// Calico's int-or-string protocol: numbers stay numbers on the wire.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Protocol {
    Number(u64),
    Name(String),
}

/// Why a stored value is not a usable HostEndpoint.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON of the expected shape.
    #[error("not a Calico v3 HostEndpoint document: {0}")]
    Json(#[from] serde_json::Error),
    /// Another kind or API version.
    #[error("kind {kind:?} apiVersion {api_version:?}, expected HostEndpoint projectcalico.org/v3")]
    Kind {
        /// The kind found.
        kind: String,
        /// The apiVersion found.
        api_version: String,
    },
    /// The key's name and the document's differ.
    #[error("the key names {key:?} but the document {document:?}")]
    Name {
        /// The name in the key.
        key: String,
        /// metadata.name.
        document: String,
    },
    /// The creation timestamp is not RFC 3339.
    #[error("creationTimestamp {0:?} is not an RFC 3339 time")]
    Timestamp(String),
    /// The object breaks Calico's validation rules.
    #[error(transparent)]
    Invalid(#[from] validation::Violations),
}

/// The etcd key of the object `name`.
pub fn key(prefix: &str, name: &str) -> Vec<u8> {
    format!("{prefix}{name}").into_bytes()
}

/// The object name of `key`, if it is under `prefix`.
pub fn name_of<'a>(prefix: &str, key: &'a [u8]) -> Option<&'a str> {
    std::str::from_utf8(key).ok()?.strip_prefix(prefix)
}

/// Calico's JSON for `hep`, without resourceVersion (etcd's mod_revision is the version).
pub fn encode(hep: &HostEndpoint) -> Vec<u8> {
    let meta = &hep.metadata;
    let spec = &hep.spec;
    let document = Document {
        kind: KIND.into(),
        api_version: API_VERSION.into(),
        metadata: Metadata {
            name: meta.name.clone(),
            uid: meta.uid.clone(),
            creation_timestamp: meta.creation_timestamp.map(rfc3339),
            labels: meta.labels.clone(),
            annotations: meta.annotations.clone(),
        },
        spec: Spec {
            node: spec.node.clone(),
            interface_name: spec.interface_name.clone(),
            expected_ips: spec.expected_ips.clone(),
            profiles: spec.profiles.clone(),
            ports: spec
                .ports
                .iter()
                .map(|p| Port {
                    name: p.name.clone(),
                    protocol: if p.protocol.numeric {
                        Protocol::Number(u64::from(p.protocol.kind.number()))
                    } else {
                        Protocol::Name(p.protocol.kind.name().into())
                    },
                    port: u32::from(p.port),
                })
                .collect(),
        },
    };
    serde_json::to_vec(&document).unwrap_or_default()
}

/// The object stored under `name` at `mod_revision`.
pub fn decode(
    name: &str,
    value: &[u8],
    mod_revision: Revision,
) -> Result<HostEndpoint, DecodeError> {
    let document: Document = serde_json::from_slice(value)?;
    if document.kind != KIND || document.api_version != API_VERSION {
        return Err(DecodeError::Kind {
            kind: document.kind,
            api_version: document.api_version,
        });
    }
    if document.metadata.name != name {
        return Err(DecodeError::Name {
            key: name.into(),
            document: document.metadata.name,
        });
    }
    let created = document
        .metadata
        .creation_timestamp
        .as_deref()
        .map(parse_time)
        .transpose()?;
    let mut hep = validation::host_endpoint(to_pb(document))?;
    hep.metadata.resource_version = mod_revision;
    hep.metadata.creation_timestamp = created;
    Ok(hep)
}

fn to_pb(document: Document) -> pb::HostEndpoint {
    let Document { metadata, spec, .. } = document;
    pb::HostEndpoint {
        metadata: Some(pb::ObjectMeta {
            name: metadata.name,
            labels: metadata.labels.into_iter().collect(),
            annotations: metadata.annotations.into_iter().collect(),
            uid: metadata.uid,
            ..pb::ObjectMeta::default()
        }),
        spec: Some(pb::HostEndpointSpec {
            node: spec.node,
            interface_name: spec.interface_name,
            expected_ips: spec.expected_ips,
            profiles: spec.profiles,
            ports: spec
                .ports
                .into_iter()
                .map(|p| pb::EndpointPort {
                    name: p.name,
                    protocol: match p.protocol {
                        Protocol::Number(n) => n.to_string(),
                        Protocol::Name(s) => s,
                    },
                    port: p.port,
                })
                .collect(),
        }),
    }
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

fn parse_time(text: &str) -> Result<SystemTime, DecodeError> {
    humantime::parse_rfc3339(text).map_err(|_| DecodeError::Timestamp(text.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALICOCTL_VALUE: &str = r#"{"kind":"HostEndpoint","apiVersion":"projectcalico.org/v3","metadata":{"name":"endpoint1","uid":"6f1c2b9e-4d0a-4c8e-9a57-1f0e2d3c4b5a","creationTimestamp":"2024-05-01T10:00:00Z","labels":{"type":"database"}},"spec":{"node":"host1","interfaceName":"eth0","expectedIPs":["192.168.0.1"],"profiles":["prof1","prof2"],"ports":[{"name":"some-port","protocol":"TCP","port":1234},{"name":"num","protocol":6,"port":80}]}}"#;

    #[test]
    fn calico_values_round_trip_exactly() {
        let hep = decode("endpoint1", CALICOCTL_VALUE.as_bytes(), 42).expect("a valid value");
        assert_eq!(hep.metadata.resource_version, 42);
        assert_eq!(hep.spec.ports[1].protocol.to_string(), "6");
        assert_eq!(
            String::from_utf8(encode(&hep)).expect("utf-8"),
            CALICOCTL_VALUE
        );
    }

    #[test]
    fn foreign_values_that_break_the_rules_are_errors() {
        let bad_node = CALICOCTL_VALUE.replace("host1", "Host_1");
        assert!(matches!(
            decode("endpoint1", bad_node.as_bytes(), 1),
            Err(DecodeError::Invalid(_))
        ));
        assert!(matches!(
            decode("other", CALICOCTL_VALUE.as_bytes(), 1),
            Err(DecodeError::Name { .. })
        ));
        assert!(matches!(
            decode("endpoint1", b"{", 1),
            Err(DecodeError::Json(_))
        ));
    }
}
