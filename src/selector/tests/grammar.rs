//! Valid selectors, case by case. Each case gives the canonical text of the tree the input
//! parses to, which pins down precedence, grouping and the spelling of operators.

use super::{super::ast::Node, assert_round_trips, parse_ok};

#[track_caller]
fn check(cases: &[(&str, &str)]) {
    for (input, canonical) in cases {
        let sel = parse_ok(input);
        assert_eq!(sel.to_string(), *canonical, "canonical form of {input:?}");
        assert_round_trips(&sel);
    }
}

#[test]
fn empty_and_blank_selectors_are_all() {
    check(&[("", "all()"), (" ", "all()"), (" \t  ", "all()")]);
    assert!(parse_ok("\t").is_all());
}

#[test]
fn functions_allow_spaces_only_inside_their_parentheses() {
    check(&[
        ("all()", "all()"),
        (" all( \t) ", "all()"),
        ("global()", "global()"),
        ("global(  )", "global()"),
        ("has(a)", "has(a)"),
        ("has( a )", "has(a)"),
        (
            "has(\tcalico/k8s_NS-.1/role\t)",
            "has(calico/k8s_NS-.1/role)",
        ),
    ]);
}

#[test]
fn comparison_operators_need_no_spaces_around_symbols() {
    check(&[
        ("a == 'b'", r#"a == "b""#),
        (r#"a=="b""#, r#"a == "b""#),
        ("a!='b'", r#"a != "b""#),
        ("a \t== \t'b'", r#"a == "b""#),
    ]);
}

#[test]
fn keyword_operators_accept_both_spellings_and_any_spacing_between_words() {
    check(&[
        ("a contains 'x'", r#"a contains "x""#),
        ("a contains'x'", r#"a contains "x""#),
        ("a starts with 'x'", r#"a starts with "x""#),
        ("a startswith 'x'", r#"a starts with "x""#),
        ("a starts \t  with'x'", r#"a starts with "x""#),
        ("a ends with 'x'", r#"a ends with "x""#),
        ("a endswith 'x'", r#"a ends with "x""#),
        ("a in {'x'}", r#"a in {"x"}"#),
        ("a in{'x'}", r#"a in {"x"}"#),
        ("a not in {'x'}", r#"a not in {"x"}"#),
        ("a notin {'x'}", r#"a not in {"x"}"#),
        ("a not\t\tin{'x'}", r#"a not in {"x"}"#),
    ]);
}

#[test]
fn keywords_are_labels_when_not_right_after_a_label() {
    check(&[
        ("in == 'x'", r#"in == "x""#),
        ("contains in {'a'}", r#"contains in {"a"}"#),
        ("not in {}", "not in {}"),
        ("not not in {}", "not not in {}"),
        ("has == 'x'", r#"has == "x""#),
        ("all != 'x'", r#"all != "x""#),
        ("global starts with 'x'", r#"global starts with "x""#),
        ("hasx == 'x'", r#"hasx == "x""#),
    ]);
}

#[test]
fn set_literals_may_be_empty_have_a_trailing_comma_and_repeat_values() {
    check(&[
        ("a in {}", "a in {}"),
        ("a in { }", "a in {}"),
        ("a not in {}", "a not in {}"),
        ("a in {'x',}", r#"a in {"x"}"#),
        ("a in { 'b' , \"a\" , 'b' , }", r#"a in {"a", "b"}"#),
        ("a in {'', ''}", r#"a in {""}"#),
    ]);
}

#[test]
fn labels_use_the_whole_charset_up_to_512_characters() {
    check(&[
        (
            "calico/k8s_NS-.1/role == 'x'",
            r#"calico/k8s_NS-.1/role == "x""#,
        ),
        ("-./_ == 'x'", r#"-./_ == "x""#),
        ("0 == 'x'", r#"0 == "x""#),
    ]);
    let longest = "k".repeat(512);
    let sel = parse_ok(&format!("{longest} == 'x'"));
    assert_eq!(sel.to_string(), format!(r#"{longest} == "x""#));
    assert_eq!(
        parse_ok(&format!("has({longest})")).to_string(),
        format!("has({longest})")
    );
}

#[test]
fn strings_hold_anything_but_their_own_quote() {
    check(&[
        ("a == ''", r#"a == """#),
        (r#"a == """#, r#"a == """#),
        (r#"a == '"'"#, r#"a == '"'"#),
        (r#"a == "'""#, r#"a == "'""#),
        ("a == 'x y\tz'", "a == \"x y\tz\""),
        // Only whitespace between tokens is restricted; a string may hold a newline.
        ("a == 'line\nbreak'", "a == \"line\nbreak\""),
        (
            "a == '&& || ( ) { } , ! =='",
            r#"a == "&& || ( ) { } , ! ==""#,
        ),
        ("a == 'é✓'", r#"a == "é✓""#),
    ]);
}

#[test]
fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
    check(&[
        (
            "a == 'x' || b == 'y' && c == 'z'",
            r#"(a == "x" || (b == "y" && c == "z"))"#,
        ),
        (
            "a == 'x' && b == 'y' || c == 'z'",
            r#"((a == "x" && b == "y") || c == "z")"#,
        ),
        ("!a == 'x'", r#"!a == "x""#),
        ("!a == 'x' && b == 'y'", r#"(!a == "x" && b == "y")"#),
        ("!(a == 'x' && b == 'y')", r#"!(a == "x" && b == "y")"#),
        (
            "a == 'x' && b == 'y' && c == 'z'",
            r#"(a == "x" && b == "y" && c == "z")"#,
        ),
        (
            "! has(my-label) || my-label starts with 'prod' && role in {'frontend','business'}",
            r#"(!has(my-label) || (my-label starts with "prod" && role in {"business", "frontend"}))"#,
        ),
    ]);
}

#[test]
fn parentheses_group_without_adding_nodes() {
    check(&[
        ("(a == 'x')", r#"a == "x""#),
        ("((( has(a) )))", "has(a)"),
        ("!(a == 'x')", r#"!a == "x""#),
        (
            "(a == 'x' && b == 'y') && c == 'z'",
            r#"((a == "x" && b == "y") && c == "z")"#,
        ),
        (
            "a == 'x' && (b == 'y' || c == 'z')",
            r#"(a == "x" && (b == "y" || c == "z"))"#,
        ),
    ]);
}

#[test]
fn leading_nots_collapse_and_double_negation_cancels() {
    check(&[
        ("!has(a)", "!has(a)"),
        ("!!has(a)", "has(a)"),
        ("! ! !has(a)", "!has(a)"),
        ("!! ! has(a)", "!has(a)"),
        ("!(!has(a))", "has(a)"),
        ("!(!(!has(a)))", "!has(a)"),
        ("!!all()", "all()"),
        ("!all()", "!all()"),
    ]);
    assert_eq!(parse_ok("!(!has(a))"), parse_ok("has(a)"));
}

#[test]
fn trees_have_the_expected_shape() {
    let sel = parse_ok("!a == 'x' && has(b)");
    let Node::And(operands) = &sel.root else {
        panic!("expected an && node, got {:?}", sel.root);
    };
    assert!(matches!(operands.as_slice(), [Node::Not(_), Node::Has(b)] if b == "b"));
}

#[test]
fn nesting_up_to_the_limit_parses() {
    let depth = super::super::MAX_NESTING;
    let text = format!("{}a == 'x'{}", "(".repeat(depth), ")".repeat(depth));
    assert_eq!(parse_ok(&text).to_string(), r#"a == "x""#);
    let text = format!("{}has(a){}", "!(".repeat(depth), ")".repeat(depth));
    assert_eq!(parse_ok(&text).to_string(), "has(a)");
}
