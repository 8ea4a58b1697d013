//! Scalars: which style go-yaml v2 picks for a string, and the libyaml writers of each style
//! (in block context, with go-yaml's settings: unicode on, line width 80, indent 2).

use std::fmt::Write as _;

use serde_json::Value;

use super::{Emitter, resolve};

/// Where libyaml folds long scalars: at a space once the column is past this.
const BEST_WIDTH: usize = 80;

/// Writes a scalar value (or an empty collection, which go-yaml writes in flow style).
/// `indent` is where continuation lines of a folded or literal string start.
pub(super) fn value(emitter: &mut Emitter, node: &Value, indent: usize) {
    match node {
        Value::Null => emitter.push_str("null"),
        Value::Bool(b) => emitter.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => emitter.push_str(&n.to_string()),
        Value::String(s) => string(emitter, s, indent, false),
        Value::Array(_) => emitter.push_str("[]"),
        Value::Object(_) => emitter.push_str("{}"),
    }
}

/// Writes a mapping key: a string that is never folded.
pub(super) fn key(emitter: &mut Emitter, key: &str) {
    string(emitter, key, 0, true);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

fn string(emitter: &mut Emitter, text: &str, indent: usize, is_key: bool) {
    let allow_breaks = !is_key;
    match style(text, is_key) {
        Style::Plain => plain(emitter, text, indent, allow_breaks),
        Style::SingleQuoted => single_quoted(emitter, text, indent, allow_breaks),
        Style::DoubleQuoted => double_quoted(emitter, text, indent, allow_breaks),
        Style::Literal => literal(emitter, text, indent),
    }
}

/// go-yaml's choice (plain when the text reads back as the same string, a literal block for
/// several lines, double quotes otherwise), then libyaml's fallbacks when the text cannot be
/// written in that style.
fn style(text: &str, is_key: bool) -> Style {
    let allowed = Allowed::analyze(text);
    let mut style = if text.contains('\n') {
        Style::Literal
    } else if resolve::is_plain_string(text) {
        Style::Plain
    } else {
        Style::DoubleQuoted
    };
    if style == Style::Plain && (!allowed.block_plain || (text.is_empty() && is_key)) {
        style = Style::SingleQuoted;
    }
    if style == Style::SingleQuoted && !allowed.single_quoted {
        style = Style::DoubleQuoted;
    }
    if style == Style::Literal && (!allowed.block || is_key) {
        style = Style::DoubleQuoted;
    }
    style
}

/// The styles a text can be written in (libyaml's `yaml_emitter_analyze_scalar`, block
/// context only).
#[derive(Debug)]
struct Allowed {
    block_plain: bool,
    single_quoted: bool,
    block: bool,
}

impl Allowed {
    fn analyze(text: &str) -> Self {
        if text.is_empty() {
            return Self {
                block_plain: true,
                single_quoted: true,
                block: false,
            };
        }
        let chars: Vec<char> = text.chars().collect();
        let last = chars.len() - 1;
        let mut indicators = text.starts_with("---") || text.starts_with("...");
        let (mut leading_space, mut leading_break) = (false, false);
        let (mut trailing_space, mut trailing_break) = (false, false);
        let (mut break_space, mut space_break) = (false, false);
        let (mut previous_space, mut previous_break) = (false, false);
        let (mut special, mut line_breaks) = (false, false);
        let mut preceded_by_whitespace = true;
        for (i, &c) in chars.iter().enumerate() {
            let followed_by_whitespace = chars.get(i + 1).is_none_or(|&n| is_blank(n));
            indicators |= match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`'
                    if i == 0 =>
                {
                    true
                }
                '?' | '-' if i == 0 => followed_by_whitespace,
                ':' => followed_by_whitespace,
                '#' => preceded_by_whitespace,
                _ => false,
            };
            special |= !is_printable(c);
            if c == ' ' {
                leading_space |= i == 0;
                trailing_space |= i == last;
                break_space |= previous_break;
                (previous_space, previous_break) = (true, false);
            } else if is_break(c) {
                line_breaks = true;
                leading_break |= i == 0;
                trailing_break |= i == last;
                space_break |= previous_space;
                (previous_space, previous_break) = (false, true);
            } else {
                (previous_space, previous_break) = (false, false);
            }
            preceded_by_whitespace = is_blank(c) || is_break(c);
        }
        let edges = leading_space || leading_break || trailing_space || trailing_break;
        Self {
            block_plain: !(edges
                || break_space
                || space_break
                || special
                || line_breaks
                || indicators),
            single_quoted: !(break_space || space_break || special),
            block: !(trailing_space || space_break || special),
        }
    }
}

fn plain(emitter: &mut Emitter, text: &str, indent: usize, allow_breaks: bool) {
    let chars: Vec<char> = text.chars().collect();
    let mut spaces = false;
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let next_is_space = chars.get(i + 1) == Some(&' ');
            if allow_breaks && !spaces && emitter.column > BEST_WIDTH && !next_is_space {
                fold(emitter, indent);
            } else {
                emitter.push(c);
            }
            spaces = true;
        } else {
            emitter.push(c);
            spaces = false;
        }
    }
}

fn single_quoted(emitter: &mut Emitter, text: &str, indent: usize, allow_breaks: bool) {
    let chars: Vec<char> = text.chars().collect();
    let mut spaces = false;
    emitter.push('\'');
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let inner = i > 0 && i + 1 < chars.len() && chars[i + 1] != ' ';
            if allow_breaks && !spaces && emitter.column > BEST_WIDTH && inner {
                fold(emitter, indent);
            } else {
                emitter.push(c);
            }
            spaces = true;
        } else {
            if c == '\'' {
                emitter.push('\'');
            }
            emitter.push(c);
            spaces = false;
        }
    }
    emitter.push('\'');
}

fn double_quoted(emitter: &mut Emitter, text: &str, indent: usize, allow_breaks: bool) {
    let chars: Vec<char> = text.chars().collect();
    let mut spaces = false;
    emitter.push('"');
    for (i, &c) in chars.iter().enumerate() {
        if !is_printable(c) || is_break(c) || c == '"' || c == '\\' {
            emitter.push_str(&escape(c));
            spaces = false;
        } else if c == ' ' {
            let inner = i > 0 && i + 1 < chars.len();
            if allow_breaks && !spaces && emitter.column > BEST_WIDTH && inner {
                fold(emitter, indent);
                // A folded line break reads back as a space, so a following space is escaped
                // to survive.
                if chars.get(i + 1) == Some(&' ') {
                    emitter.push('\\');
                }
            } else {
                emitter.push(c);
            }
            spaces = true;
        } else {
            emitter.push(c);
            spaces = false;
        }
    }
    emitter.push('"');
}

/// A literal block scalar: `|` with libyaml's indentation and chomping hints, then the
/// lines at `indent` (empty lines carry no spaces).
fn literal(emitter: &mut Emitter, text: &str, indent: usize) {
    emitter.push('|');
    if text.starts_with(|c: char| c == ' ' || is_break(c)) {
        emitter.push('2');
    }
    let mut ending = text.chars().rev();
    let chomp = match (ending.next(), ending.next()) {
        (Some(c), _) if !is_break(c) => Some('-'),
        (Some(_), None) => Some('+'),
        (Some(_), Some(c)) if is_break(c) => Some('+'),
        _ => None,
    };
    if let Some(hint) = chomp {
        emitter.push(hint);
    }
    emitter.push('\n');
    let mut at_line_start = true;
    for c in text.chars() {
        if is_break(c) {
            emitter.out.push(c);
            emitter.column = 0;
            at_line_start = true;
        } else {
            if at_line_start {
                emitter.pad(indent);
                at_line_start = false;
            }
            emitter.push(c);
        }
    }
}

/// A line break in place of a space, continuing at `indent`.
fn fold(emitter: &mut Emitter, indent: usize) {
    emitter.push('\n');
    emitter.pad(indent);
}

/// libyaml's double-quote escapes.
fn escape(c: char) -> String {
    let short = match c {
        '\0' => Some('0'),
        '\u{7}' => Some('a'),
        '\u{8}' => Some('b'),
        '\t' => Some('t'),
        '\n' => Some('n'),
        '\u{b}' => Some('v'),
        '\u{c}' => Some('f'),
        '\r' => Some('r'),
        '\u{1b}' => Some('e'),
        '"' => Some('"'),
        '\\' => Some('\\'),
        '\u{85}' => Some('N'),
        '\u{a0}' => Some('_'),
        '\u{2028}' => Some('L'),
        '\u{2029}' => Some('P'),
        _ => None,
    };
    let mut text = String::from('\\');
    let code = u32::from(c);
    let _ = match short {
        Some(s) => write!(text, "{s}"),
        None if code <= 0xFF => write!(text, "x{code:02X}"),
        None if code <= 0xFFFF => write!(text, "u{code:04X}"),
        None => write!(text, "U{code:08X}"),
    };
    text
}

/// libyaml's `IS_PRINTABLE`: which characters may appear unescaped. Characters beyond the
/// Basic Multilingual Plane are not, so go-yaml escapes them.
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        && c != '\u{feff}'
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}
