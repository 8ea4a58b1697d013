//! Calico's `projectcalico.org/v3` HostEndpoint JSON document: the shape calicoctl prints and
//! Calico's etcdv3 datastore stores, written from a [`HostEndpoint`] and read back into one.
//!
//! Writing follows Go's encoding of Calico's types: their field order, their omitempty rules,
//! RFC 3339 timestamps in whole seconds and the int-or-string protocol. Reading is lenient as
//! Calico's own client is (unknown fields are ignored, missing spec fields are empty), but
//! every object read has passed [`validation::host_endpoint`].

use std::{collections::BTreeMap, time::SystemTime};

use serde::{Deserialize, Serialize};

use crate::{
    model::{self, EndpointPort, HostEndpoint, HostEndpointSpec, ObjectMeta, Revision},
    pb, validation,
};

mod text;

/// A field that servers set and this type reads only to drop: read as a value, not skipped,
/// so that a strict reader (one that refuses what a type ignores) accepts it.
type ServerSet = Option<serde_json::Value>;

/// The kind of a host endpoint document.
pub const KIND: &str = "HostEndpoint";
/// The API group and version of a host endpoint document.
pub const API_VERSION: &str = "projectcalico.org/v3";

/// Whether a document carries the object's resourceVersion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceVersion {
    /// Left out, as Calico's etcdv3 datastore stores objects: the key's mod revision is the
    /// version there.
    Omit,
    /// A decimal string, as calicoctl prints it; left out while it is zero ("none"), as Go
    /// omits an empty one.
    Include,
}

/// A HostEndpoint document.
///
/// It serializes in Calico's key order. It deserializes leniently, so holding one says only
/// that the JSON had the right shape; [`Document::into_host_endpoint`] judges the content.
/// Every field Kubernetes' ObjectMeta has is read (those the server sets are dropped), so a
/// reader that refuses what a type ignores (hepctl's, by `serde_ignored`) refuses only the
/// fields Calico does not have. A scalar given to a string field is read as its text, as
/// calicoctl reads YAML.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    spec: Spec,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(default, deserialize_with = "text::string")]
    name: String,
    #[serde(default, skip_serializing, rename = "generateName")]
    _generate_name: ServerSet,
    /// Kept to be refused: host endpoints are not namespaced.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "text::optional"
    )]
    namespace: Option<String>,
    #[serde(default, skip_serializing, rename = "selfLink")]
    _self_link: ServerSet,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "text::string"
    )]
    uid: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "text::optional"
    )]
    resource_version: Option<String>,
    #[serde(default, skip_serializing, rename = "generation")]
    _generation: ServerSet,
    /// Go's metav1.Time is a struct, which omitempty never omits: none is `null`.
    #[serde(default)]
    creation_timestamp: Option<String>,
    #[serde(default, skip_serializing, rename = "deletionTimestamp")]
    _deletion_timestamp: ServerSet,
    #[serde(default, skip_serializing, rename = "deletionGracePeriodSeconds")]
    _deletion_grace_period_seconds: ServerSet,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "text::map"
    )]
    labels: BTreeMap<String, String>,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "text::map"
    )]
    annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing, rename = "ownerReferences")]
    _owner_references: ServerSet,
    #[serde(default, skip_serializing, rename = "finalizers")]
    _finalizers: ServerSet,
    #[serde(default, skip_serializing, rename = "managedFields")]
    _managed_fields: ServerSet,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "text::string"
    )]
    node: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "text::string"
    )]
    interface_name: String,
    #[serde(
        default,
        rename = "expectedIPs",
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "text::list"
    )]
    expected_ips: Vec<String>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "text::list"
    )]
    profiles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ports: Vec<Port>,
}

/// A port as read: u32 so that an out-of-range number reaches validation and its message.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Port {
    #[serde(deserialize_with = "text::string")]
    name: String,
    protocol: Protocol,
    port: u32,
}

/// Calico's int-or-string protocol: a protocol written as a number stays a JSON number.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Protocol {
    Number(u64),
    Name(String),
}

/// A HostEndpointList document, as calicoctl prints a listing: `items` is never left out, and
/// the list's resourceVersion is the revision the listing reflects (an etcd revision is
/// never empty, so it is printed even when it is 0).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentList {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    metadata: ListMetadata,
    #[serde(default)]
    items: Vec<Document>,
}

