//! calicoctl documents to and from the domain model.
//!
//! - [`load`] reads a file (or stdin) of YAML or JSON documents into [`Manifest`]s, strictly;
//!   [`read`] reads what `-f` names, directories too (`source`).
//! - [`patch`] applies `patch`'s strategic, merge and JSON patches to a document.

pub(crate) mod patch;

mod decode;
mod raw;
mod source;

use std::io::Read as _;

use hostendpoint_api::{
    calico::{self, Document},
    model::{HostEndpoint, Revision},
    validation::{FieldViolation, Violations},
};
use serde::Deserialize as _;

use self::raw::Raw;
pub(crate) use decode::DecodeError;
pub(crate) use source::{Source, read};

/// One host endpoint as a document gives it: the API crate's Calico document, not judged
/// yet, and what the commands ask of it before anything is sent.
#[derive(Clone, Debug)]
pub(crate) struct Manifest {
    /// `metadata.name`.
    pub(crate) name: String,
    /// `metadata.namespace`, when not empty: an error for this resource alone.
    pub(crate) namespace: Option<String>,
    /// `metadata.resourceVersion` as written, when not empty.
    pub(crate) resource_version: Option<String>,
    /// The document.
    document: Document,
}

impl Manifest {
    fn new(document: Document) -> Self {
        Self {
            name: document.name().to_owned(),
            namespace: document.namespace().map(str::to_owned),
            resource_version: document.resource_version().map(str::to_owned),
            document,
        }
    }

    /// The host endpoint to send, checked against Calico's rules; `revision` becomes its
    /// resource_version (the update precondition; 0 for none). Only the name, labels,
    /// annotations and spec are taken: uid, creationTimestamp and the rest belong to the
    /// server.
    pub(crate) fn to_model(&self, revision: Revision) -> Result<HostEndpoint, Violations> {
        let document = self.document.clone().without_server_fields();
        let mut hep = match document.into_host_endpoint() {
            Ok(hep) => hep,
            Err(calico::DecodeError::Invalid(violations)) => return Err(violations),
            // Without server fields only the content can be wrong.
            Err(other) => {
                return Err(Violations(vec![FieldViolation {
                    field: "metadata".into(),
                    description: other.to_string(),
                }]));
            }
        };
        hep.metadata.resource_version = revision;
        Ok(hep)
    }
}

/// Why a file cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    /// The file could not be read (worded as Go's os.Open error, as calicoctl prints it).
    #[error("open {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why, in words.
        reason: String,
    },
    /// A document is not YAML or JSON.
    #[error("document {number}: {message}")]
    Syntax {
        /// Which document, from 1.
        number: usize,
        /// The parser's message, with the line and column.
        message: String,
    },
    /// A document is not a valid host endpoint document.
    #[error("document {number}: {source}")]
    Document {
        /// Which document, from 1.
        number: usize,
        /// What is wrong with it.
        #[source]
        source: DecodeError,
    },
}

/// Reads the documents of `filename` (`-` for stdin).
pub(crate) fn load(filename: &str) -> Result<Vec<Manifest>, LoadError> {
    let read_error = |err: std::io::Error| LoadError::Read {
        path: filename.to_owned(),
        reason: hostendpoint_client::io_words(&err),
    };
    let text = if filename == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(read_error)?;
        text
    } else {
        std::fs::read_to_string(filename).map_err(read_error)?
    };
    parse(&text)
}

/// Decodes YAML or JSON text: one or more documents.
pub(crate) fn parse(text: &str) -> Result<Vec<Manifest>, LoadError> {
    let mut manifests = Vec::new();
    for (i, raw) in documents(text)?.into_iter().enumerate() {
        let decoded = decode::document(raw).map_err(|source| LoadError::Document {
            number: i + 1,
            source,
        })?;
        manifests.extend(decoded);
    }
    Ok(manifests)
}

/// The documents of a text: JSON values one after the other when it starts as JSON does,
/// else `---`-separated YAML documents. (JSON is YAML too, but YAML parsers refuse some JSON,
/// such as a tab before the first brace.)
fn documents(text: &str) -> Result<Vec<Raw>, LoadError> {
    let syntax = |i: usize, err: &dyn std::fmt::Display| LoadError::Syntax {
        number: i + 1,
        message: err.to_string(),
    };
    let looks_like_json = matches!(text.trim_start().chars().next(), Some('{' | '['));
    if looks_like_json {
        serde_json::Deserializer::from_str(text)
            .into_iter::<Raw>()
            .enumerate()
            .map(|(i, doc)| doc.map_err(|e| syntax(i, &e)))
            .collect()
    } else {
        let mut docs = Vec::new();
        // The iterator repeats a parse error forever: stop at the first.
        for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            docs.push(Raw::deserialize(doc).map_err(|e| syntax(i, &e))?);
        }
        Ok(docs)
    }
}

#[cfg(test)]
mod tests;
