//! Unit tests of the selector language, one file per concern:
//! - `grammar`: valid selectors, case by case, with the tree they give (as canonical text);
//! - `errors`: invalid selectors, with the position and expectation of each error;
//! - `eval`: matching against label maps, including absent labels;
//! - `canonical`: the canonical forms quoted in spec 6.2 and Calico's own tests;
//! - `props`: property tests (no panics on any input, print/parse round trips).

mod canonical;
mod errors;
mod eval;
mod grammar;
mod props;

use super::{ParseError, Selector};
use crate::model::StringMap;

fn mk_labels(pairs: &[(&str, &str)]) -> StringMap {
    pairs.iter().copied().collect()
}

fn parse_ok(text: &str) -> Selector {
    Selector::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn parse_err(text: &str) -> ParseError {
    match Selector::parse(text) {
        Ok(sel) => panic!("{text:?} should not parse, but gave {sel}"),
        Err(e) => e,
    }
}

/// Asserts that `sel` prints as text that parses back to it, and that printing that gives the
/// same text again.
fn assert_round_trips(sel: &Selector) {
    let printed = sel.to_string();
    let again = Selector::parse(&printed)
        .unwrap_or_else(|e| panic!("canonical text {printed:?} should parse: {e}"));
    assert_eq!(&again, sel, "{printed:?} parsed to a different tree");
    assert_eq!(again.to_string(), printed, "printing is not a fixed point");
}
