//! [`StringMap`]: an object's labels or annotations, sorted by key.
//!
//! Written by hand rather than a `BTreeMap<String, String>` because a server holds every object
//! in memory. A B-tree leaf has room for eleven entries (640 bytes in jemalloc's size classes),
//! while a host endpoint has a handful of labels; a sorted boxed slice holds five in 160 bytes.
//! Lookups are binary searches; inserting or removing copies the entries, which only a client
//! editing one object does.

use std::{fmt, ops::Index, slice};

type Entry = (Box<str>, Box<str>);

/// A map from strings to strings, sorted by key, each key once.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StringMap {
    entries: Box<[Entry]>,
}

/// The entries of a [`StringMap`] in key order.
#[derive(Clone, Debug)]
pub struct Iter<'a>(slice::Iter<'a, Entry>);

// === impl StringMap ===

impl StringMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.find(key).ok().map(|i| &*self.entries[i].1)
    }

    /// True when `key` has a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// The entries in key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }

    /// Sets `key` to `value`; returns the value it replaced.
    pub fn insert(
        &mut self,
        key: impl Into<Box<str>>,
        value: impl Into<Box<str>>,
    ) -> Option<String> {
        let (key, value) = (key.into(), value.into());
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value).into_string()),
            Err(i) => {
                let mut entries = std::mem::take(&mut self.entries).into_vec();
                entries.insert(i, (key, value));
                self.entries = entries.into_boxed_slice();
                None
            }
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.find(key).ok()?;
        let mut entries = std::mem::take(&mut self.entries).into_vec();
        let (_, value) = entries.remove(i);
        self.entries = entries.into_boxed_slice();
        Some(value.into_string())
    }

    /// The entries as owned strings, in another map (a protobuf message's, a serde document's).
    pub fn to_map<M: FromIterator<(String, String)>>(&self) -> M {
        self.iter()
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect()
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| (**k).cmp(key))
    }
}

/// Sorts by key; of a key given more than once the last value stays, as a map's inserts would.
impl<K: Into<Box<str>>, V: Into<Box<str>>> FromIterator<(K, V)> for StringMap {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let mut entries: Vec<Entry> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        // Stable, so that equal keys stay in the order they came.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(&mut later.1, &mut kept.1);
            }
            same
        });
        Self {
            entries: entries.into_boxed_slice(),
        }
    }
}

impl<K: Into<Box<str>>, V: Into<Box<str>>, const N: usize> From<[(K, V); N]> for StringMap {
    fn from(pairs: [(K, V); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl fmt::Debug for StringMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Panics when `key` has no value, as a `BTreeMap`'s index does.
impl Index<&str> for StringMap {
    type Output = str;

    fn index(&self, key: &str) -> &str {
        match self.get(key) {
            Some(value) => value,
            None => panic!("no entry for key {key:?}"),
        }
    }
}

impl<'a> IntoIterator for &'a StringMap {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for StringMap {
    type Item = (String, String);
    type IntoIter = std::iter::Map<std::vec::IntoIter<Entry>, fn(Entry) -> (String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries
            .into_vec()
            .into_iter()
            .map(|(k, v)| (k.into_string(), v.into_string()))
    }
}

// === impl Iter ===

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (&**k, &**v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (&**k, &**v))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::StringMap;

    proptest! {
        /// Every operation agrees with a `BTreeMap` given the same inserts and removals.
        #[test]
        fn behaves_as_a_btree_map(
            pairs in prop::collection::vec(("[a-d]{0,2}", "[x-z]{0,2}"), 0..12),
            edits in prop::collection::vec((any::<bool>(), "[a-e]{0,2}", "[x-z]{0,2}"), 0..12),
        ) {
            let mut map: StringMap = pairs.iter().cloned().collect();
            let mut reference: BTreeMap<String, String> = pairs.into_iter().collect();
            for (insert, key, value) in edits {
                if insert {
                    prop_assert_eq!(map.insert(key.as_str(), value.as_str()), reference.insert(key, value));
                } else {
                    prop_assert_eq!(map.remove(&key), reference.remove(&key));
                }
                prop_assert_eq!(map.len(), reference.len());
                for probe in ["", "a", "ab", "d", "e"] {
                    prop_assert_eq!(map.get(probe), reference.get(probe).map(String::as_str));
                    prop_assert_eq!(map.contains_key(probe), reference.contains_key(probe));
                }
                let entries: Vec<_> = map.iter().collect();
                let expected: Vec<_> = reference.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                prop_assert_eq!(entries, expected);
            }
            prop_assert_eq!(map.to_map::<BTreeMap<_, _>>(), reference.clone());
            prop_assert_eq!(map.into_iter().collect::<BTreeMap<_, _>>(), reference);
        }
    }

    #[test]
    fn the_last_value_of_a_repeated_key_stays() {
        let map = StringMap::from([("b", "1"), ("a", "2"), ("b", "3"), ("b", "4")]);
        assert_eq!(format!("{map:?}"), r#"{"a": "2", "b": "4"}"#);
        assert_eq!(&map["b"], "4");
    }

    #[test]
    fn maps_with_the_same_entries_are_equal_whatever_their_order() {
        let one = StringMap::from([("x", "1"), ("y", "2")]);
        let other = StringMap::from([("y", "2"), ("x", "1")]);
        assert_eq!(one, other);
        assert_ne!(one, StringMap::from([("x", "1")]));
    }
}
