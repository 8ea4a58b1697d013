//! Strict reading of one calicoctl document into [`Manifest`]s, through the API crate's one
//! Calico document type (`calico::Document`, and `calico::DocumentList` for a list).
//!
//! As calicoctl (which unmarshals with sigs.k8s.io/yaml's UnmarshalStrict into the Go types):
//! - a field the type does not have is an error: serde reads the document into the type, and
//!   `serde_ignored` reports the first field it skipped; ObjectMeta's server-set fields are
//!   the type's, read and dropped;
//! - `kind` and `apiVersion` must be exactly right (a list's items may leave them out);
//! - a scalar given to a string field is taken as its text; a port is an integer; a protocol
//!   is an integer or a string.
//!
//! Unlike calicoctl, every error names the field by its whole path in the document
//! (`serde_path_to_error`), and field names match exactly (Go's encoding/json would also take
//! another case, as a kube-apiserver would not).

use hostendpoint_api::calico::{Document, DocumentList};
use serde::de::DeserializeOwned;

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
    /// A value of the wrong type, in serde's words.
    #[error("{field}: {message}")]
    WrongType {
        /// The field.
        field: String,
        /// What is wrong with it.
        message: String,
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

/// The resources of one document: none for an empty one.
pub(crate) fn document(raw: Raw) -> Result<Vec<Manifest>> {
    match raw {
        Raw::Null => Ok(Vec::new()),
        Raw::Map(entries) => resource(Raw::Map(entries), ""),
        Raw::Seq(items) => {
            let mut manifests = Vec::new();
            for (i, item) in items.into_iter().enumerate() {
                let path = format!("[{i}]");
                match item {
                    Raw::Map(_) => manifests.extend(resource(item, &path)?),
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
fn resource(raw: Raw, path: &str) -> Result<Vec<Manifest>> {
    let (kind, api_version) = type_meta(&raw);
    match (kind.as_str(), api_version.as_str()) {
        (KIND, API_VERSION) => Ok(vec![Manifest::new(strict::<Document>(raw, path)?)]),
        (LIST_KIND, API_VERSION) => {
            let list = strict::<DocumentList>(raw, path)?;
            list.into_items()
                .into_iter()
                .enumerate()
                .map(|(i, item)| list_item(item, &join(path, &format!("items[{i}]"))))
                .collect()
        }
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

/// An element of `items`: a HostEndpoint whose kind and apiVersion may be left out.
fn list_item(item: Document, path: &str) -> Result<Manifest> {
    let (kind, api_version) = item.type_meta();
    let kind_ok = kind.is_empty() || kind == KIND;
    if !kind_ok || !(api_version.is_empty() || api_version == API_VERSION) {
        return Err(DecodeError::UnknownType {
            field: join(path, if kind_ok { "apiVersion" } else { "kind" }),
            kind: kind.to_owned(),
            api_version: api_version.to_owned(),
        });
    }
    Ok(Manifest::new(item))
}

/// `value` read into `T`, refusing any field `T` does not have.
fn strict<T: DeserializeOwned>(raw: Raw, path: &str) -> Result<T> {
    let value = raw.into_json();
    let mut unknown = None;
    let mut note = |field: serde_ignored::Path<'_>| {
        unknown.get_or_insert_with(|| ignored_path(&field));
    };
    let read: Result<T, _> =
        serde_path_to_error::deserialize(serde_ignored::Deserializer::new(value, &mut note));
    if let Some(field) = unknown {
        return Err(DecodeError::UnknownField(join(path, &field)));
    }
    read.map_err(|err| {
        // serde_path_to_error writes the document itself as ".".
        let field = err.path().to_string();
        let field = if field == "." { String::new() } else { field };
        DecodeError::WrongType {
            field: join(path, &field),
            message: err.into_inner().to_string(),
        }
    })
}

/// A path as serde_ignored gives it, written as the other paths here are (`ports[0].x`).
fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        Path::Map { parent, key } => join(&ignored_path(parent), key),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => ignored_path(parent),
    }
}

/// The text of a mapping's exactly named `kind` and `apiVersion`, or empty.
fn type_meta(raw: &Raw) -> (String, String) {
    let text = |name: &str| match raw {
        Raw::Map(entries) => entries
            .iter()
            .find(|(key, _)| key == name)
            .and_then(|(_, value)| value.scalar_text())
            .unwrap_or_default(),
        _ => String::new(),
    };
    (text("kind"), text("apiVersion"))
}

fn join(path: &str, key: &str) -> String {
    match (path.is_empty(), key.is_empty()) {
        (true, _) => key.to_owned(),
        (_, true) => path.to_owned(),
        _ if key.starts_with('[') => format!("{path}{key}"),
        _ => format!("{path}.{key}"),
    }
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

fn not_a_resource(path: &str, found: &Raw) -> DecodeError {
    DecodeError::NotAResource {
        field: path.to_owned(),
        found: found.describe(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_as_written_in_documents() {
        assert_eq!(join("", "spec"), "spec");
        assert_eq!(join("[1]", "spec.node"), "[1].spec.node");
        assert_eq!(join("items[0]", "[2]"), "items[0][2]");
    }
}
