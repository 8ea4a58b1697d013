//! go-yaml v2's order of mapping keys (`keyList.Less` for string keys): a "natural" sort in
//! which runs of digits compare as numbers and non-letters sort before letters, so `a2` comes
//! before `a10`.

use std::cmp::Ordering;

/// Compares two keys as go-yaml v2 sorts them.
pub(super) fn compare(a: &str, b: &str) -> Ordering {
    if less(a, b) {
        Ordering::Less
    } else if less(b, a) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

fn less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let (al, bl) = (ar[i].is_alphabetic(), br[i].is_alphabetic());
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        // Go's int64 arithmetic wraps, and so does this.
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            // A zero inside a number (the 0 of "10" against the 5 of "15") is no leading zero.
            if ar[..i]
                .iter()
                .rev()
                .take_while(|c| c.is_ascii_digit())
                .any(|c| *c != '0')
            {
                (an, bn) = (1, 1);
            }
        }
        let number = |run: &[char], mut n: i64| {
            let digits: Vec<char> = run
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .copied()
                .collect();
            for d in &digits {
                n = n
                    .wrapping_mul(10)
                    .wrapping_add(i64::from(u32::from(*d) - u32::from('0')));
            }
            (n, digits.len())
        };
        let (an, alen) = number(&ar[i..], an);
        let (bn, blen) = number(&br[i..], bn);
        if an != bn {
            return an < bn;
        }
        if alen != blen {
            return alen < blen;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(keys: &[&str]) -> Vec<String> {
        let mut keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        keys.sort_by(|a, b| compare(a, b));
        keys
    }

    #[test]
    fn calico_fields_sort_alphabetically() {
        assert_eq!(
            sorted(&["spec", "metadata", "kind", "apiVersion"]),
            ["apiVersion", "kind", "metadata", "spec"]
        );
        assert_eq!(
            sorted(&[
                "uid",
                "resourceVersion",
                "name",
                "labels",
                "creationTimestamp",
                "annotations"
            ]),
            [
                "annotations",
                "creationTimestamp",
                "labels",
                "name",
                "resourceVersion",
                "uid"
            ]
        );
    }

    #[test]
    fn numbers_sort_by_value_and_non_letters_first() {
        assert_eq!(sorted(&["a10", "a2", "a1"]), ["a1", "a2", "a10"]);
        assert_eq!(sorted(&["b", "a", "-a", "1"]), ["-a", "1", "a", "b"]);
        assert_eq!(sorted(&["ab", "a"]), ["a", "ab"]);
        assert_eq!(sorted(&["Z", "a"]), ["Z", "a"]);
    }
}
