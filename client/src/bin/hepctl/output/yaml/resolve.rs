//! go-yaml v2's `resolve`, asked one question: would this string, written plain, read back
//! as a string? If not (`1234`, `true`, `~`, `1e3`, `2024-05-01`), go-yaml double-quotes it.

/// The plain scalars go-yaml v2 reads as booleans, nulls or special floats.
const SPECIAL: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no", "No",
    "NO", "false", "False", "FALSE", "off", "Off", "OFF", "", "~", "null", "Null", "NULL", ".nan",
    ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
];

/// True when `text` resolves to a string and is not a base-60 float (which go-yaml quotes
/// for older parsers' sake).
pub(super) fn is_plain_string(text: &str) -> bool {
    let Some(&first) = text.as_bytes().first() else {
        return false;
    };
    let is_str = match first {
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => {
            !SPECIAL.contains(&text)
        }
        b'.' => !SPECIAL.contains(&text) && !go_float(text),
        b'+' | b'-' | b'0'..=b'9' => {
            let plain = text.replace('_', "");
            !(SPECIAL.contains(&text)
                || is_timestamp(text)
                || go_int(&plain)
                || (yaml_style_float(&plain) && go_float(&plain)))
        }
        _ => true,
    };
    is_str && !is_base60_float(text)
}

/// Go's `strconv.ParseInt(s, 0, 64)` or `ParseUint(s, 0, 64)` succeeds.
fn go_int(text: &str) -> bool {
    let (signed, negative, body) = match text.as_bytes().first() {
        Some(b'+') => (true, false, &text[1..]),
        Some(b'-') => (true, true, &text[1..]),
        _ => (false, false, text),
    };
    match go_uint(body) {
        None => false,
        Some(_) if !signed => true,
        Some(magnitude) if negative => magnitude <= 1 << 63,
        Some(magnitude) => magnitude < 1 << 63,
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`: base from the prefix (0b, 0o, 0x, or 0 for octal).
fn go_uint(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let (radix, digits) = match text.strip_prefix('0') {
        Some(rest) if text.len() >= 3 => match rest.as_bytes()[0].to_ascii_lowercase() {
            b'b' => (2, &rest[1..]),
            b'o' => (8, &rest[1..]),
            b'x' => (16, &rest[1..]),
            _ => (8, rest),
        },
        Some(rest) => (8, rest),
        None => (10, text),
    };
    if digits.is_empty() {
        // "0" itself.
        return Some(0);
    }
    if !digits.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Go's `strconv.ParseFloat(s, 64)` succeeds: overflow is an error there.
fn go_float(text: &str) -> bool {
    text.parse::<f64>().is_ok_and(f64::is_finite)
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn yaml_style_float(text: &str) -> bool {
    let mut rest = text.strip_prefix(['+', '-']).unwrap_or(text);
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = digits(fraction);
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    } else {
        let n = digits(rest);
        if n == 0 {
            return false;
        }
        rest = &rest[n..];
        if let Some(fraction) = rest.strip_prefix('.') {
            rest = &fraction[digits(fraction)..];
        }
    }
    if let Some(exponent) = rest.strip_prefix(['e', 'E']) {
        let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        let n = digits(exponent);
        return n > 0 && n == exponent.len();
    }
    rest.is_empty()
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(text: &str) -> bool {
    let b = text.as_bytes();
    let digit_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    if !digit_at(i) {
        return false;
    }
    i += 1;
    while digit_at(i) || b.get(i) == Some(&b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        if matches!(b.get(i), Some(b'0'..=b'5')) && digit_at(i + 1) {
            i += 2;
        } else if digit_at(i) {
            i += 1;
        } else {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while digit_at(i) || b.get(i) == Some(&b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// go-yaml v2's timestamps: `2006-1-2T15:4:5.999999999Z07:00` (also with `t`),
/// `2006-1-2 15:4:5.999999999` and `2006-1-2`, with Go's range checks.
fn is_timestamp(text: &str) -> bool {
    let mut p = Cursor {
        b: text.as_bytes(),
        i: 0,
    };
    let Some(year) = p.fixed(4) else {
        return false;
    };
    let date_ok = p.eat(b'-')
        && p.number().is_some_and(|month| {
            p.eat(b'-') && p.number().is_some_and(|day| valid_date(year, month, day))
        });
    if !date_ok {
        return false;
    }
    let zoned = match p.next() {
        None => return true,
        Some(b'T' | b't') => true,
        Some(b' ') => false,
        Some(_) => return false,
    };
    let time_ok = p.number().is_some_and(|h| h < 24)
        && p.eat(b':')
        && p.number().is_some_and(|m| m < 60)
        && p.eat(b':')
        && p.number().is_some_and(|s| s < 60);
    if !time_ok {
        return false;
    }
    if p.peek() == Some(b'.') {
        p.i += 1;
        let n = p.digits();
        if n == 0 || n > 9 {
            return false;
        }
    }
    if zoned {
        let zone_ok = match p.next() {
            Some(b'Z') => true,
            Some(b'+' | b'-') => p.fixed(2).is_some() && p.eat(b':') && p.fixed(2).is_some(),
            _ => false,
        };
        if !zone_ok {
            return false;
        }
    }
    p.i == p.b.len()
}

fn valid_date(year: u32, month: u32, day: u32) -> bool {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// A position in an ASCII text being parsed.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        self.i += 1;
        c
    }

    fn eat(&mut self, c: u8) -> bool {
        let ok = self.peek() == Some(c);
        self.i += usize::from(ok);
        ok
    }

    fn digits(&mut self) -> usize {
        let n = self.b[self.i.min(self.b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        self.i += n;
        n
    }

    /// Exactly `n` digits.
    fn fixed(&mut self, n: usize) -> Option<u32> {
        let digits = self.b.get(self.i..self.i + n)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        Some(digits.iter().fold(0, |v, d| v * 10 + u32::from(d - b'0')))
    }

    /// One or two digits, as Go's `getnum(s, false)` reads a non-padded layout field.
    fn number(&mut self) -> Option<u32> {
        let two = self.b.get(self.i + 1).is_some_and(u8::is_ascii_digit);
        self.fixed(if two { 2 } else { 1 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_is_a_plain_string() {
        for text in [
            "eth0",
            "host1",
            "192.168.0.1",
            "fd00::1",
            "prof1",
            "a b",
            "-x",
            "0x",
        ] {
            assert!(is_plain_string(text), "{text}");
        }
    }

    #[test]
    fn other_types_are_not() {
        for text in [
            "",
            "1234",
            "-1",
            "+5",
            "0x1F",
            "0o17",
            "0b101",
            "017",
            "1_000",
            "1.5",
            ".5",
            "1e3",
            "08",
            "true",
            "Yes",
            "on",
            "N",
            "~",
            "null",
            ".inf",
            "-.Inf",
            "1:20",
            "2024-05-01",
            "2024-05-01T10:00:00Z",
            "2024-5-1t1:2:3.5+02:00",
            "2024-05-01 10:00:00",
        ] {
            assert!(!is_plain_string(text), "{text}");
        }
    }

    #[test]
    fn near_misses_stay_strings() {
        for text in [
            "2024-13-01",
            "2024-02-30",
            "2024-05-01T25:00:00Z",
            "2024-05-01T10:00:00",
            "1e400",
            "12345-01-01",
            "1.2.3",
            "1:60",
        ] {
            assert!(is_plain_string(text), "{text}");
        }
    }
}
