//! The parsed form of a selector and how it is evaluated against a set of labels.
//!
//! The tree mirrors Calico's `parser/ast.go` node for node, so that the canonical text printed
//! from it is the one Calico prints. These invariants hold for every tree the parser builds, and
//! the printer relies on them:
//! - `And` and `Or` have at least two operands (one operand is returned unwrapped);
//! - a `Not` never directly wraps another `Not` (double negation cancels, see [`Node::negate`]);
//! - set values are sorted by bytes and de-duplicated, and no string value contains both kinds
//!   of quote (the lexer cannot produce one).

use crate::model::StringMap;

/// The operators that compare a label's value with one string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum CompareOp {
    /// `==`: present and equal.
    Eq,
    /// `!=`: absent, or present and different.
    Ne,
    /// `contains`: present and containing the string.
    Contains,
    /// `starts with`: present and having the string as prefix.
    StartsWith,
    /// `ends with`: present and having the string as suffix.
    EndsWith,
}

impl CompareOp {
    /// The operator as the canonical form spells it.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Contains => "contains",
            Self::StartsWith => "starts with",
            Self::EndsWith => "ends with",
        }
    }

    /// The result for a label that is present with `actual`, or absent (`None`).
    fn eval(self, actual: Option<&str>, value: &str) -> bool {
        let Some(actual) = actual else {
            // Only `!=` holds for an absent label (spec 6.2, pitfall 11).
            return self == Self::Ne;
        };
        match self {
            Self::Eq => actual == value,
            Self::Ne => actual != value,
            Self::Contains => actual.contains(value),
            Self::StartsWith => actual.starts_with(value),
            Self::EndsWith => actual.ends_with(value),
        }
    }
}

/// One node of a parsed selector.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Node {
    /// `all()`, and the empty selector: matches everything.
    All,
    /// `global()`: matches every non-namespaced resource, which for host endpoints is all of
    /// them; the namespace scoping it exists for belongs to the caller, as in Calico.
    Global,
    /// `has(label)`.
    Has(String),
    /// `label <op> "value"`.
    Compare {
        label: String,
        op: CompareOp,
        value: String,
    },
    /// `label in {…}`, or `label not in {…}` when `negated`. Values are sorted and unique, so
    /// membership is a binary search.
    InSet {
        label: String,
        negated: bool,
        values: Vec<String>,
    },
    /// `!operand`.
    Not(Box<Node>),
    /// `a && b && …`, at least two operands.
    And(Vec<Node>),
    /// `a || b || …`, at least two operands.
    Or(Vec<Node>),
}

impl Node {
    /// `!self`. Double negation cancels, so that `!(!has(a))` is the same tree as `has(a)` and
    /// prints as a text that parses back to it (Calico keeps both `!`s and prints `!!has(a)`,
    /// which it then parses to `has(a)`).
    pub(super) fn negate(self) -> Self {
        match self {
            Self::Not(inner) => *inner,
            other => Self::Not(Box::new(other)),
        }
    }

    /// Whether the selector matches an object with these labels.
    pub(super) fn matches(&self, labels: &StringMap) -> bool {
        match self {
            Self::All | Self::Global => true,
            Self::Has(label) => labels.contains_key(label),
            Self::Compare { label, op, value } => op.eval(labels.get(label), value),
            Self::InSet {
                label,
                negated,
                values,
            } => match labels.get(label) {
                // `not in` holds for an absent label, `in` does not.
                None => *negated,
                Some(actual) => {
                    values.binary_search_by(|v| v.as_str().cmp(actual)).is_ok() != *negated
                }
            },
            Self::Not(operand) => !operand.matches(labels),
            Self::And(operands) => operands.iter().all(|n| n.matches(labels)),
            Self::Or(operands) => operands.iter().any(|n| n.matches(labels)),
        }
    }
}
