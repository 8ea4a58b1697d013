//! Strict decoding of one calicoctl document into [`Manifest`]s.
//!
//! As calicoctl (which unmarshals with sigs.k8s.io/yaml's UnmarshalStrict into the Go types):
//! - every field must be a field of the Go type, matched case-insensitively as Go's
//!   encoding/json matches them; `kind` and `apiVersion` must be exactly right;
//! - a scalar given to a string field is taken as its text; a port is an integer; a protocol
//!   is an integer from 0 to 255 or a string;
//! - ObjectMeta fields that the server sets (uid, creationTimestamp, ...) are accepted and
//!   ignored; a namespace is kept, for the command to refuse that resource alone (as
//!   calicoctl does, after reading the file).
//!
//! Unlike calicoctl, every error names the field by its whole path in the document.

use std::collections::BTreeMap;

use hostendpoint_api::pb;

use super::{Manifest, raw::Raw};
use crate::kind::{API_VERSION, KIND, LIST_KIND};

/// Why a document cannot be used. `field` is a path such as `spec.ports[0].port`, or
/// `[1].spec` for the second element of a list document.
#[derive(Debug, PartialEq, thiserror::Error)]
pub(crate) enum DecodeError {
    /// A field the type does not have (calicoctl's wording).
    #[error("field in document is not recognized or is in the wrong location: {0}")]
    UnknownField(String),
    /// Not a HostEndpoint or HostEndpointList of projectcalico.org/v3.
    #[error("{field}: unknown resource type ({kind}) and/or version ({api_version})")]
    UnknownType {
        /// `kind` or `apiVersion`, whichever is wrong.
        field: String,
        /// The kind given.
        kind: String,
        /// The apiVersion given.
        api_version: String,
    },
    /// A value of the wrong type or out of range.
    #[error("{field}: expected {expected}, found {found}")]
    WrongType {
        /// The field.
        field: String,
        /// What the field takes.
        expected: &'static str,
        /// What it was given.
        found: String,
    },
    /// A document (or list element) that is not a resource.
    #[error("{}expected a HostEndpoint, a HostEndpointList or a list of them, found {found}", at(.field))]
    NotAResource {
        /// Empty for the document itself, else the list element.
        field: String,
        /// What it was.
        found: String,
    },
}

type Result<T, E = DecodeError> = std::result::Result<T, E>;

/// The fields of a HostEndpoint.
const HOST_ENDPOINT_FIELDS: &[&str] = &["kind", "apiVersion", "metadata", "spec"];
/// The fields of a HostEndpointList.
const LIST_FIELDS: &[&str] = &["kind", "apiVersion", "metadata", "items"];
/// The fields of Kubernetes' ListMeta; all are set by servers and ignored here.
const LIST_META_FIELDS: &[&str] = &[
    "selfLink",
    "resourceVersion",
    "continue",
    "remainingItemCount",
];
/// The fields of Kubernetes' ObjectMeta (apimachinery v0.35).
const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];
/// The fields of a HostEndpointSpec.
const SPEC_FIELDS: &[&str] = &["node", "interfaceName", "expectedIPs", "profiles", "ports"];
/// The fields of an EndpointPort.
const PORT_FIELDS: &[&str] = &["name", "protocol", "port"];

/// The resources of one document: none for an empty one.
pub(crate) fn document(raw: Raw) -> Result<Vec<Manifest>> {
    match raw {
        Raw::Null => Ok(Vec::new()),
        Raw::Map(entries) => resource(entries, ""),
        Raw::Seq(items) => {
            let mut manifests = Vec::new();
            for (i, item) in items.into_iter().enumerate() {
                let path = format!("[{i}]");
                match item {
                    Raw::Map(entries) => manifests.extend(resource(entries, &path)?),
                    other => return Err(not_a_resource(&path, &other)),
                }
            }
            Ok(manifests)
        }
        other => Err(not_a_resource("", &other)),
    }
}

