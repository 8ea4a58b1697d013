//! The error a selector that does not parse gives: where it went wrong and what was expected
//! there.
//!
//! Calico reports a bare sentence (`expected operator after label`). We keep its wording but
//! add the byte offset, because selectors are usually written inside YAML or a gRPC request and
//! a position is what a user needs to find the mistake.

/// Why a selector failed to parse; [`ParseError::expected`] says what would have been valid at
/// [`ParseError::position`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Something other than what the grammar allows here; the message is `expected …`.
    Expected,
    /// A complete expression was followed by more input that is not `&&` or `||`.
    TrailingContent,
    /// A `'` or `"` string has no closing quote. There are no escapes, so a literal ends at the
    /// next quote of the same kind.
    UnterminatedString,
    /// A label name is longer than [`MAX_LABEL_LEN`](super::MAX_LABEL_LEN) characters.
    LabelTooLong,
    /// A newline, carriage return or other whitespace character where the grammar expected a
    /// token; only spaces and tabs may separate tokens.
    InvalidWhitespace,
    /// Parentheses nested deeper than [`MAX_NESTING`](super::MAX_NESTING).
    TooDeep,
}

/// A selector that does not follow the grammar of Calico's selector language.
///
/// Displays as `invalid selector at position 7: expected operator after label`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid selector at position {position}: {}", self.message())]
pub struct ParseError {
    /// The byte offset in the selector text where parsing stopped (after skipping spaces and
    /// tabs). It is always on a character boundary and at most the length of the text.
    pub position: usize,
    /// What would have been valid at `position`, such as `operator after label` or
    /// `string or '}'`.
    pub expected: String,
    /// Which kind of mistake this is, for callers that branch on it.
    pub kind: ErrorKind,
}

impl ParseError {
    pub(super) fn new(position: usize, kind: ErrorKind, expected: impl Into<String>) -> Self {
        Self {
            position,
            expected: expected.into(),
            kind,
        }
    }

    /// The sentence after `invalid selector at position N: `, in Calico's words where Calico
    /// has them.
    fn message(&self) -> String {
        let expected = &self.expected;
        match self.kind {
            ErrorKind::Expected => format!("expected {expected}"),
            ErrorKind::TrailingContent => "unexpected content at end of selector".to_owned(),
            ErrorKind::UnterminatedString => "unterminated string".to_owned(),
            ErrorKind::LabelTooLong => {
                format!(
                    "label too long (at most {} characters)",
                    super::MAX_LABEL_LEN
                )
            }
            ErrorKind::InvalidWhitespace => {
                format!("expected {expected}, found whitespace other than space or tab")
            }
            ErrorKind::TooDeep => {
                format!("parentheses nested more than {} deep", super::MAX_NESTING)
            }
        }
    }
}
