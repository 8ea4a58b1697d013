//! Fuzzes the selector parser with arbitrary UTF-8 text.
//!
//! - Parsing never panics, whatever the text (the parser caps nesting, so deep input cannot
//!   overflow the stack either).
//! - An error points at a character boundary inside the text.
//! - A selector that parses prints a canonical text that parses back to the same selector and
//!   prints identically (the canonical form is a fixed point).

#![no_main]

use hostendpoint_api::selector::Selector;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Selectors are strings on every path into the service; other bytes cannot reach the parser.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let selector = match Selector::parse(text) {
        Ok(selector) => selector,
        Err(err) => {
            assert!(
                err.position <= text.len(),
                "{err} is past the end of {text:?}"
            );
            assert!(
                text.is_char_boundary(err.position),
                "{err} splits a character of {text:?}"
            );
            return;
        }
    };
    let canonical = selector.to_string();
    let reparsed = match Selector::parse(&canonical) {
        Ok(reparsed) => reparsed,
        Err(err) => panic!("canonical text {canonical:?} of {text:?} does not parse: {err}"),
    };
    assert_eq!(
        reparsed, selector,
        "{canonical:?} (from {text:?}) parses to another selector"
    );
    assert_eq!(
        reparsed.to_string(),
        canonical,
        "canonical text of {text:?} is not a fixed point"
    );
});
