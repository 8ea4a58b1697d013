//! YAML as calicoctl prints it: its JSON, re-read and written by go-yaml v2 (through
//! projectcalico/go-yaml-wrapper).
//!
//! That is a block-style document in which
//! - mapping keys are sorted in go-yaml's "natural" order ([`order`]);
//! - a sequence under a key is not indented (`items:` then `- ...` at the key's column);
//! - a string that would read back as another type (`"1234"`, `"true"`, a timestamp) is
//!   double-quoted, one that YAML syntax forbids plain (`'*'`) is single-quoted, and one with
//!   line breaks is a literal block (`|-`), all as libyaml's emitter decides ([`scalar`]);
//! - plain and quoted strings are folded at spaces past column 80.
//!
//! No existing Rust YAML crate writes this layout: serde_yaml and its forks single-quote
//! numeric strings and leave timestamps plain.
//!
//! # Layout
//! - this module: the block structure.
//! - [`scalar`]: scalar styles and writers, ported from libyaml's emitter as go-yaml has it.
//! - [`resolve`]: whether a plain string would read back as a string, by go-yaml's rules.
//! - [`order`]: go-yaml's key order.

mod order;
mod resolve;
mod scalar;

use serde_json::{Map, Value};

/// The YAML text of a document (calicoctl's JSON, as serde_json reads it), ending with a
/// newline.
pub(crate) fn to_string(node: &Value) -> String {
    let mut emitter = Emitter::default();
    match node {
        Value::Object(entries) if !entries.is_empty() => emitter.mapping(entries, 0, false),
        Value::Array(items) if !items.is_empty() => emitter.sequence(items, 0, false),
        // libyaml indents a root scalar's continuation lines by its best indent.
        other => scalar::value(&mut emitter, other, 2),
    }
    if emitter.column > 0 {
        emitter.push('\n');
    }
    emitter.out
}

/// The text written so far and the column the next character goes to.
#[derive(Debug, Default)]
struct Emitter {
    out: String,
    /// In characters, as libyaml counts it.
    column: usize,
}

impl Emitter {
    fn push(&mut self, c: char) {
        self.out.push(c);
        self.column = if c == '\n' { 0 } else { self.column + 1 };
    }

    fn push_str(&mut self, text: &str) {
        text.chars().for_each(|c| self.push(c));
    }

    /// Moves to column `indent` of a fresh line (the current one if nothing is on it yet).
    fn line_at(&mut self, indent: usize) {
        if self.column > 0 {
            self.push('\n');
        }
        self.pad(indent);
    }

    fn pad(&mut self, indent: usize) {
        while self.column < indent {
            self.push(' ');
        }
    }

    /// A non-empty block mapping with its keys at column `indent`. With `inline_first`, the
    /// first key follows a sequence's `- ` on the same line.
    fn mapping(&mut self, entries: &Map<String, Value>, indent: usize, inline_first: bool) {
        let mut sorted: Vec<_> = entries.iter().collect();
        sorted.sort_by(|a, b| order::compare(a.0, b.0));
        for (i, (key, value)) in sorted.into_iter().enumerate() {
            if !(inline_first && i == 0) {
                self.line_at(indent);
            }
            scalar::key(self, key);
            self.push(':');
            match value {
                Value::Object(inner) if !inner.is_empty() => self.mapping(inner, indent + 2, false),
                // go-yaml does not indent a sequence that is a mapping value.
                Value::Array(items) if !items.is_empty() => self.sequence(items, indent, false),
                other => {
                    self.push(' ');
                    scalar::value(self, other, indent + 2);
                }
            }
        }
    }

    /// A non-empty block sequence with its dashes at column `indent`.
    fn sequence(&mut self, items: &[Value], indent: usize, inline_first: bool) {
        for (i, item) in items.iter().enumerate() {
            if !(inline_first && i == 0) {
                self.line_at(indent);
            }
            self.push_str("- ");
            match item {
                Value::Object(inner) if !inner.is_empty() => self.mapping(inner, indent + 2, true),
                Value::Array(inner) if !inner.is_empty() => self.sequence(inner, indent + 2, true),
                other => scalar::value(self, other, indent + 2),
            }
        }
    }
}

#[cfg(test)]
mod tests;
