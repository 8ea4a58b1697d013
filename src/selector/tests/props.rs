//! Property tests.
//!
//! - The parser never panics (nor overflows the stack) on any text: arbitrary strings, soups of
//!   selector tokens, and valid selectors with one character inserted or removed. Errors point
//!   at a character boundary within the text.
//! - Valid selectors, written with every spelling the grammar allows (spacing, either quote,
//!   `startswith`/`notin`, trailing commas, duplicates, redundant parentheses and `!!`),
//!   parse; their canonical text parses back to the same tree and prints the same again.
//! - Embedding a selector in `!( )`, `( ) && ( )` and `( ) || ( )` gives the boolean result.
//!
//! Case counts keep the whole module's tests at a few seconds in a debug build.

use proptest::{prelude::*, sample::select};

use super::super::Selector;
use crate::model::StringMap;

/// Spaces and tabs between tokens, possibly none.
fn ws() -> impl Strategy<Value = String> {
    "[ \t]{0,2}"
}

/// At least one space or tab, as before a keyword operator.
fn ws1() -> impl Strategy<Value = String> {
    "[ \t]{1,2}"
}

/// Mostly a few short names, so that generated label maps hit the selector's labels.
fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(vec!["a", "b", "c"]).prop_map(str::to_owned),
        1 => "[a-zA-Z0-9_./-]{1,12}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    "[ab '\"\t\né&|(){}!=,]{0,3}"
}

/// A string literal, with whichever quote(s) can hold its value.
fn literal() -> impl Strategy<Value = String> {
    (value(), any::<bool>()).prop_map(|(v, prefer_single)| {
        // A literal cannot hold both quotes; keep the double quotes.
        let v = if v.contains('"') {
            v.replace('\'', "")
        } else {
            v
        };
        let q = match (v.contains('"'), v.contains('\'')) {
            (true, _) => '\'',
            (_, true) => '"',
            _ if prefer_single => '\'',
            _ => '"',
        };
        format!("{q}{v}{q}")
    })
}

/// The operator after a label, with the spacing before it.
fn compare_op() -> impl Strategy<Value = String> {
    let keywords = vec![
        "contains",
        "starts with",
        "startswith",
        "starts \t with",
        "ends with",
        "endswith",
    ];
    prop_oneof![
        ws().prop_map(|w| w + "=="),
        ws().prop_map(|w| w + "!="),
        (ws1(), select(keywords)).prop_map(|(w, k)| w + k),
    ]
}

fn set_literal() -> impl Strategy<Value = String> {
    let in_ops = vec!["in", "not in", "notin", "not\tin"];
    let items = prop::collection::vec((literal(), ws()), 0..4);
    (ws1(), select(in_ops), ws(), items, any::<bool>(), ws()).prop_map(
        |(w0, op, w1, items, trailing_comma, w2)| {
            let body: Vec<String> = items.into_iter().map(|(lit, w)| lit + &w).collect();
            let comma = if trailing_comma && !body.is_empty() {
                ","
            } else {
                ""
            };
            format!("{w0}{op}{w1}{{{w2}{}{comma}}}", body.join(","))
        },
    )
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => ws().prop_map(|w| format!("all({w})")),
        1 => ws().prop_map(|w| format!("global({w})")),
        1 => (ws(), label(), ws()).prop_map(|(a, l, b)| format!("has({a}{l}{b})")),
        4 => (label(), compare_op(), ws(), literal())
            .prop_map(|(l, op, w, lit)| format!("{l}{op}{w}{lit}")),
        2 => (label(), set_literal()).prop_map(|(l, set)| l + &set),
    ]
}

/// A valid selector text (never empty).
fn selector_text() -> impl Strategy<Value = String> {
    leaf().prop_recursive(5, 40, 3, |inner| {
        prop_oneof![
            (inner.clone(), ws(), inner.clone()).prop_map(|(a, w, b)| format!("{a}{w}&&{w}{b}")),
            (inner.clone(), ws(), inner.clone()).prop_map(|(a, w, b)| format!("{a}{w}||{w}{b}")),
            (ws(), inner.clone()).prop_map(|(w, a)| format!("!{w}{a}")),
            (ws(), inner, ws()).prop_map(|(a, x, b)| format!("({a}{x}{b})")),
        ]
    })
}

