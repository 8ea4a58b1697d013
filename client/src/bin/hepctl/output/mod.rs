//! The printers of `get`, shaped as calicoctl's, and of `watch` ([`events`]).
//!
//! - ps, wide and custom-columns: one tabwriter table per result, each followed by a blank
//!   line ([`table`]).
//! - yaml and json: exactly one result prints as that object, any other number as a sequence
//!   ([`yaml`], [`json`]).
//! - name: `hostendpoint.projectcalico.org/<name>` per host endpoint, as kubectl's `-o name`
//!   (calicoctl has no such format).
//! - go-template and go-template-file: Go's text/template over calicoctl's data ([`template`]).

pub(crate) mod events;
pub(crate) mod json;
pub(crate) mod table;
mod template;
pub(crate) mod yaml;

use std::{io::Write as _, str::FromStr};

use hostendpoint_api::{
    calico::{Document, DocumentList, ResourceVersion},
    model::{HostEndpoint, Revision},
};
use serde::Serialize;

use self::table::Column;
use crate::error::{Error, Result};

/// An output format of `get`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OutputFormat {
    /// A table of these columns (ps, wide, custom-columns=...).
    Table(Vec<Column>),
    /// calicoctl's YAML.
    Yaml,
    /// calicoctl's JSON.
    Json,
    /// One `kind.group/name` line per host endpoint.
    Name,
    /// A Go template's text (of `go-template=`, or the file of `go-template-file=`).
    Template(String),
}

impl FromStr for OutputFormat {
    type Err = String;

    /// Parses `-o`, with calicoctl's messages for what it does not know.
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "ps" => Ok(Self::Table(Column::PS.to_vec())),
            "wide" => Ok(Self::Table(Column::WIDE.to_vec())),
            "yaml" | "yml" => Ok(Self::Yaml),
            "json" => Ok(Self::Json),
            "name" => Ok(Self::Name),
            _ => match text.split_once('=') {
                Some(("custom-columns", "")) => Err("need to specify at least one column".into()),
                Some(("custom-columns", headings)) => headings
                    .split(',')
                    .map(|h| Column::from_heading(h).ok_or_else(|| unknown_heading(h)))
                    .collect::<Result<_, _>>()
                    .map(Self::Table),
                Some(("go-template", "")) => Err("need to specify a template".into()),
                Some(("go-template", template)) => Ok(Self::Template(template.to_owned())),
                Some(("go-template-file", "")) => Err("need to specify a template file".into()),
                Some(("go-template-file", path)) => std::fs::read_to_string(path)
                    .map(Self::Template)
                    .map_err(|e| format!("open {path}: {}", hostendpoint_client::io_words(&e))),
                _ => Err(format!("unrecognized output format '{text}'")),
            },
        }
    }
}

fn unknown_heading(heading: &str) -> String {
    let valid: Vec<_> = Column::WIDE.iter().map(|c| c.heading()).collect();
    format!(
        "Unknown heading {heading}, valid values are: {}",
        valid.join(", ")
    )
}

/// A result of `get`: a named host endpoint, or a listing.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Fetched {
    /// `get hep NAME` (boxed: a listing is much smaller).
    One(Box<HostEndpoint>),
    /// `get hep`: a HostEndpointList at a store revision.
    List {
        /// The host endpoints, sorted by name.
        items: Vec<HostEndpoint>,
        /// The revision the listing reflects.
        revision: Revision,
    },
}

impl Fetched {
    /// calicoctl's `--export` of a named object: what the server set is blanked (a listing is
    /// left as it is). creationTimestamp then prints as `null`.
    pub(crate) fn export(&mut self) {
        if let Self::One(hep) = self {
            let meta = &mut hep.metadata;
            meta.uid.clear();
            meta.resource_version = 0;
            meta.creation_timestamp = None;
        }
    }

    fn host_endpoints(&self) -> Vec<&HostEndpoint> {
        match self {
            Self::One(hep) => vec![&**hep],
            Self::List { items, .. } => items.iter().collect(),
        }
    }

    fn document(&self) -> Printed {
        match self {
            Self::One(hep) => Printed::One(Box::new(host_endpoint(hep))),
            Self::List { items, revision } => Printed::List(DocumentList::new(items, *revision)),
        }
    }
}

/// The text `get` prints for its results; only a template can fail.
pub(crate) fn render(format: &OutputFormat, results: &[Fetched]) -> Result<String, String> {
    let text = match format {
        OutputFormat::Table(columns) => results
            .iter()
            .map(|result| table::render(columns, &result.host_endpoints()) + "\n")
            .collect(),
        OutputFormat::Yaml => yaml::to_string(&to_value(&document(results))),
        OutputFormat::Json => json::to_string(&document(results)),
        OutputFormat::Name => results
            .iter()
            .flat_map(Fetched::host_endpoints)
            .map(|hep| format!("hostendpoint.projectcalico.org/{}\n", hep.metadata.name))
            .collect(),
        OutputFormat::Template(text) => template::render(text, results)?,
    };
    Ok(text)
}

/// A result as calicoctl prints it: the one document type of the API crate.
#[derive(Serialize)]
#[serde(untagged)]
enum Printed {
    // Boxed: a document is much larger than a list's handle on its items.
    One(Box<Document>),
    List(DocumentList),
    Many(Vec<Printed>),
}

/// calicoctl prints one result as itself and any other number as a slice; with nothing
/// found, that slice is Go's nil slice, which marshals as `null`.
fn document(results: &[Fetched]) -> Option<Printed> {
    match results {
        [] => None,
        [one] => Some(one.document()),
        many => Some(Printed::Many(many.iter().map(Fetched::document).collect())),
    }
}

/// The document of a host endpoint, as `get` and `watch` print it.
pub(crate) fn host_endpoint(hep: &HostEndpoint) -> Document {
    Document::from_host_endpoint(hep, ResourceVersion::Include)
}

/// A document as serde_json reads it, for the YAML printer (which sorts keys anyway).
pub(crate) fn to_value(document: &impl Serialize) -> serde_json::Value {
    // Documents of strings, string-keyed maps and integers always convert.
    serde_json::to_value(document).unwrap_or_default()
}

/// Writes text to standard output now (a watch must not sit in a buffer).
pub(crate) fn print(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(Error::Output)
}

#[cfg(test)]
mod tests;
