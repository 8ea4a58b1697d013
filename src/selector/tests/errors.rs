//! Invalid selectors: each case states where the error is (byte offset) and what was expected
//! there. The bad selectors of Calico's `parser_test.go` are all here.

use super::{
    super::{ErrorKind, MAX_LABEL_LEN, MAX_NESTING},
    parse_err,
};

const OPERAND: &str = "label, has(), all(), global(), '!' or '('";
const OPERATOR: &str = "operator after label";
const END: &str = "'&&', '||' or end of selector";

#[track_caller]
fn check(cases: &[(&str, usize, ErrorKind, &str)]) {
    for (input, position, kind, expected) in cases {
        let err = parse_err(input);
        assert_eq!(
            (err.position, err.kind, err.expected.as_str()),
            (*position, *kind, *expected),
            "error for {input:?}: {err}"
        );
    }
}

fn expected(cases: &[(&str, usize, &str)]) {
    let cases: Vec<_> = cases
        .iter()
        .map(|(input, pos, what)| (*input, *pos, ErrorKind::Expected, *what))
        .collect();
    check(&cases);
}

#[test]
fn a_label_must_be_followed_by_an_operator() {
    expected(&[
        ("b", 1, OPERATOR),
        ("a ", 2, OPERATOR),
        ("a b", 2, OPERATOR),
        ("a (", 2, OPERATOR),
        ("a 'x'", 2, OPERATOR),
        ("a é", 2, OPERATOR),
        ("a = 'x'", 2, "'=='"),
        ("a =", 2, "'=='"),
    ]);
}

#[test]
fn keyword_operators_must_end_at_a_word_boundary() {
    expected(&[
        ("a inx {}", 2, OPERATOR),
        ("a in_ {}", 2, OPERATOR),
        ("a containsx 'a'", 2, OPERATOR),
        ("a startswithx 'a'", 2, OPERATOR),
        ("a starts 'x'", 2, OPERATOR),
        ("a ends-with 'x'", 2, OPERATOR),
        ("a not {}", 2, OPERATOR),
        ("a not inx {}", 2, OPERATOR),
        ("a IN {}", 2, OPERATOR),
    ]);
}

#[test]
fn the_right_hand_side_must_be_a_literal() {
    expected(&[
        ("b == b", 5, "string"),
        ("b contains b", 11, "string"),
        ("b starts with b", 14, "string"),
        ("b ends with b", 12, "string"),
        ("foo != ||", 7, "string"),
        ("a ==", 4, "string"),
        ("a in", 4, "set literal"),
        ("foo in \"\"", 7, "set literal"),
        ("a not in ('x')", 9, "set literal"),
    ]);
}

#[test]
fn set_literals_are_strings_separated_by_commas() {
    expected(&[
        ("a in {,}", 6, "string or '}'"),
        ("a in {'x',,}", 10, "string or '}'"),
        ("a in {'x' 'y'}", 10, "',' or '}'"),
        ("a in {'x'", 9, "',' or '}'"),
        ("a in {", 6, "string or '}'"),
        ("foo in {\"\", ||", 12, "string or '}'"),
        ("a in {x}", 6, "string or '}'"),
    ]);
}

#[test]
fn an_operand_must_start_an_expression() {
    expected(&[
        ("'b1' == b", 0, OPERAND),
        ("!", 1, OPERAND),
        ("%", 0, OPERAND),
        ("é == 'x'", 0, OPERAND),
        (")", 0, OPERAND),
        ("(", 1, OPERAND),
        ("()", 1, OPERAND),
        ("( )", 2, OPERAND),
        ("a == \"b\" && %", 12, OPERAND),
        ("a == \"b\" || %", 12, OPERAND),
        ("has(foo) &&", 11, OPERAND),
        ("a == 'x' ||| b", 11, OPERAND),
        ("!= 'x'", 0, OPERAND),
        ("!!= 'x'", 1, OPERAND),
        ("{'x'}", 0, OPERAND),
    ]);
}

#[test]
fn lone_ampersand_and_pipe_are_errors() {
    expected(&[
        ("foo == \"bar\" &", 13, "'&&'"),
        ("foo == \"bar\" |", 13, "'||'"),
        ("has(a) & has(b)", 7, "'&&'"),
        ("has(a) | has(b)", 7, "'||'"),
    ]);
}

#[test]
fn parentheses_must_balance() {
    expected(&[
        ("(a == \"foo\"", 11, "'&&', '||' or ')'"),
        ("((has(a))", 9, "'&&', '||' or ')'"),
        ("(has(a) has(b))", 8, "'&&', '||' or ')'"),
    ]);
}

