//! Calico's label selector language (spec section 6): parsing, evaluation against a set of
//! labels, and the canonical text.
//!
//! ```
//! use hostendpoint_api::{model::StringMap, selector::Selector};
//!
//! let sel = Selector::parse("role in {'db','web'} && env != 'dev'")?;
//! assert_eq!(sel.to_string(), r#"(role in {"db", "web"} && env != "dev")"#);
//!
//! let labels = StringMap::from([("role", "db")]);
//! assert!(sel.matches(&labels)); // `!=` holds when `env` is absent
//! # Ok::<(), hostendpoint_api::selector::ParseError>(())
//! ```
//!
//! The language follows Calico's tokenizer and parser exactly (what they accept and reject,
//! and what a selector means): only space and tab separate tokens, labels are
//! `[a-zA-Z0-9_./-]{1,512}`, strings have no escapes, keyword operators are recognised only
//! right after a label, `!=` and `not in` hold when the label is absent, and the empty
//! selector matches everything. Two deliberate differences: parentheses may nest at most
//! [`MAX_NESTING`] deep (Calico has no limit; this only turns away hostile input), and `!(!x)`
//! cancels to `x` in the tree (Calico keeps both `!`s and prints `!!x`, which does not parse
//! back to the same tree, so its canonical text would not be a fixed point).
//!
//! # Why a hand-written parser
//! The grammar is three precedence levels and a dozen tokens, but the lexing is
//! context-sensitive (`in` is an operator after a label and a label anywhere else; `has(` is
//! one token, so `has (a)` is an error) and errors must carry Calico's wording and a position.
//! With nom/winnow or chumsky that means custom error types and state threaded through
//! combinators; logos cannot see the previous token without callbacks. A recursive descent
//! over a byte cursor is about 400 lines with its docs, has no dependency, reads like the grammar in spec
//! 6.2, and borrows from the input until a node is built: a typical selector parses in about
//! half a microsecond and matches a label map in under 100 ns (`tests/benches/selector.rs`).
//!
//! # Layout
//! - `mod.rs` (this file): the public API, [`Selector`].
//! - `error.rs`: [`ParseError`] and [`ErrorKind`].
//! - `lexer.rs`: the byte cursor: whitespace, labels, strings, the operators after a label.
//! - `parser.rs`: recursive descent from text to tree.
//! - `ast.rs`: the tree and its evaluation.
//! - `print.rs`: the canonical text (`Display`).
//! - `tests/`: grammar, error, evaluation and canonical-form tables, and property tests.

mod ast;
mod error;
mod lexer;
mod parser;
mod print;
#[cfg(test)]
mod tests;

use std::{fmt, str::FromStr};

use crate::model::StringMap;

pub use error::{ErrorKind, ParseError};

/// The longest label name a selector may mention, as in Calico's tokenizer.
pub const MAX_LABEL_LEN: usize = 512;

/// The deepest nesting of parentheses a selector may have. Calico has no limit; ours keeps
/// parsing, evaluation, printing and dropping of any input within a small, fixed stack depth.
/// Real selectors rarely nest more than a few levels.
pub const MAX_NESTING: usize = 128;

/// A parsed label selector.
///
/// Two selectors are equal when their trees are equal, which is when their canonical texts
/// ([`Display`](fmt::Display)) are equal. Parsing the canonical text gives back an equal
/// selector.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Selector {
    root: ast::Node,
}

impl Selector {
    /// Parses a selector. The empty (or blank) selector is valid and is [`Selector::all`].
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        parser::parse(text).map(|root| Self { root })
    }

    /// The selector that matches everything: `all()`, or the empty selector.
    pub fn all() -> Self {
        Self {
            root: ast::Node::All,
        }
    }

    /// Whether this is exactly `all()` (also written as the empty selector, `(all())` or
    /// `!!all()`). Selectors that only happen to match everything, such as `global()` or
    /// `has(a) || !has(a)`, are not.
    pub fn is_all(&self) -> bool {
        self.root == ast::Node::All
    }

    /// Whether an object with these labels is selected. Comparisons are exact, case-sensitive
    /// byte comparisons; `==`, `in`, `contains`, `starts with`, `ends with` and `has` are false
    /// for an absent label, and `!=` and `not in` are true.
    pub fn matches(&self, labels: &StringMap) -> bool {
        self.root.matches(labels)
    }
}

impl Default for Selector {
    /// The empty selector, which matches everything.
    fn default() -> Self {
        Self::all()
    }
}

impl FromStr for Selector {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        Self::parse(text)
    }
}

impl fmt::Display for Selector {
    /// The canonical form (spec 6.2): `""` prints as `all()`, `a startswith '"'` as
    /// `a starts with '"'`, set values sorted and de-duplicated. Strings are quoted with `"`
    /// unless they contain a `"`, then with `'`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root.fmt(f)
    }
}
