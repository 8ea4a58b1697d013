//! JSON as calicoctl prints it: Go's `json.MarshalIndent(v, "", "  ")`.
//!
//! Objects keep the order they are built in (Go's struct order); strings are escaped as Go's
//! encoding/json escapes them, including its HTML-safe `\u003c`, `\u003e` and `\u0026`; and
//! there is no trailing newline.

use std::fmt::Write as _;

use super::Node;

/// The indented JSON text of a document.
pub(crate) fn to_string(node: &Node) -> String {
    let mut out = String::new();
    value(&mut out, node, 0);
    out
}

fn value(out: &mut String, node: &Node, depth: usize) {
    match node {
        Node::Null => out.push_str("null"),
        Node::Int(i) => out.push_str(&i.to_string()),
        Node::Str(s) => string(out, s),
        Node::Seq(items) if items.is_empty() => out.push_str("[]"),
        Node::Map(entries) if entries.is_empty() => out.push_str("{}"),
        Node::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                separator(out, i, depth + 1);
                value(out, item, depth + 1);
            }
            newline(out, depth);
            out.push(']');
        }
        Node::Map(entries) => {
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                separator(out, i, depth + 1);
                string(out, key);
                out.push_str(": ");
                value(out, item, depth + 1);
            }
            newline(out, depth);
            out.push('}');
        }
    }
}

fn separator(out: &mut String, index: usize, depth: usize) {
    if index > 0 {
        out.push(',');
    }
    newline(out, depth);
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// A string literal, escaped as Go's encoding/json escapes with HTML escaping on.
fn string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: Vec<(&str, Node)>) -> Node {
        Node::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }

    #[test]
    fn objects_keep_their_order_with_two_space_indent_and_no_final_newline() {
        let doc = map(vec![
            ("kind", Node::str("HostEndpoint")),
            ("metadata", map(vec![("name", Node::str("a"))])),
            ("spec", map(vec![("ports", Node::Seq(vec![Node::Int(1)]))])),
        ]);
        let expected = "{\n  \"kind\": \"HostEndpoint\",\n  \"metadata\": {\n    \"name\": \"a\"\n  },\n  \"spec\": {\n    \"ports\": [\n      1\n    ]\n  }\n}";
        assert_eq!(to_string(&doc), expected);
    }

    #[test]
    fn empty_collections_and_null_are_inline() {
        let doc = map(vec![
            ("items", Node::Seq(vec![])),
            ("metadata", Node::Map(vec![])),
            ("creationTimestamp", Node::Null),
        ]);
        let expected = "{\n  \"items\": [],\n  \"metadata\": {},\n  \"creationTimestamp\": null\n}";
        assert_eq!(to_string(&doc), expected);
        assert_eq!(to_string(&Node::Null), "null");
    }

    #[test]
    fn strings_are_escaped_as_go_escapes_them() {
        let text = to_string(&Node::str("a\"b\\c\n<tag>&\u{1}\u{2028}é"));
        assert_eq!(text, r#""a\"b\\c\n\u003ctag\u003e\u0026\u0001\u2028é""#);
    }
}