/// Kubernetes' ListMeta, all of it set by servers.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListMetadata {
    #[serde(default, skip_serializing, rename = "selfLink")]
    _self_link: ServerSet,
    #[serde(default, deserialize_with = "text::string")]
    resource_version: String,
    #[serde(default, skip_serializing, rename = "continue")]
    _continue: ServerSet,
    #[serde(default, skip_serializing, rename = "remainingItemCount")]
    _remaining_item_count: ServerSet,
}

/// The kind of a list of host endpoints.
pub const LIST_KIND: &str = "HostEndpointList";

impl DocumentList {
    /// The list of `items` at `revision`, each with its resourceVersion.
    pub fn new(items: &[HostEndpoint], revision: Revision) -> Self {
        Self {
            kind: LIST_KIND.into(),
            api_version: API_VERSION.into(),
            metadata: ListMetadata {
                resource_version: revision.to_string(),
                ..ListMetadata::default()
            },
            items: items
                .iter()
                .map(|hep| Document::from_host_endpoint(hep, ResourceVersion::Include))
                .collect(),
        }
    }

    /// The list's items.
    pub fn into_items(self) -> Vec<Document> {
        self.items
    }
}

/// Why a document is not a usable HostEndpoint.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON of the expected shape.
    #[error("not a Calico v3 HostEndpoint document: {cause}")]
    Json {
        /// What serde_json found; stated in the message, not repeated as the source.
        cause: serde_json::Error,
    },
    /// Another kind or API version.
    #[error("kind {kind:?} apiVersion {api_version:?}, expected HostEndpoint projectcalico.org/v3")]
    Kind {
        /// The kind found.
        kind: String,
        /// The apiVersion found.
        api_version: String,
    },
    /// The resourceVersion is not a decimal revision.
    #[error("resourceVersion {0:?} is not a decimal revision")]
    ResourceVersion(String),
    /// The creation timestamp is not RFC 3339.
    #[error("creationTimestamp {0:?} is not an RFC 3339 time")]
    Timestamp(String),
    /// The object breaks Calico's validation rules.
    #[error(transparent)]
    Invalid(#[from] validation::Violations),
}

/// `time` as Kubernetes' metav1.Time marshals it: RFC 3339 in whole seconds, UTC.
pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

// === impl Document ===

impl Document {
    /// The document of `hep`, with or without its resourceVersion.
    pub fn from_host_endpoint(hep: &HostEndpoint, resource_version: ResourceVersion) -> Self {
        Self {
            kind: KIND.into(),
            api_version: API_VERSION.into(),
            metadata: Metadata::from_model(&hep.metadata, resource_version),
            spec: Spec::from_model(&hep.spec),
        }
    }

    /// Parses a document of this kind and API version; its content is not judged yet.
    pub fn from_json(json: &[u8]) -> Result<Self, DecodeError> {
        let document: Self =
            serde_json::from_slice(json).map_err(|cause| DecodeError::Json { cause })?;
        if document.kind != KIND || document.api_version != API_VERSION {
            return Err(DecodeError::Kind {
                kind: document.kind,
                api_version: document.api_version,
            });
        }
        Ok(document)
    }