#[test]
fn functions_need_their_parenthesis_attached_and_closed() {
    expected(&[
        ("has (x)", 4, OPERATOR),
        ("has()", 4, "label name"),
        ("has( )", 5, "label name"),
        ("has('a')", 4, "label name"),
        ("has(a b)", 6, "')' to close has("),
        ("has(a", 5, "')' to close has("),
        ("all ()", 4, OPERATOR),
        ("all(x)", 4, "')' to close all("),
        ("all(", 4, "')' to close all("),
        ("global(a)", 7, "')' to close global("),
        ("global (  )", 7, OPERATOR),
    ]);
}

#[test]
fn content_after_a_complete_selector_is_an_error() {
    check(&[
        ("a == 'x' b == 'y'", 9, ErrorKind::TrailingContent, END),
        ("a == 'x')", 8, ErrorKind::TrailingContent, END),
        ("has(a) has(b)", 7, ErrorKind::TrailingContent, END),
        ("all() 'x'", 6, ErrorKind::TrailingContent, END),
        ("a == 'é' é", 10, ErrorKind::TrailingContent, END),
    ]);
}

#[test]
fn strings_must_be_terminated_by_their_own_quote() {
    check(&[
        ("a == \"FOO", 5, ErrorKind::UnterminatedString, "closing \""),
        ("a == 'FOO", 5, ErrorKind::UnterminatedString, "closing '"),
        (
            "a == \"FOO'",
            5,
            ErrorKind::UnterminatedString,
            "closing \"",
        ),
        (
            "a in {'x', \"y}",
            11,
            ErrorKind::UnterminatedString,
            "closing \"",
        ),
    ]);
}

#[test]
fn only_space_and_tab_separate_tokens() {
    use ErrorKind::InvalidWhitespace as Ws;
    check(&[
        ("a == 'x'\n", 8, Ws, END),
        ("a == 'x' \r\n", 9, Ws, END),
        ("\na == 'x'", 0, Ws, OPERAND),
        ("a ==\n'x'", 4, Ws, "string"),
        ("a\n== 'x'", 1, Ws, OPERATOR),
        ("has(\na)", 4, Ws, "label name"),
        ("a == 'x' &&\nb == 'y'", 11, Ws, OPERAND),
        ("a in {\n}", 6, Ws, "string or '}'"),
        ("a\u{a0}== 'x'", 1, Ws, OPERATOR),
        ("\u{b}", 0, Ws, OPERAND),
    ]);
}

#[test]
fn labels_longer_than_512_characters_are_rejected_whole() {
    let long = "k".repeat(MAX_LABEL_LEN + 1);
    let expected = "label of at most 512 characters";
    check(&[
        (
            &format!("{long} == 'x'"),
            0,
            ErrorKind::LabelTooLong,
            expected,
        ),
        (
            &format!("has({long})"),
            4,
            ErrorKind::LabelTooLong,
            expected,
        ),
        (
            &format!("a == 'x' || {long} in {{}}"),
            12,
            ErrorKind::LabelTooLong,
            expected,
        ),
    ]);
}

#[test]
fn nesting_deeper_than_the_limit_is_rejected() {
    let text = format!(
        "{}has(a){}",
        "(".repeat(MAX_NESTING + 1),
        ")".repeat(MAX_NESTING + 1)
    );
    let expected = format!("at most {MAX_NESTING} nested parentheses");
    check(&[(&text, MAX_NESTING, ErrorKind::TooDeep, &expected)]);
    // Far deeper input must fail the same way, not overflow the stack.
    let hostile = "!(".repeat(1_000_000);
    assert_eq!(parse_err(&hostile).kind, ErrorKind::TooDeep);
}

#[test]
fn errors_display_position_and_calico_message() {
    let cases = [
        (
            "a",
            "invalid selector at position 1: expected operator after label",
        ),
        (
            "a == 'x' b",
            "invalid selector at position 9: unexpected content at end of selector",
        ),
        (
            "a == 'x",
            "invalid selector at position 5: unterminated string",
        ),
        ("a == b", "invalid selector at position 5: expected string"),
        (
            "a == 'x'\n",
            "invalid selector at position 8: expected '&&', '||' or end of selector, \
             found whitespace other than space or tab",
        ),
        (
            "has(a b)",
            "invalid selector at position 6: expected ')' to close has(",
        ),
    ];
    for (input, message) in cases {
        assert_eq!(
            parse_err(input).to_string(),
            message,
            "message for {input:?}"
        );
    }
}
