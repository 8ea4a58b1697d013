//! The objects of this replica's own writes, from the moment etcd committed them until its
//! watch delivers them: the watch then takes the object as written instead of parsing and
//! validating the JSON it was just encoded to. A key's value at the revision a transaction
//! wrote is exactly the value written, so the two are the same object.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use hostendpoint_api::model::Revision;

use crate::store::Object;

/// Writes committed and not yet delivered by the watch, by revision (each of this replica's
/// transactions writes one key).
#[derive(Debug, Default)]
pub(super) struct OwnWrites {
    pending: Mutex<HashMap<Revision, Arc<Object>>>,
}

/// Forgets its write when dropped, delivered or not (the watch may deliver it before the
/// transaction's answer arrives, and then parses it as any other).
#[must_use = "the write is forgotten when this is dropped"]
pub(super) struct Expected<'a> {
    writes: &'a OwnWrites,
    revision: Revision,
}

impl OwnWrites {
    /// Notes that `object` was written at `revision`.
    pub(super) fn expect(&self, revision: Revision, object: Arc<Object>) -> Expected<'_> {
        self.lock().insert(revision, object);
        Expected {
            writes: self,
            revision,
        }
    }

    /// The object written as `name` at `revision`, if it was this replica's write.
    pub(super) fn take(&self, name: &str, revision: Revision) -> Option<Arc<Object>> {
        let mut pending = self.lock();
        match pending.get(&revision) {
            Some(object) if object.metadata.name == name => pending.remove(&revision),
            _ => None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Revision, Arc<Object>>> {
        // A map of plain values is consistent even if a holder panicked.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Expected<'_> {
    fn drop(&mut self) {
        self.writes.lock().remove(&self.revision);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::mk_hep;

    fn object(name: &str, revision: Revision) -> Arc<Object> {
        let mut hep = mk_hep(name, "node-1", "v");
        hep.metadata.resource_version = revision;
        Object::new(hep)
    }

    #[test]
    fn the_watch_takes_a_write_at_its_revision_only() {
        let writes = OwnWrites::default();
        let _expected = writes.expect(7, object("a", 7));
        assert!(writes.take("a", 6).is_none());
        assert!(writes.take("b", 7).is_none());
        let taken = writes.take("a", 7).expect("the write at 7");
        assert_eq!(taken.metadata.resource_version, 7);
        assert!(writes.take("a", 7).is_none(), "taken once");
    }

    #[test]
    fn a_write_is_forgotten_when_its_writer_is_done() {
        let writes = OwnWrites::default();
        drop(writes.expect(7, object("a", 7)));
        assert!(writes.take("a", 7).is_none());
        // Concurrent writes of one name are told apart by their revisions.
        let later = writes.expect(9, object("a", 9));
        drop(writes.expect(8, object("a", 8)));
        assert!(writes.take("a", 8).is_none());
        assert!(writes.take("a", 9).is_some());
        drop(later);
        assert!(writes.lock().is_empty());
    }
}
