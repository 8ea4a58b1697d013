//! The canonical text (spec 6.2 and Calico's `canonicalisationTests`), and the small API
//! around it.

use super::{super::Selector, assert_round_trips, parse_ok};

#[test]
fn canonical_forms_from_the_spec_and_calico() {
    let cases = [
        ("", "all()"),
        (" all() ", "all()"),
        (" (all() )", "all()"),
        ("! (has( b)||! has(a ))", "!(has(b) || !has(a))"),
        (r#"! (a == "b"&&! c != "d")"#, r#"!(a == "b" && !c != "d")"#),
        (r#"a == "'""#, r#"a == "'""#),
        (r#"a == '"'"#, r#"a == '"'"#),
        (r#"a contains '"'"#, r#"a contains '"'"#),
        (r#"a contains "'""#, r#"a contains "'""#),
        (r#"a startswith '"'"#, r#"a starts with '"'"#),
        (r#"a endswith "'""#, r#"a ends with "'""#),
        (r#"a!='"'"#, r#"a != '"'"#),
        (r#"a in {"d"}"#, r#"a in {"d"}"#),
        (r#"a in {"a", "b"}"#, r#"a in {"a", "b"}"#),
        (r#"a in {"d", "a", "b"}"#, r#"a in {"a", "b", "d"}"#),
        (
            r#"a in {"z", "x", "y", "a"}"#,
            r#"a in {"a", "x", "y", "z"}"#,
        ),
        (
            r#"a in {"z","z","x","y","x","a"}"#,
            r#"a in {"a", "x", "y", "z"}"#,
        ),
        // Calico's visitor tests, without the prefix they add.
        ("k == 'v' && x == 'y'", r#"(k == "v" && x == "y")"#),
        ("k == 'v' || has(x)", r#"(k == "v" || has(x))"#),
        ("!(k == 'v')", r#"!k == "v""#),
        (
            "!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))",
            r#"!(!((k == "v" && has(t)) || all()) && a in {"b", "c"})"#,
        ),
    ];
    for (input, canonical) in cases {
        let sel = parse_ok(input);
        assert_eq!(sel.to_string(), canonical, "canonical form of {input:?}");
        assert_round_trips(&sel);
    }
}

#[test]
fn quotes_are_double_unless_the_value_holds_a_double_quote() {
    let cases = [
        ("a == 'plain'", r#"a == "plain""#),
        (r#"a == "it's""#, r#"a == "it's""#),
        (r#"a == 'say "hi"'"#, r#"a == 'say "hi"'"#),
        (r#"a in {'"', "'", 'x'}"#, r#"a in {'"', "'", "x"}"#),
    ];
    for (input, canonical) in cases {
        assert_eq!(
            parse_ok(input).to_string(),
            canonical,
            "canonical form of {input:?}"
        );
    }
}

#[test]
fn set_values_sort_by_bytes() {
    let sel = parse_ok("a in {'b', 'B', 'é', 'a', '', 'A'}");
    assert_eq!(sel.to_string(), r#"a in {"", "A", "B", "a", "b", "é"}"#);
}

#[test]
fn equal_selectors_have_equal_canonical_text() {
    let spellings = [
        "a startswith 'x' && b notin {'q','p','q',}",
        "(a starts  with \"x\")&&(b not in{'p', 'q'})",
        "!!(a starts with 'x' && b not in {\"p\",\"q\"})",
    ];
    let first = parse_ok(spellings[0]);
    for text in spellings {
        let sel = parse_ok(text);
        assert_eq!(sel, first, "{text:?}");
        assert_eq!(
            sel.to_string(),
            r#"(a starts with "x" && b not in {"p", "q"})"#
        );
    }
}

#[test]
fn all_is_the_empty_selector() {
    assert!(Selector::all().is_all());
    assert_eq!(Selector::all(), parse_ok(""));
    assert_eq!(Selector::default(), Selector::all());
    assert_eq!(Selector::all().to_string(), "all()");
    for text in ["", "  ", "all()", "(all())", "!!all()"] {
        assert!(parse_ok(text).is_all(), "{text:?} is all()");
    }
    for text in ["global()", "!all()", "has(a) || !has(a)", "all() && all()"] {
        assert!(!parse_ok(text).is_all(), "{text:?} is not all()");
    }
}

#[test]
fn from_str_parses() {
    let sel: Selector = "has(a)".parse().expect("has(a) is valid");
    assert_eq!(sel, parse_ok("has(a)"));
    assert!("has(".parse::<Selector>().is_err());
}
