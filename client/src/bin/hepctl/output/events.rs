//! The printers of `watch`: a table of one line per event, for people (the default), or one
//! JSON or YAML document per event, for scripts.
//!
//! The table holds the initial listing back until it is complete, so that its columns are as
//! wide as that listing needs (as kubectl aligns a watch to its first batch), then prints it
//! with a `SYNCED` row that gives the revision the listing reflects. The documents have no
//! such marker: their stream stays as scripts already read it.

use hostendpoint_api::{
    calico::Document,
    model::{HostEndpoint, Revision},
};
use serde::Serialize;

use super::{host_endpoint, json, table::Column, table::Growing, to_value, yaml};
use crate::args::WatchFormat;

/// What happened to a host endpoint, as Kubernetes watch events name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// It is new to the watch.
    Added,
    /// It changed.
    Modified,
    /// It is gone (or left the watched node); the object is its last state.
    Deleted,
}

impl Change {
    fn name(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// The event of the table's marker row, the API's name for the end of a listing.
const SYNCED: &str = "SYNCED";

/// The table's columns after EVENT.
const COLUMNS: [Column; 3] = [Column::Name, Column::Node, Column::ResourceVersion];

/// The narrowest the table's columns start (EVENT fits "MODIFIED"), so that rows after a
/// small initial listing still line up with typical names.
const MINIMUM_WIDTHS: [usize; 4] = [8, 20, 12, 0];

/// Prints the events of one watch.
#[derive(Debug)]
pub(crate) struct EventPrinter {
    format: Format,
}

#[derive(Debug)]
enum Format {
    Table {
        table: Growing,
        /// The rows of the initial listing, headings first, until it is complete.
        held: Option<Vec<Vec<String>>>,
    },
    Json,
    Yaml,
}

impl EventPrinter {
    /// A printer of this format.
    pub(crate) fn new(format: WatchFormat) -> Self {
        let format = match format {
            WatchFormat::Ps => {
                let headings = std::iter::once("EVENT").chain(COLUMNS.map(Column::heading));
                Format::Table {
                    table: Growing::new(&MINIMUM_WIDTHS),
                    held: Some(vec![headings.map(str::to_owned).collect()]),
                }
            }
            WatchFormat::Json => Format::Json,
            WatchFormat::Yaml => Format::Yaml,
        };
        Self { format }
    }

    /// The text of a change; nothing yet while the table holds the initial listing back.
    pub(crate) fn change(&mut self, change: Change, hep: &HostEndpoint) -> String {
        match &mut self.format {
            Format::Table { table, held } => {
                let row = std::iter::once(change.name().to_owned())
                    .chain(COLUMNS.map(|c| c.cell(hep)))
                    .collect();
                match held {
                    Some(rows) => {
                        rows.push(row);
                        String::new()
                    }
                    None => table.lines(&[row]),
                }
            }
            Format::Json => json::to_string(&document(change, hep)) + "\n",
            Format::Yaml => format!(
                "---\n{}",
                yaml::to_string(&to_value(&document(change, hep)))
            ),
        }
    }

    /// The text of a listing's end at `revision`: in the table, what it held back and the
    /// SYNCED row; nothing in the documents.
    pub(crate) fn synced(&mut self, revision: Revision) -> String {
        let Format::Table { table, held } = &mut self.format else {
            return String::new();
        };
        let mut rows = held.take().unwrap_or_default();
        rows.push(vec![
            SYNCED.to_owned(),
            String::new(),
            String::new(),
            revision.to_string(),
        ]);
        table.lines(&rows)
    }
}

/// One event document, `{"type": ..., "object": ...}`.
#[derive(Serialize)]
struct WatchEvent {
    r#type: &'static str,
    object: Document,
}

fn document(change: Change, hep: &HostEndpoint) -> WatchEvent {
    WatchEvent {
        r#type: change.name(),
        object: host_endpoint(hep),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::mk_hep;

    #[test]
    fn the_table_prints_the_listing_at_its_end_then_a_line_per_change() {
        let mut printer = EventPrinter::new(WatchFormat::Ps);
        assert_eq!(
            printer.change(
                Change::Added,
                &mk_hep("a-rather-long-endpoint-name", "n1", 3)
            ),
            ""
        );
        assert_eq!(
            printer.synced(3),
            "\
EVENT      NAME                          NODE           RESOURCEVERSION
ADDED      a-rather-long-endpoint-name   n1             3
SYNCED                                                  3
"
        );
        assert_eq!(
            printer.change(Change::Modified, &mk_hep("b", "node-two", 4)),
            "MODIFIED   b                             node-two       4\n"
        );
    }

    #[test]
    fn an_empty_listing_prints_the_headings_and_the_marker() {
        let mut printer = EventPrinter::new(WatchFormat::Ps);
        assert_eq!(
            printer.synced(0),
            "\
EVENT      NAME                   NODE           RESOURCEVERSION
SYNCED                                           0
"
        );
        assert_eq!(
            printer.synced(7),
            "SYNCED                                           7\n",
            "a later listing's end is one more marker row"
        );
    }

    #[test]
    fn documents_are_type_and_object_with_no_marker() {
        let mut json = EventPrinter::new(WatchFormat::Json);
        let added = json.change(Change::Added, &mk_hep("a", "n1", 1));
        assert!(
            added.starts_with(
                "{\n  \"type\": \"ADDED\",\n  \"object\": {\n    \"kind\": \"HostEndpoint\""
            ),
            "{added}"
        );
        assert!(added.ends_with("}\n"));
        assert_eq!(json.synced(1), "");
        let mut yaml = EventPrinter::new(WatchFormat::Yaml);
        let deleted = yaml.change(Change::Deleted, &mk_hep("a", "n1", 1));
        assert!(
            deleted.starts_with("---\nobject:\n  apiVersion: projectcalico.org/v3\n"),
            "{deleted}"
        );
        assert!(deleted.ends_with("type: DELETED\n"), "{deleted}");
        assert_eq!(yaml.synced(1), "");
    }
}