/// A HostEndpoint or a HostEndpointList, told apart by kind and apiVersion. Like calicoctl,
/// which reads them into an Unstructured first, these two are matched exactly.
fn resource(entries: Vec<(String, Raw)>, path: &str) -> Result<Vec<Manifest>> {
    let kind = exact_text(&entries, "kind");
    let api_version = exact_text(&entries, "apiVersion");
    match (kind.as_str(), api_version.as_str()) {
        (KIND, API_VERSION) => Ok(vec![host_endpoint(entries, path)?]),
        (LIST_KIND, API_VERSION) => list(entries, path),
        (known, _) => {
            let wrong = if known == KIND || known == LIST_KIND {
                "apiVersion"
            } else {
                "kind"
            };
            Err(DecodeError::UnknownType {
                field: join(path, wrong),
                kind,
                api_version,
            })
        }
    }
}

fn list(entries: Vec<(String, Raw)>, path: &str) -> Result<Vec<Manifest>> {
    let mut manifests = Vec::new();
    for (key, value) in entries {
        let field_path = join(path, &key);
        match field(&key, LIST_FIELDS) {
            Some("kind" | "apiVersion") => {}
            Some("metadata") => ignored_fields(value, &field_path, LIST_META_FIELDS)?,
            Some("items") => {
                for (i, item) in sequence(value, &field_path, "a list of HostEndpoints")?
                    .into_iter()
                    .enumerate()
                {
                    let item_path = format!("{field_path}[{i}]");
                    manifests.push(list_item(item, &item_path)?);
                }
            }
            _ => return Err(DecodeError::UnknownField(field_path)),
        }
    }
    Ok(manifests)
}

/// An element of `items`: a HostEndpoint whose kind and apiVersion may be left out.
fn list_item(item: Raw, path: &str) -> Result<Manifest> {
    let Raw::Map(entries) = item else {
        return Err(wrong_type(path, "a HostEndpoint", &item));
    };
    let kind = exact_text(&entries, "kind");
    let api_version = exact_text(&entries, "apiVersion");
    let kind_ok = kind.is_empty() || kind == KIND;
    if !kind_ok || !(api_version.is_empty() || api_version == API_VERSION) {
        return Err(DecodeError::UnknownType {
            field: join(path, if kind_ok { "apiVersion" } else { "kind" }),
            kind,
            api_version,
        });
    }
    host_endpoint(entries, path)
}

fn host_endpoint(entries: Vec<(String, Raw)>, path: &str) -> Result<Manifest> {
    let mut manifest = Manifest::default();
    for (key, value) in entries {
        let field_path = join(path, &key);
        match field(&key, HOST_ENDPOINT_FIELDS) {
            Some("kind" | "apiVersion") => {}
            Some("metadata") => object_meta(value, &field_path, &mut manifest)?,
            Some("spec") => manifest.spec = spec(value, &field_path)?,
            _ => return Err(DecodeError::UnknownField(field_path)),
        }
    }
    Ok(manifest)
}

fn object_meta(value: Raw, path: &str, manifest: &mut Manifest) -> Result<()> {
    for (key, value) in mapping(value, path)? {
        let field_path = join(path, &key);
        match field(&key, OBJECT_META_FIELDS) {
            Some("name") => manifest.name = string(value, &field_path)?,
            Some("namespace") => {
                manifest.namespace = Some(string(value, &field_path)?).filter(|ns| !ns.is_empty());
            }
            Some("resourceVersion") => {
                manifest.resource_version =
                    Some(string(value, &field_path)?).filter(|rv| !rv.is_empty());
            }
            Some("labels") => manifest.labels = string_map(value, &field_path)?,
            Some("annotations") => manifest.annotations = string_map(value, &field_path)?,
            // Set by servers: calicoctl reads them and never writes them, and so does hepctl.
            Some(_) => {}
            None => return Err(DecodeError::UnknownField(field_path)),
        }
    }
    Ok(())
}

fn spec(value: Raw, path: &str) -> Result<pb::HostEndpointSpec> {
    let mut spec = pb::HostEndpointSpec::default();
    for (key, value) in mapping(value, path)? {
        let field_path = join(path, &key);
        match field(&key, SPEC_FIELDS) {
            Some("node") => spec.node = string(value, &field_path)?,
            Some("interfaceName") => spec.interface_name = string(value, &field_path)?,
            Some("expectedIPs") => spec.expected_ips = string_list(value, &field_path)?,
            Some("profiles") => spec.profiles = string_list(value, &field_path)?,
            Some("ports") => {
                let ports = sequence(value, &field_path, "a list of ports")?;
                spec.ports = ports
                    .into_iter()
                    .enumerate()
                    .map(|(i, port)| endpoint_port(port, &format!("{field_path}[{i}]")))
                    .collect::<Result<_>>()?;
            }
            _ => return Err(DecodeError::UnknownField(field_path)),
        }
    }
    Ok(spec)
}

