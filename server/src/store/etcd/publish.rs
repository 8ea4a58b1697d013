//! The one way the replica's view changes: by its watch of etcd, or sooner by its own write.
//!
//! etcd gives every transaction a revision of its own. So when etcd answers this replica's
//! write at revision R while the view is at R - 1, nothing else changed in between, and the view
//! at R is the view at R - 1 with this write. Publishing it at once spares the writer the wait
//! for its watch event (a lone client's write waited for two more task wake-ups); the watch
//! delivers the event later and it is dropped as already published. One lock orders the two
//! publishers, so watchers see every revision once and in order.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hostendpoint_api::model::Revision;

use crate::store::{Change, Object, View, view::Snapshot};

/// Publishes to the replica's view, in revision order, each change once.
#[derive(Debug)]
pub(super) struct Publisher {
    view: Arc<View>,
    order: Mutex<()>,
}

impl Publisher {
    pub(super) fn new(view: Arc<View>) -> Self {
        Self {
            view,
            order: Mutex::new(()),
        }
    }

    /// Publishes what the watch delivered, less what this replica's writes already published.
    pub(super) fn watched(&self, mut changes: Vec<Arc<Change>>) {
        let _order = self.lock();
        let published = self.view.revision();
        changes.retain(|change| change.revision > published);
        self.view.publish(&changes);
    }

    /// Publishes this replica's write of `name` at `revision` (`next` is `None` for a delete)
    /// if the view is at the revision right before; otherwise returns false, and the watch
    /// will publish it.
    pub(super) fn own_write(
        &self,
        name: &str,
        revision: Revision,
        next: Option<Arc<Object>>,
    ) -> bool {
        let _order = self.lock();
        let snapshot = self.view.snapshot();
        if snapshot.revision().checked_add(1) != Some(revision) {
            return false;
        }
        let prev = snapshot.get(name).cloned();
        if prev.is_none() && next.is_none() {
            // A delete of a value the view skipped as invalid: nothing to show.
            return false;
        }
        self.view
            .publish(&[Arc::new(Change::new(revision, prev, next))]);
        true
    }

    /// Replaces the view with a fresh listing.
    pub(super) fn reset(&self, snapshot: Snapshot) {
        let _order = self.lock();
        self.view.reset(snapshot);
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // The lock guards no data of its own; a holder that panicked left nothing half done.
        self.order.lock().unwrap_or_else(PoisonError::into_inner)
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

    fn publisher_at(revision: Revision) -> Publisher {
        let existing = object("a", revision);
        let snapshot = Snapshot::of_objects(revision, vec![existing]);
        Publisher::new(Arc::new(View::new(snapshot, 16)))
    }

    #[test]
    fn an_own_write_right_after_the_view_is_published_and_its_watch_event_dropped() {
        let publisher = publisher_at(7);
        let mut changes = publisher.view.subscribe(None);
        let next = object("a", 8);
        assert!(publisher.own_write("a", 8, Some(Arc::clone(&next))));
        assert_eq!(publisher.view.revision(), 8);
        let published = changes.try_recv().expect("the write's change");
        assert_eq!(published.revision, 8);
        assert_eq!(
            published.prev.as_ref().map(|o| o.metadata.resource_version),
            Some(7),
            "the previous state is the view's"
        );

        // The watch delivers 8 again with 9: only 9 is published.
        let created = object("b", 9);
        publisher.watched(vec![
            Arc::new(Change::new(8, None, Some(next))),
            Arc::new(Change::new(9, None, Some(created))),
        ]);
        assert_eq!(changes.try_recv().expect("the next change").revision, 9);
        assert!(changes.try_recv().is_err(), "8 was published once");
        assert!(publisher.view.snapshot().get("b").is_some());
    }

    #[test]
    fn an_own_write_after_a_revision_the_view_lacks_waits_for_the_watch() {
        let publisher = publisher_at(7);
        assert!(!publisher.own_write("a", 9, Some(object("a", 9))));
        assert_eq!(publisher.view.revision(), 7);
        assert!(
            !publisher.own_write("a", 7, Some(object("a", 7))),
            "old news"
        );
    }

    #[test]
    fn an_own_delete_removes_the_object() {
        let publisher = publisher_at(7);
        assert!(publisher.own_write("a", 8, None));
        assert!(publisher.view.snapshot().get("a").is_none());
        assert!(
            !publisher.own_write("a", 9, None),
            "a delete of nothing the view has is left to the watch"
        );
    }
}
