//! The scanning the parser drives: whitespace, labels, string literals and the operators that
//! may follow a label.
//!
//! Calico tokenizes the whole selector first and decides what a word means from the token
//! before it: `in`, `contains`, `starts with`… are operators only right after a label, and
//! anywhere else they are label names. Scanning on demand gives the same tokens for every valid
//! selector, because the parser asks for a label operator at exactly the spot where Calico's
//! tokenizer would look for one; it also lets each error name what that spot needed.
//!
//! The scanner works on bytes. Every token boundary is an ASCII byte (labels are ASCII, quotes
//! are ASCII), so every position it stops at is a character boundary of the `&str`.

use super::{
    MAX_LABEL_LEN,
    ast::CompareOp,
    error::{ErrorKind, ParseError},
};

/// An operator that can follow a label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LabelOp {
    /// `==`, `!=`, `contains`, `starts with` or `ends with`, followed by one string.
    Compare(CompareOp),
    /// `in` (`negated: false`) or `not in` (`negated: true`), followed by a set literal.
    InSet { negated: bool },
}

/// The keyword operators, in the order Calico's tokenizer tries them. Words after the first
/// may be separated by any number of spaces and tabs, including none (`startswith`).
const KEYWORDS: [(&[&str], LabelOp); 5] = [
    (&["contains"], LabelOp::Compare(CompareOp::Contains)),
    (&["starts", "with"], LabelOp::Compare(CompareOp::StartsWith)),
    (&["ends", "with"], LabelOp::Compare(CompareOp::EndsWith)),
    (&["not", "in"], LabelOp::InSet { negated: true }),
    (&["in"], LabelOp::InSet { negated: false }),
];

/// A read position in the selector text.
#[derive(Debug)]
pub(super) struct Cursor<'a> {
    src: &'a str,
    pos: usize,
}

/// The label character set `[a-zA-Z0-9_./-]`; also what makes a keyword end at a word boundary.
pub(super) fn is_label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-')
}

impl<'a> Cursor<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Self { src, pos: 0 }
    }

    /// The byte offset of the next unread character.
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or_default()
    }

    /// The next byte, or `None` at the end of the text.
    pub(super) fn peek(&self) -> Option<u8> {
        self.rest().as_bytes().first().copied()
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    /// Skips spaces and tabs, the only whitespace Calico allows between tokens.
    pub(super) fn skip_ws(&mut self) {
        let n = self
            .rest()
            .bytes()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        self.pos += n;
    }

    /// Whether the text continues with `token`, without consuming it.
    pub(super) fn looking_at(&self, token: &str) -> bool {
        self.rest().starts_with(token)
    }

    /// Consumes `token` if the text continues with it.
    pub(super) fn eat(&mut self, token: &str) -> bool {
        let found = self.looking_at(token);
        if found {
            self.pos += token.len();
        }
        found
    }

    /// Reads a label name, or returns `None` if no label character comes next.
    pub(super) fn label(&mut self) -> Result<Option<&'a str>, ParseError> {
        let rest = self.rest();
        let len = rest.bytes().take_while(|b| is_label_byte(*b)).count();
        if len > MAX_LABEL_LEN {
            // Calico reads the whole run of label characters and then rejects it, rather than
            // splitting it into a label and a remainder.
            let expected = format!("label of at most {MAX_LABEL_LEN} characters");
            return Err(ParseError::new(self.pos, ErrorKind::LabelTooLong, expected));
        }
        match rest.split_at_checked(len) {
            Some((label, _)) if !label.is_empty() => {
                self.pos += len;
                Ok(Some(label))
            }
            _ => Ok(None),
        }
    }

    /// Reads a `'…'` or `"…"` literal and returns its contents, or returns `None` if no quote
    /// comes next. There are no escapes: the literal ends at the next quote of its kind.
    pub(super) fn string(&mut self) -> Result<Option<&'a str>, ParseError> {
        let quote = match self.peek() {
            Some(q @ (b'"' | b'\'')) => char::from(q),
            _ => return Ok(None),
        };
        let body = self.rest().get(1..).unwrap_or_default();
        match body.split_once(quote) {
            Some((value, after)) => {
                self.pos = self.src.len() - after.len();
                Ok(Some(value))
            }
            None => {
                let expected = format!("closing {quote}");
                Err(ParseError::new(
                    self.pos,
                    ErrorKind::UnterminatedString,
                    expected,
                ))
            }
        }
    }

    /// Reads the operator after a label: `==`, `!=` or a keyword ending at a word boundary.
    pub(super) fn label_op(&mut self) -> Option<LabelOp> {
        if self.eat("==") {
            return Some(LabelOp::Compare(CompareOp::Eq));
        }
        if self.eat("!=") {
            return Some(LabelOp::Compare(CompareOp::Ne));
        }
        KEYWORDS
            .iter()
            .find(|(words, _)| self.keyword(words))
            .map(|(_, op)| *op)
    }

    /// Consumes the words of one keyword operator, spaces and tabs allowed between them, if
    /// they come next and the last one ends at a word boundary; otherwise consumes nothing.
    fn keyword(&mut self, words: &[&str]) -> bool {
        let start = self.pos;
        for (i, word) in words.iter().enumerate() {
            if i > 0 {
                self.skip_ws();
            }
            if !self.eat(word) {
                self.pos = start;
                return false;
            }
        }
        // Calico checks the boundary after trimming spaces past a two-word keyword; checking
        // it right after the word instead accepts and rejects the same selectors (a string or
        // `{` must follow, and neither starts with a label character) and lets `a starts with
        // x` report the missing string rather than a missing operator.
        if self.peek().is_some_and(is_label_byte) {
            self.pos = start;
            return false;
        }
        true
    }

    /// The error for "`what` was required here", at the current position.
    pub(super) fn expected(&self, what: impl Into<String>) -> ParseError {
        // Selectors often come from YAML block scalars with a trailing newline; say so
        // rather than leave the user staring at an invisible character.
        let kind = match self.rest().chars().next() {
            Some(c) if c.is_whitespace() => ErrorKind::InvalidWhitespace,
            _ => ErrorKind::Expected,
        };
        ParseError::new(self.pos, kind, what)
    }
}