    /// The compact JSON text.
    pub fn to_json(&self) -> Vec<u8> {
        // Strings, string-keyed maps and integers always serialize.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// `metadata.name`, as written.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// `kind` and `apiVersion`, as written (empty when left out).
    pub fn type_meta(&self) -> (&str, &str) {
        (&self.kind, &self.api_version)
    }

    /// `metadata.namespace`, when not empty.
    pub fn namespace(&self) -> Option<&str> {
        self.metadata.namespace.as_deref()
    }

    /// `metadata.resourceVersion` as written, when not empty.
    pub fn resource_version(&self) -> Option<&str> {
        self.metadata.resource_version.as_deref()
    }

    /// The document with only what a client writes: name, labels, annotations and spec (the
    /// server sets uid, creationTimestamp and the version).
    pub fn without_server_fields(mut self) -> Self {
        self.metadata = Metadata {
            name: self.metadata.name,
            labels: self.metadata.labels,
            annotations: self.metadata.annotations,
            ..Metadata::default()
        };
        self
    }

    /// The document without its resourceVersion, for readers that take the version from
    /// elsewhere (etcd's mod revision) and so, like Calico's client, ignore what is written.
    pub fn without_resource_version(mut self) -> Self {
        self.metadata.resource_version = None;
        self
    }

    /// The validated object. A resourceVersion, if any, must be a decimal revision.
    pub fn into_host_endpoint(self) -> Result<HostEndpoint, DecodeError> {
        let Self { metadata, spec, .. } = self;
        let resource_version = metadata
            .resource_version
            .as_deref()
            .map_or(Ok(0), parse_revision)?;
        let created = metadata
            .creation_timestamp
            .as_deref()
            .map(parse_time)
            .transpose()?;
        let mut hep = validation::host_endpoint(pb::HostEndpoint {
            metadata: Some(metadata.into_pb(resource_version)),
            spec: Some(spec.into_pb()),
        })?;
        // Set after validation: it checks protobuf timestamps, and this one is checked above.
        hep.metadata.creation_timestamp = created;
        Ok(hep)
    }
}

// === impl Metadata ===

impl Metadata {
    fn from_model(meta: &ObjectMeta, resource_version: ResourceVersion) -> Self {
        let included = resource_version == ResourceVersion::Include && meta.resource_version != 0;
        Self {
            name: meta.name.clone(),
            uid: meta.uid.clone(),
            resource_version: included.then(|| meta.resource_version.to_string()),
            creation_timestamp: meta.creation_timestamp.map(rfc3339),
            labels: meta.labels.to_map(),
            annotations: meta.annotations.to_map(),
            ..Self::default()
        }
    }

    fn into_pb(self, resource_version: Revision) -> pb::ObjectMeta {
        pb::ObjectMeta {
            name: self.name,
            labels: self.labels.into_iter().collect(),
            annotations: self.annotations.into_iter().collect(),
            uid: self.uid,
            resource_version,
            creation_timestamp: None,
        }
    }
}

// === impl Spec ===

impl Spec {
    fn from_model(spec: &HostEndpointSpec) -> Self {
        Self {
            node: spec.node.clone(),
            interface_name: spec.interface_name.clone(),
            expected_ips: spec.expected_ips.clone(),
            profiles: spec.profiles.clone(),
            ports: spec.ports.iter().map(Port::from_model).collect(),
        }
    }

    fn into_pb(self) -> pb::HostEndpointSpec {
        pb::HostEndpointSpec {
            node: self.node,
            interface_name: self.interface_name,
            expected_ips: self.expected_ips,
            profiles: self.profiles,
            ports: self.ports.into_iter().map(Port::into_pb).collect(),
        }
    }
}

// === impl Port ===

impl Port {
    fn from_model(port: &EndpointPort) -> Self {
        Self {
            name: port.name.clone(),
            protocol: Protocol::from_model(port.protocol),
            port: u32::from(port.port),
        }
    }

    fn into_pb(self) -> pb::EndpointPort {
        pb::EndpointPort {
            name: self.name,
            protocol: self.protocol.into_text(),
            port: self.port,
        }
    }
}

// === impl Protocol ===

impl Protocol {
    fn from_model(protocol: model::Protocol) -> Self {
        if protocol.numeric {
            Self::Number(u64::from(protocol.kind.number()))
        } else {
            Self::Name(protocol.kind.name().into())
        }
    }

