//! calicoctl's ps-style tables: its column templates, written through Go's text/tabwriter.

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
        }
    }

    fn cell(self, hep: &HostEndpoint) -> String {
        match self {
            Self::Name => hep.metadata.name.clone(),
            Self::Node => hep.spec.node.clone(),
            Self::Interface => hep.spec.interface_name.clone(),
            Self::Ips => hep.spec.expected_ips.join(","),
            Self::Profiles => hep.spec.profiles.join(","),
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
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|row| row.get(c))
                .map(|cell| cell.chars().count() + PADDING)
                .fold(MIN_WIDTH, usize::max)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        for (cell, width) in row.iter().zip(&widths) {
            out.push_str(cell);
            out.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
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
    fn narrow_columns_get_the_minimum_width() {
        let text = tabwriter(&[row(&["A", ""]), row(&["b", "c"])]);
        assert_eq!(text, "A         \nb    c    \n");
    }
}
