//! Parsers of command-line values shared by the binaries, for clap's `value_parser`: a
//! mistake is a usage error that names the flag.

use std::time::Duration;

/// A duration such as `10s` or `1m30s` that must not be zero: a zero timeout, keepalive or
/// handshake deadline would refuse every connection rather than turn the limit off.
pub fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err("must be more than 0s".into()),
        Ok(duration) => Ok(duration),
        Err(err) => Err(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_nonsense_are_refused() {
        assert_eq!(positive_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(positive_duration("0s"), Err("must be more than 0s".into()));
        assert!(positive_duration("soon").is_err());
    }
}
