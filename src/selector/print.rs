//! The canonical text of a selector (spec 6.2), which is also Calico's `Selector.String()`.
//!
//! - Operators are separated by single spaces: `a == "x"`, `a starts with "x"`.
//! - Every `&&` and `||` group is wrapped in parentheses, also at the top level:
//!   `(a == "x" && has(b))`. The tree keeps the grouping the user wrote, so
//!   `(a && b) && c` prints as `((a && b) && c)` and parses back to the same tree.
//! - `!` is written directly before its operand: `!a == "x"`, `!(a || b)`.
//! - Set values are printed sorted and de-duplicated, separated by `, `.
//! - A string is quoted with `"` unless it contains a `"`, then with `'`. A literal never
//!   contains both (there are no escapes), so the printed text always parses back.

use std::fmt;

use super::ast::Node;

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all()"),
            Self::Global => f.write_str("global()"),
            Self::Has(label) => write!(f, "has({label})"),
            Self::Compare { label, op, value } => {
                write!(f, "{label} {} {}", op.as_str(), Quoted(value))
            }
            Self::InSet {
                label,
                negated,
                values,
            } => {
                let op = if *negated { "not in" } else { "in" };
                write!(f, "{label} {op} {{")?;
                for (i, value) in values.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{}", Quoted(value))?;
                }
                f.write_str("}")
            }
            Self::Not(operand) => write!(f, "!{operand}"),
            Self::And(operands) => group(f, operands, " && "),
            Self::Or(operands) => group(f, operands, " || "),
        }
    }
}

fn group(f: &mut fmt::Formatter<'_>, operands: &[Node], op: &str) -> fmt::Result {
    f.write_str("(")?;
    for (i, operand) in operands.iter().enumerate() {
        let sep = if i == 0 { "" } else { op };
        write!(f, "{sep}{operand}")?;
    }
    f.write_str(")")
}

/// A string literal, quoted so that it lexes back to the same value.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quote = if self.0.contains('"') { '\'' } else { '"' };
        write!(f, "{quote}{}{quote}", self.0)
    }
}
