//! The tables: calicoctl's ps-style tables of `get` (its column templates, written through
//! Go's text/tabwriter), and the growing table `watch` prints an event at a time.

use hostendpoint_api::model::HostEndpoint;

/// Go tabwriter's settings in calicoctl: minimum cell width 5 (padding included), padding 3,
/// padded with spaces, no flags.
const MIN_WIDTH: usize = 5;
const PADDING: usize = 3;

/// A table column of a host endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Column {
    /// `metadata.name`.
    Name,
    /// `spec.node`.
    Node,
    /// `spec.interfaceName`.
    Interface,
    /// `spec.expectedIPs`, joined by commas.
    Ips,
    /// `spec.profiles`, joined by commas.
    Profiles,
    /// `metadata.resourceVersion` (a `watch` column; calicoctl's custom columns lack it).
    ResourceVersion,
}

impl Column {
    /// The columns of `-o ps`.
    pub(crate) const PS: &[Column] = &[Column::Name, Column::Node];
    /// The columns of `-o wide`.
    pub(crate) const WIDE: &[Column] = &[
        Column::Name,
        Column::Node,
        Column::Interface,
        Column::Ips,
        Column::Profiles,
    ];

    /// The column a `custom-columns=` heading names (upper case, as calicoctl's map has them).
    pub(crate) fn from_heading(heading: &str) -> Option<Self> {
        Self::WIDE.iter().copied().find(|c| c.heading() == heading)
    }

    /// The heading.
    pub(crate) fn heading(self) -> &'static str {
        match self {
            Self::Name => "NAME",
            Self::Node => "NODE",
            Self::Interface => "INTERFACE",
            Self::Ips => "IPS",
            Self::Profiles => "PROFILES",
            Self::ResourceVersion => "RESOURCEVERSION",
        }
    }

    /// The cell of a host endpoint.
    pub(crate) fn cell(self, hep: &HostEndpoint) -> String {
        match self {
            Self::Name => hep.metadata.name.clone(),
            Self::Node => hep.spec.node.clone(),
            Self::Interface => hep.spec.interface_name.clone(),
            Self::Ips => hep.spec.expected_ips.join(","),
            Self::Profiles => hep.spec.profiles.join(","),
            Self::ResourceVersion => hep.metadata.resource_version.to_string(),
        }
    }
}

/// One table: the headings, then a row per host endpoint.
pub(crate) fn render(columns: &[Column], heps: &[&HostEndpoint]) -> String {
    let mut rows = vec![columns.iter().map(|c| c.heading().to_owned()).collect()];
    rows.extend(
        heps.iter()
            .map(|hep| columns.iter().map(|c| c.cell(hep)).collect()),
    );
    tabwriter(&rows)
}

/// Go's tabwriter over lines whose every cell ends with a tab (calicoctl's templates put a tab
/// after each column, the last too): each column is as wide as its widest cell plus the
/// padding, at least the minimum, and every cell is padded to it, so lines end in spaces.
pub(crate) fn tabwriter(rows: &[Vec<String>]) -> String {
    let mut widths = Vec::new();
    fit(&mut widths, rows);
    lines(rows, &widths, Last::Padded)
}

/// A table printed a few rows at a time, as `watch` prints events. Each column is as wide as
/// the widest cell printed in it so far (by tabwriter's rule), and never narrower than its
/// minimum: rows line up with the ones above them until a longer cell widens its column from
/// then on. The last column is not padded, as in kubectl's tables.
#[derive(Debug)]
pub(crate) struct Growing {
    widths: Vec<usize>,
}

impl Growing {
    /// A table whose columns hold at least these many characters each.
    pub(crate) fn new(minimums: &[usize]) -> Self {
        Self {
            widths: minimums
                .iter()
                .map(|m| (m + PADDING).max(MIN_WIDTH))
                .collect(),
        }
    }

    /// The lines of these rows, the columns widened to fit them first.
    pub(crate) fn lines(&mut self, rows: &[Vec<String>]) -> String {
        fit(&mut self.widths, rows);
        lines(rows, &self.widths, Last::Unpadded)
    }
}

/// Whether the last cell of a line is padded like the others (it is followed by a tab).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    Padded,
    Unpadded,
}

/// Widens the columns to the cells of `rows`, padding included, each at least the minimum.
fn fit(widths: &mut Vec<usize>, rows: &[Vec<String>]) {
    for row in rows {
        if widths.len() < row.len() {
            widths.resize(row.len(), MIN_WIDTH);
        }
        for (cell, width) in row.iter().zip(widths.iter_mut()) {
            *width = (*width).max(cell.chars().count() + PADDING);
        }
    }
}

/// The rows, every cell padded to its column's width but an unpadded last one.
fn lines(rows: &[Vec<String>], widths: &[usize], last: Last) -> String {
    let mut out = String::new();
    for row in rows {
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            out.push_str(cell);
            if last == Last::Padded || i + 1 < row.len() {
                out.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn every_column_is_padded_the_last_too() {
        let rows = [
            row(&["NAME", "NODE", "INTERFACE", "IPS", "PROFILES"]),
            row(&[
                "endpoint1",
                "host1",
                "eth0",
                "192.168.0.1,fd00::1",
                "prof1,prof2",
            ]),
            row(&[
                "host1-auto-hep",
                "host1",
                "*",
                "10.0.0.5",
                "projectcalico-default-allow",
            ]),
        ];
        let expected = "\
NAME             NODE    INTERFACE   IPS                   PROFILES                      
endpoint1        host1   eth0        192.168.0.1,fd00::1   prof1,prof2                   
host1-auto-hep   host1   *           10.0.0.5              projectcalico-default-allow   
";
        assert_eq!(tabwriter(&rows), expected);
    }

    #[test]
    fn a_growing_table_keeps_its_widths_and_widens_for_longer_cells() {
        let mut table = Growing::new(&[8, 4]);
        let first = table.lines(&[row(&["EVENT", "NAME", "RV"]), row(&["ADDED", "a", "1"])]);
        assert_eq!(first, "EVENT      NAME   RV\nADDED      a      1\n");
        let longer = table.lines(&[row(&["DELETED", "longer-name", "12"])]);
        assert_eq!(longer, "DELETED    longer-name   12\n");
        let after = table.lines(&[row(&["ADDED", "b", "13"])]);
        assert_eq!(after, "ADDED      b             13\n");
    }

    #[test]
    fn narrow_columns_get_the_minimum_width() {
        let text = tabwriter(&[row(&["A", ""]), row(&["b", "c"])]);
        assert_eq!(text, "A         \nb    c    \n");
    }
}
