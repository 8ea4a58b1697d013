//! JSON as calicoctl prints it: Go's `json.MarshalIndent(v, "", "  ")`, by serde_json.
//!
//! serde_json's pretty printer already writes Go's layout (two-space indent, `": "`, `[]` and
//! `{}` for empty collections, no trailing newline) and the types keep Go's field order;
//! [`GoFormatter`] adds what serde_json escapes differently: Go's HTML-safe `\u003c`,
//! `\u003e` and `\u0026`, and `\u2028` and `\u2029`.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, PrettyFormatter};

/// The indented JSON text of a document.
pub(crate) fn to_string(value: &impl Serialize) -> String {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, GoFormatter::default());
    // Documents of strings, string-keyed maps and integers always serialize.
    if value.serialize(&mut serializer).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// serde_json's pretty formatter with Go's escaping of strings.
#[derive(Debug, Default)]
struct GoFormatter {
    pretty: PrettyFormatter<'static>,
}

/// The characters Go escapes that serde_json writes as they are.
fn go_escape(c: char) -> Option<&'static str> {
    match c {
        '<' => Some("\\u003c"),
        '>' => Some("\\u003e"),
        '&' => Some("\\u0026"),
        '\u{2028}' => Some("\\u2028"),
        '\u{2029}' => Some("\\u2029"),
        _ => None,
    }
}

impl Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (at, c) in fragment.char_indices() {
            if let Some(escaped) = go_escape(c) {
                writer.write_all(&fragment.as_bytes()[start..at])?;
                writer.write_all(escaped.as_bytes())?;
                start = at + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        self.pretty.write_char_escape(writer, escape)
    }

    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.begin_array(writer)
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.begin_object(writer)
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_object_key(writer, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_object_value(writer)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn objects_keep_their_order_with_two_space_indent_and_no_final_newline() {
        #[derive(Serialize)]
        struct Doc {
            kind: &'static str,
            metadata: serde_json::Value,
            spec: serde_json::Value,
        }
        let doc = Doc {
            kind: "HostEndpoint",
            metadata: json!({"name": "a"}),
            spec: json!({"ports": [1]}),
        };
        let expected = "{\n  \"kind\": \"HostEndpoint\",\n  \"metadata\": {\n    \"name\": \"a\"\n  },\n  \"spec\": {\n    \"ports\": [\n      1\n    ]\n  }\n}";
        assert_eq!(to_string(&doc), expected);
    }

    #[test]
    fn empty_collections_and_null_are_inline() {
        let doc = json!({"creationTimestamp": null, "items": [], "metadata": {}});
        let expected = "{\n  \"creationTimestamp\": null,\n  \"items\": [],\n  \"metadata\": {}\n}";
        assert_eq!(to_string(&doc), expected);
        assert_eq!(to_string(&serde_json::Value::Null), "null");
    }

    #[test]
    fn strings_are_escaped_as_go_escapes_them() {
        let text = to_string(&"a\"b\\c\n<tag>&\u{1}\u{2028}é");
        assert_eq!(text, r#""a\"b\\c\n\u003ctag\u003e\u0026\u0001\u2028é""#);
    }
}
