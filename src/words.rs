//! Errors in words, for messages people read: an I/O error without std's `(os error N)`, and
//! the deepest cause of an error chain (which says the most: "connection refused"). Shared by
//! the client and the server's etcd client, which both see tonic's transport errors.

use std::error::Error as StdError;

/// An I/O error in words: its message without the `(os error N)` that std appends (nor what
/// follows it, such as the temporary path tempfile adds), starting in lower case as the rest
/// of a sentence (`connection refused`).
pub fn io_words(err: &std::io::Error) -> String {
    let text = err.to_string();
    let text = text
        .find(" (os error ")
        .map_or(text.as_str(), |at| &text[..at]);
    lower_first(text)
}

/// `text` with its first letter in lower case, unless it starts an acronym (`TLS`).
pub fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && !second.is_uppercase() => {
            first.to_lowercase().chain(text.chars().skip(1)).collect()
        }
        _ => text.to_owned(),
    }
}

/// `err` and its sources, outermost first.
pub fn causes<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |e| (*e).source())
}

/// The deepest cause of `err` (itself when it has no source), in words.
pub fn innermost_words(err: &(dyn StdError + 'static)) -> String {
    let Some(last) = causes(err).last() else {
        return String::new();
    };
    match last.downcast_ref::<std::io::Error>() {
        Some(io) => io_words(io),
        None => lower_first(&last.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_read_as_words() {
        let refused = std::io::Error::from_raw_os_error(111);
        assert_eq!(io_words(&refused), "connection refused");
        let custom = std::io::Error::other("TLS alert");
        assert_eq!(io_words(&custom), "TLS alert");
    }

    #[test]
    fn the_deepest_cause_is_the_one_said() {
        #[derive(Debug, thiserror::Error)]
        #[error("tcp connect error")]
        struct Connect(#[source] std::io::Error);
        let err = Connect(std::io::Error::from_raw_os_error(111));
        assert_eq!(innermost_words(&err), "connection refused");
        assert_eq!(
            innermost_words(&std::io::Error::other("Bad thing")),
            "bad thing"
        );
    }
}
