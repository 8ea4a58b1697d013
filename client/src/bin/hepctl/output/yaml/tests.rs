use serde_json::json;

use super::*;

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

fn strs(items: &[&str]) -> Value {
    json!(items)
}

fn text(text: &str) -> Value {
    Value::String(text.to_owned())
}

#[test]
fn keys_are_sorted_and_sequences_are_not_indented() {
    let doc = map(vec![
        ("kind", text("HostEndpoint")),
        ("apiVersion", text("projectcalico.org/v3")),
        (
            "spec",
            map(vec![
                ("node", text("host1")),
                ("expectedIPs", strs(&["192.168.0.1", "fd00::1"])),
                (
                    "ports",
                    Value::Array(vec![map(vec![
                        ("name", text("some-port")),
                        ("protocol", text("TCP")),
                        ("port", json!(1234)),
                    ])]),
                ),
            ]),
        ),
    ]);
    let expected = "\
apiVersion: projectcalico.org/v3
kind: HostEndpoint
spec:
  expectedIPs:
  - 192.168.0.1
  - fd00::1
  node: host1
  ports:
  - name: some-port
    port: 1234
    protocol: TCP
";
    assert_eq!(to_string(&doc), expected);
}

#[test]
fn strings_that_read_back_as_other_types_are_double_quoted() {
    let doc = map(vec![
        ("resourceVersion", text("1234")),
        ("creationTimestamp", text("2024-05-01T10:00:00Z")),
        ("yes", text("yes")),
        ("empty", text("")),
        ("number", json!(17)),
    ]);
    let expected = "\
creationTimestamp: \"2024-05-01T10:00:00Z\"
empty: \"\"
number: 17
resourceVersion: \"1234\"
\"yes\": \"yes\"
";
    assert_eq!(to_string(&doc), expected);
}

#[test]
fn strings_yaml_syntax_forbids_plain_are_single_quoted() {
    let doc = map(vec![
        ("a", text("*")),
        ("b", text("key: value")),
        ("c", text(" lead")),
        ("d", text("it's # here")),
        ("e", text("a#b")),
    ]);
    let expected = "a: '*'\nb: 'key: value'\nc: ' lead'\nd: 'it''s # here'\ne: a#b\n";
    assert_eq!(to_string(&doc), expected);
}

#[test]
fn special_characters_are_escaped_in_double_quotes() {
    let doc = map(vec![("t", text("a\tb")), ("u", text("😀"))]);
    assert_eq!(to_string(&doc), "t: \"a\\tb\"\nu: \"\\U0001F600\"\n");
}

#[test]
fn multi_line_strings_are_literal_blocks() {
    let doc = map(vec![
        ("a", text("one\ntwo")),
        ("b", text("one\n\ntwo\n")),
        ("c", text("x\n\n")),
    ]);
    let expected = "a: |-\n  one\n  two\nb: |\n  one\n\n  two\nc: |+\n  x\n\n";
    assert_eq!(to_string(&doc), expected);
}

#[test]
fn long_strings_fold_at_spaces_past_column_80() {
    let words = ["word"; 30].join(" ");
    let doc = map(vec![("note", text(&words))]);
    let text = to_string(&doc);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 1, "{text}");
    assert!(lines[1].starts_with("  word"), "{text}");
    // Each break replaces the first space past column 80.
    assert!(
        lines[0].chars().count() > 80 && lines[0].chars().count() <= 85,
        "{text}"
    );
}

#[test]
fn empty_collections_lists_and_null_documents() {
    let list = map(vec![
        ("apiVersion", text("projectcalico.org/v3")),
        ("items", json!([])),
        ("kind", text("HostEndpointList")),
        ("metadata", map(vec![("resourceVersion", text("12345"))])),
    ]);
    let expected = "\
apiVersion: projectcalico.org/v3
items: []
kind: HostEndpointList
metadata:
  resourceVersion: \"12345\"
";
    assert_eq!(to_string(&list), expected);
    assert_eq!(to_string(&Value::Null), "null\n");
    assert_eq!(to_string(&map(vec![("m", json!({}))])), "m: {}\n");
}

#[test]
fn a_sequence_of_objects_starts_each_with_a_dash() {
    let doc = Value::Array(vec![
        map(vec![("name", text("a")), ("list", strs(&["x"]))]),
        map(vec![("name", text("b"))]),
    ]);
    assert_eq!(to_string(&doc), "- list:\n  - x\n  name: a\n- name: b\n");
}