fn labels() -> impl Strategy<Value = StringMap> {
    prop::collection::btree_map(label(), value(), 0..4).prop_map(|map| map.into_iter().collect())
}

/// Tokens and near-tokens of the language, for texts that get past the first byte.
fn token_soup() -> impl Strategy<Value = String> {
    let tokens = vec![
        "a",
        "b.c/d-e_f",
        "has(",
        "all(",
        "global(",
        "(",
        ")",
        "!",
        "!=",
        "==",
        "=",
        "&&",
        "||",
        "&",
        "|",
        "{",
        "}",
        ",",
        "'x'",
        "\"y\"",
        "''",
        "'",
        "\"",
        " ",
        " ",
        "\t",
        "\n",
        "in",
        "not",
        "notin",
        "contains",
        "starts",
        "with",
        "startswith",
        "ends",
        "endswith",
        "é",
        "%",
        "\r",
        "\u{a0}",
    ];
    prop::collection::vec(select(tokens), 0..24).prop_map(|t| t.concat())
}

/// Whatever `parse` returns for `text`, it must not panic, its error must point inside the
/// text, and a selector it returns must round-trip.
fn check_any(text: &str) -> Result<(), TestCaseError> {
    match Selector::parse(text) {
        Ok(sel) => check_round_trip(&sel),
        Err(e) => {
            prop_assert!(e.position <= text.len(), "{e} is past the end of {text:?}");
            prop_assert!(
                text.is_char_boundary(e.position),
                "{e} splits a char in {text:?}"
            );
            Ok(())
        }
    }
}

fn check_round_trip(sel: &Selector) -> Result<(), TestCaseError> {
    let printed = sel.to_string();
    let again = Selector::parse(&printed);
    prop_assert!(
        again.is_ok(),
        "canonical {printed:?} does not parse: {:?}",
        again
    );
    let again = again.unwrap_or_default();
    prop_assert_eq!(
        &again,
        sel,
        "canonical {:?} parses to another tree",
        printed
    );
    prop_assert_eq!(again.to_string(), printed);
    Ok(())
}

fn parse_valid(text: &str) -> Result<Selector, TestCaseError> {
    Selector::parse(text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check_any(&text)?;
    }

    #[test]
    fn token_soup_never_panics(text in token_soup()) {
        check_any(&text)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn one_character_edits_never_panic(
        text in selector_text(),
        at in any::<prop::sample::Index>(),
        c in any::<char>(),
        insert in any::<bool>(),
    ) {
        let mut chars: Vec<char> = text.chars().collect();
        let i = at.index(chars.len() + 1);
        if insert {
            chars.insert(i, c);
        } else if i < chars.len() {
            chars.remove(i);
        }
        check_any(&chars.into_iter().collect::<String>())?;
    }

    #[test]
    fn valid_selectors_parse_and_canonical_text_round_trips(
        (w0, text, w1) in (ws(), selector_text(), ws()),
    ) {
        let sel = parse_valid(&format!("{w0}{text}{w1}"))?;
        check_round_trip(&sel)?;
    }

    #[test]
    fn embedding_in_not_and_or_gives_the_boolean_result(
        x in selector_text(),
        y in selector_text(),
        labels in labels(),
    ) {
        let mx = parse_valid(&x)?.matches(&labels);
        let my = parse_valid(&y)?.matches(&labels);
        prop_assert_eq!(parse_valid(&format!("!({x})"))?.matches(&labels), !mx);
        prop_assert_eq!(parse_valid(&format!("({x})&&({y})"))?.matches(&labels), mx && my);
        prop_assert_eq!(parse_valid(&format!("({x}) || ({y})"))?.matches(&labels), mx || my);
    }
}