fn endpoint_port(value: Raw, path: &str) -> Result<pb::EndpointPort> {
    let mut port = pb::EndpointPort::default();
    for (key, value) in mapping(value, path)? {
        let field_path = join(path, &key);
        match field(&key, PORT_FIELDS) {
            Some("name") => port.name = string(value, &field_path)?,
            Some("protocol") => port.protocol = protocol(value, &field_path)?,
            Some("port") => port.port = port_number(value, &field_path)?,
            _ => return Err(DecodeError::UnknownField(field_path)),
        }
    }
    Ok(port)
}

/// numorstring.Protocol: a JSON number must fit a uint8; a string is kept as written (the
/// validation reads `"6"` as the number 6).
fn protocol(value: Raw, path: &str) -> Result<String> {
    match value {
        Raw::Null => Ok(String::new()),
        Raw::Int(n) if (0..=255).contains(&n) => Ok(n.to_string()),
        Raw::Str(s) => Ok(s),
        other => Err(wrong_type(
            path,
            "a protocol name or a number from 0 to 255",
            &other,
        )),
    }
}

/// A uint16 in Go: an integer from 0 to 65535 (0 then fails validation).
fn port_number(value: Raw, path: &str) -> Result<u32> {
    match value {
        Raw::Null => Ok(0),
        Raw::Int(n) => u16::try_from(n)
            .map(u32::from)
            .map_err(|_| wrong_type(path, "an integer from 0 to 65535", &Raw::Int(n))),
        other => Err(wrong_type(path, "an integer from 0 to 65535", &other)),
    }
}

// === Generic shapes ===

fn mapping(value: Raw, path: &str) -> Result<Vec<(String, Raw)>> {
    match value {
        Raw::Null => Ok(Vec::new()),
        Raw::Map(entries) => Ok(entries),
        other => Err(wrong_type(path, "a mapping", &other)),
    }
}

fn sequence(value: Raw, path: &str, expected: &'static str) -> Result<Vec<Raw>> {
    match value {
        Raw::Null => Ok(Vec::new()),
        Raw::Seq(items) => Ok(items),
        other => Err(wrong_type(path, expected, &other)),
    }
}

fn string(value: Raw, path: &str) -> Result<String> {
    value
        .scalar_text()
        .ok_or_else(|| wrong_type(path, "a string", &value))
}

fn string_list(value: Raw, path: &str) -> Result<Vec<String>> {
    sequence(value, path, "a list of strings")?
        .into_iter()
        .enumerate()
        .map(|(i, item)| string(item, &format!("{path}[{i}]")))
        .collect()
}

fn string_map(value: Raw, path: &str) -> Result<BTreeMap<String, String>> {
    mapping(value, path)?
        .into_iter()
        .map(|(key, value)| {
            let text = string(value, &format!("{path}[{key:?}]"))?;
            Ok((key, text))
        })
        .collect()
}

/// Checks that a mapping has only the given fields, whose values are not used.
fn ignored_fields(value: Raw, path: &str, known: &[&str]) -> Result<()> {
    for (key, _) in mapping(value, path)? {
        if field(&key, known).is_none() {
            return Err(DecodeError::UnknownField(join(path, &key)));
        }
    }
    Ok(())
}

// === Helpers ===

/// The field `key` names, matched as Go's encoding/json matches: exactly, else ignoring case.
fn field<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let exact = known.iter().find(|name| **name == key);
    exact
        .or_else(|| known.iter().find(|name| name.eq_ignore_ascii_case(key)))
        .copied()
}

/// The text of the exactly named entry, or empty.
fn exact_text(entries: &[(String, Raw)], name: &str) -> String {
    entries
        .iter()
        .find(|(key, _)| key == name)
        .and_then(|(_, value)| value.scalar_text())
        .unwrap_or_default()
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

fn wrong_type(path: &str, expected: &'static str, found: &Raw) -> DecodeError {
    DecodeError::WrongType {
        field: path.to_owned(),
        expected,
        found: found.describe(),
    }
}

fn not_a_resource(path: &str, found: &Raw) -> DecodeError {
    DecodeError::NotAResource {
        field: path.to_owned(),
        found: found.describe(),
    }
}
