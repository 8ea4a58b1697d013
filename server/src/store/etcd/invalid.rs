//! Values under the prefix that are not valid host endpoints (written by someone else): each
//! is counted and warned about once, however often a relist, a reconnect or a watcher's
//! catch-up from etcd's history reads it again.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

/// Keys remembered at most; past it the memory starts over (a value may then be warned
/// about again, which is better than unbounded growth from a flood of bad writes).
const MAX_REMEMBERED: usize = 10_000;

/// The invalid values seen so far: each key with the `mod_revision` of its invalid value.
#[derive(Debug, Default)]
pub(super) struct InvalidValues {
    seen: Mutex<HashMap<Vec<u8>, i64>>,
    count: AtomicU64,
}

impl InvalidValues {
    /// Records the invalid value of `key` at `mod_revision`: true the first time, when it is
    /// to be warned about.
    pub(super) fn first_sighting(&self, key: &[u8], mod_revision: i64) -> bool {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if seen.get(key) == Some(&mod_revision) {
            return false;
        }
        if seen.len() >= MAX_REMEMBERED {
            seen.clear();
        }
        seen.insert(key.to_vec(), mod_revision);
        self.count.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// How many distinct invalid values were seen since start-up.
    pub(super) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_reported_once_and_a_new_value_of_the_key_again() {
        let invalid = InvalidValues::default();
        assert!(invalid.first_sighting(b"/k", 5));
        assert!(!invalid.first_sighting(b"/k", 5));
        assert!(invalid.first_sighting(b"/k", 9));
        assert!(invalid.first_sighting(b"/other", 5));
        assert_eq!(invalid.count(), 3);
    }
}
