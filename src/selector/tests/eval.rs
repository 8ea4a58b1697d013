//! Matching selectors against label maps. The first table is Calico's `selectorTests`
//! (`parser_test.go`); the rest pin down absent labels and exact comparison.

use super::{assert_round_trips, mk_labels, parse_ok};

type Labels = &'static [(&'static str, &'static str)];

/// Asserts which label maps `selector` matches, also after a print/parse round trip.
#[track_caller]
fn check(selector: &str, matching: &[Labels], not_matching: &[Labels]) {
    let sel = parse_ok(selector);
    assert_round_trips(&sel);
    for labels in matching {
        assert!(
            sel.matches(&mk_labels(labels)),
            "{selector:?} should match {labels:?}"
        );
    }
    for labels in not_matching {
        assert!(
            !sel.matches(&mk_labels(labels)),
            "{selector:?} should not match {labels:?}"
        );
    }
}

#[test]
fn calico_selector_tests() {
    check(
        r#"a == "b""#,
        &[&[("a", "b")], &[("a", "b"), ("c", "d")]],
        &[&[], &[("a", "c")], &[("c", "d")]],
    );
    check(
        r#"a == "b" && c == "d""#,
        &[&[("a", "b"), ("c", "d")]],
        &[
            &[],
            &[("a", "b"), ("c", "e")],
            &[("a", "c"), ("c", "d")],
            &[("c", "d")],
            &[("a", "b")],
        ],
    );
    check(
        r#"a == "b" || c == "d""#,
        &[&[("a", "b"), ("c", "d")], &[("a", "b")], &[("c", "d")]],
        &[&[], &[("a", "e"), ("c", "e")], &[("c", "e")], &[("a", "e")]],
    );
    check(
        r#"a in {"'", '"', "c"}"#,
        &[&[("a", "c")], &[("a", "\"")], &[("a", "'")]],
        &[&[], &[("a", "e")]],
    );
    check(
        r#"a not in {"'", '"', "c"}"#,
        &[&[], &[("a", "e")]],
        &[&[("a", "c")], &[("a", "\"")], &[("a", "'")]],
    );
    check(
        "a contains \"a\"",
        &[&[("a", "a")], &[("a", "bab")], &[("a", "aaa"), ("b", "c")]],
        &[&[], &[("a", "b")], &[("b", "aaa")]],
    );
    check(
        "a starts with \"a\"",
        &[&[("a", "a")], &[("a", "abb")], &[("a", "aaa"), ("b", "c")]],
        &[&[], &[("a", "b")], &[("a", "baa")], &[("b", "aaa")]],
    );
    check(
        "a ends with \"a\"",
        &[&[("a", "a")], &[("a", "bba")], &[("a", "aaa"), ("b", "c")]],
        &[&[], &[("a", "b")], &[("a", "aab")], &[("b", "aaa")]],
    );
    check(r#"!a in {"a"}"#, &[&[("a", "b")]], &[&[("a", "a")]]);
    check(
        r#"a in {"a", "b"}"#,
        &[&[("a", "a")], &[("a", "b")]],
        &[&[("a", "c")]],
    );
    check("has(a)", &[&[("a", "b")]], &[&[("b", "b")]]);
    check("!has(a)", &[&[("b", "b")]], &[&[("a", "b")]]);
    for not_has in [
        "! has(a)",
        "!!! has(a)",
        "!!!has(a)",
        "!! ! has(a)",
        "! !!has(a)",
    ] {
        check(not_has, &[&[]], &[&[("a", "b")]]);
    }
    check("!!has(b)", &[&[("b", "")]], &[&[("a", "b")]]);
    check(
        "a == 'a1' && b != 'b1'",
        &[&[("a", "a1"), ("b", "b2")]],
        &[&[("a", "a1"), ("b", "b1")]],
    );
    check(
        "a != 'a1' && !b == 'b1'",
        &[&[]],
        &[&[("a", "a1"), ("b", "b1")]],
    );
    check(
        "has(a) && !has(b)",
        &[&[("a", "a")]],
        &[&[("a", "a"), ("b", "b")]],
    );
    check(
        "!(!has(a) || has(b))",
        &[&[("a", "a")]],
        &[&[("b", "b")], &[]],
    );
    check(
        "a == 'a1' || b != 'b1'",
        &[&[("a", "a1"), ("b", "b1")], &[]],
        &[&[("a", "a2"), ("b", "b1")]],
    );
    check(
        "a != 'a1' || b != 'b1'",
        &[&[("a", "a1")]],
        &[&[("a", "a1"), ("b", "b1")]],
    );
    check(
        "! a == 'a1' || ! b == 'b1'",
        &[&[("a", "a1")]],
        &[&[("a", "a1"), ("b", "b1")]],
    );
}

#[test]
fn everything_matches_all_global_and_the_empty_selector() {
    for selector in ["", " ", "all()", "global()", "!!all()"] {
        check(selector, &[&[], &[("a", "b")]], &[]);
    }
    check("!all()", &[], &[&[], &[("a", "b")]]);
    check("!global()", &[], &[&[], &[("a", "b")]]);
}

#[test]
fn not_equal_and_not_in_hold_when_the_label_is_absent() {
    check(
        "a != 'x'",
        &[&[], &[("b", "x")], &[("a", "y")], &[("a", "")]],
        &[&[("a", "x")]],
    );
    check(
        "a not in {'x', 'y'}",
        &[&[], &[("b", "x")], &[("a", "z")]],
        &[&[("a", "x")], &[("a", "y")]],
    );
    check("a not in {}", &[&[], &[("a", "")], &[("a", "x")]], &[]);
}

#[test]
fn other_operators_fail_when_the_label_is_absent() {
    let absent: &[Labels] = &[&[], &[("b", "")]];
    for selector in [
        "a == ''",
        "a contains ''",
        "a starts with ''",
        "a ends with ''",
        "a in {''}",
        "has(a)",
    ] {
        check(selector, &[&[("a", "")]], absent);
    }
    check("a in {}", &[], &[&[], &[("a", "")]]);
}

#[test]
fn comparisons_are_exact_and_case_sensitive() {
    check(
        "a == 'B'",
        &[&[("a", "B")]],
        &[&[("a", "b")], &[("a", "B ")], &[("A", "B")]],
    );
    check("A == 'b'", &[&[("A", "b")]], &[&[("a", "b")]]);
    check(
        "a contains 'é'",
        &[&[("a", "café")]],
        &[&[("a", "cafe")], &[("a", "CAFÉ")]],
    );
    check(
        "a starts with 'ab'",
        &[&[("a", "ab")], &[("a", "abc")]],
        &[&[("a", "a")], &[("a", "Abc")]],
    );
    check(
        "a ends with 'bc'",
        &[&[("a", "bc")], &[("a", "abc")]],
        &[&[("a", "c")], &[("a", "abC")]],
    );
    check(
        "a in {'x'}",
        &[&[("a", "x")]],
        &[&[("a", "X")], &[("a", "x ")]],
    );
}

#[test]
fn labels_with_path_characters_match_by_exact_key() {
    const KEY: &str = "projectcalico.org/namespace";
    check(
        "projectcalico.org/namespace == 'default' && has(kubernetes.io/hostname)",
        &[&[(KEY, "default"), ("kubernetes.io/hostname", "n1")]],
        &[
            &[(KEY, "default")],
            &[("namespace", "default"), ("kubernetes.io/hostname", "n1")],
        ],
    );
}