    /// The text validation parses: a number keeps its digits, so it stays numeric.
    fn into_text(self) -> String {
        match self {
            Self::Number(n) => n.to_string(),
            Self::Name(s) => s,
        }
    }
}

fn parse_revision(text: &str) -> Result<Revision, DecodeError> {
    match text {
        // Go's empty string is "none", as zero is here.
        "" => Ok(0),
        _ => text
            .parse()
            .map_err(|_| DecodeError::ResourceVersion(text.into())),
    }
}

fn parse_time(text: &str) -> Result<SystemTime, DecodeError> {
    humantime::parse_rfc3339(text).map_err(|_| DecodeError::Timestamp(text.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As calicoctl prints it (compacted): resourceVersion between uid and creationTimestamp.
    const PRINTED: &str = r#"{"kind":"HostEndpoint","apiVersion":"projectcalico.org/v3","metadata":{"name":"web","uid":"0b6f7c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b","resourceVersion":"42","creationTimestamp":"2026-11-26T10:08:00Z","annotations":{"team":"net"}},"spec":{"node":"node-a","expectedIPs":["10.0.0.7","fd00::7"],"ports":[{"name":"dns","protocol":17,"port":53},{"name":"sctp","protocol":"SCTP","port":9}]}}"#;

    fn read(json: &str) -> Result<HostEndpoint, DecodeError> {
        Document::from_json(json.as_bytes())?.into_host_endpoint()
    }

    fn write(hep: &HostEndpoint, resource_version: ResourceVersion) -> String {
        let json = Document::from_host_endpoint(hep, resource_version).to_json();
        String::from_utf8(json).expect("serde_json writes UTF-8")
    }

    #[test]
    fn printed_documents_round_trip_exactly_with_their_resource_version() {
        let hep = read(PRINTED).expect("a valid document");
        assert_eq!(hep.metadata.resource_version, 42);
        assert_eq!(
            hep.metadata.creation_timestamp,
            Some(humantime::parse_rfc3339("2026-11-26T10:08:00Z").expect("a time"))
        );
        assert_eq!(hep.spec.ports[0].protocol.to_string(), "17");
        assert_eq!(write(&hep, ResourceVersion::Include), PRINTED);
    }

    #[test]
    fn the_resource_version_is_left_out_when_asked_or_when_there_is_none() {
        let mut hep = read(PRINTED).expect("a valid document");
        let stored = PRINTED.replace(r#""resourceVersion":"42","#, "");
        assert_eq!(write(&hep, ResourceVersion::Omit), stored);
        hep.metadata.resource_version = 0;
        assert_eq!(write(&hep, ResourceVersion::Include), stored);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let body = PRINTED.strip_suffix('}').expect("an object");
        let extra =
            format!(r#"{body},"status":{{}}}}"#).replace(r#""uid""#, r#""generation":3,"uid""#);
        assert_eq!(
            read(&extra).expect("lenient"),
            read(PRINTED).expect("valid")
        );
    }

    #[test]
    fn scalars_are_read_as_text_and_server_set_metadata_is_dropped() {
        let json = r#"{"kind":"HostEndpoint","apiVersion":"projectcalico.org/v3",
            "metadata":{"name":"a","generation":3,"finalizers":["x"],"resourceVersion":7,
            "labels":{"n":12}},"spec":{"node":123,"expectedIPs":["10.0.0.1"]}}"#;
        let document = Document::from_json(json.as_bytes()).expect("a document");
        assert_eq!(document.resource_version(), Some("7"));
        let hep = document.into_host_endpoint().expect("valid");
        assert_eq!(hep.spec.node, "123");
        assert_eq!(&hep.metadata.labels["n"], "12");
        let written = write(&hep, ResourceVersion::Omit);
        assert!(
            !written.contains("generation") && !written.contains("finalizers"),
            "{written}"
        );
    }

    #[test]
    fn documents_that_are_not_valid_host_endpoints_are_errors() {
        let cases = [
            (PRINTED.replace(r#""42""#, r#""4x""#), "resourceVersion"),
            (
                PRINTED.replace("2026-11-26T10:08:00Z", "yesterday"),
                "creationTimestamp",
            ),
            (
                PRINTED.replace("projectcalico.org/v3", "projectcalico.org/v1"),
                "apiVersion",
            ),
            (PRINTED.replace("node-a", "Node_A"), "spec.node"),
            (
                PRINTED.replace(r#""protocol":17"#, r#""protocol":1"#),
                "spec.ports[0]",
            ),
            // metadata may be left out (calicoctl reads such a document), but not its name.
            (
                PRINTED.replace(r#""metadata""#, r#""meta""#),
                "metadata.name",
            ),
            (
                PRINTED.replace(r#""spec":{"#, r#""spec":["#),
                "not a Calico v3",
            ),
        ];
        for (json, mentioned) in cases {
            let err = read(&json).expect_err(&json).to_string();
            assert!(err.contains(mentioned), "{err:?} names {mentioned:?}");
        }
    }
}
