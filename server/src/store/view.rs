//! The in-memory state every backend feeds: a consistent [`Snapshot`] at each revision, the
//! stream of committed [`Change`]s, and the snapshots that in-progress listings page through.
//!
//! Snapshots are persistent maps (imbl), so taking one is O(1) and a reader never holds up the
//! single feeder that publishes committed changes in revision order.

use std::{
    collections::HashMap,
    ops::Bound,
    sync::{Arc, Mutex},
    time::Duration,
};

use arc_swap::ArcSwap;
use hostendpoint_api::model::{HostEndpoint, Revision};
use imbl::OrdMap;
use tokio::{
    sync::{broadcast, watch},
    time::Instant,
};

use super::{Change, Object, changes::ChangeStreams};

/// How long a listing's snapshot stays servable after its last page was read.
pub const LISTING_TTL: Duration = Duration::from_secs(300);
/// How long a request for a revision newer than the view's waits for it to appear: an etcd
/// replica may lag the one that issued the revision.
pub const FUTURE_REVISION_WAIT: Duration = Duration::from_secs(3);

/// The most listing snapshots kept at once; the least recently used goes first.
pub const MAX_LISTINGS: usize = 64;
/// How many committed changes the in-memory change stream buffers for its subscribers; a
/// watcher further behind reads the backend's history instead. Each slot holds a shared
/// change, so this costs memory only while writes go on.
pub const DEFAULT_CHANGE_BUFFER: usize = 4096;

/// From this many objects a snapshot builds its two indexes on two threads.
const PARALLEL_FROM: usize = 4096;

/// Every object at one revision, indexed by name and by node.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    revision: Revision,
    // Keys are `Arc<str>`: a write copies the path of tree nodes it changes, and with it every
    // key in them, so a key's clone must not allocate.
    by_name: ByName,
    /// Each node's objects by name. Two levels rather than one map keyed on (node, name): a
    /// start-up builds each node's map in name order, and a node's name is held once.
    by_node: OrdMap<Arc<str>, ByName>,
}

/// Objects by name.
pub type ByName = OrdMap<Arc<str>, Arc<Object>>;

/// One page of a listing.
#[derive(Debug)]
pub struct Page {
    /// The objects, sorted by name.
    pub items: Vec<Arc<Object>>,
    /// True when objects follow the last item.
    pub more: bool,
}

/// The state that reads are served from, fed by one backend task.
#[derive(Debug)]
pub struct View {
    current: ArcSwap<Snapshot>,
    changes: ChangeStreams,
    revision: watch::Sender<Revision>,
    availability: watch::Sender<Availability>,
    listings: Mutex<HashMap<Revision, Listing>>,
}

/// Whether the view can be served, and which history it continues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Availability {
    /// `None` while reads can be served; otherwise why not (the backend lost its datastore
    /// and cannot vouch for its copy).
    pub unavailable: Option<String>,
    /// `None` while writes can be made durable; otherwise why not (the disk is full). Reads
    /// are served all the same: the view holds every acknowledged write.
    pub cannot_write: Option<String>,
    /// Changes when the view was rebuilt from a fresh listing of the backend, so that its
    /// history no longer continues what watchers have seen: they must relist.
    pub epoch: u64,
}

impl Availability {
    /// Whether the store serves both reads and writes: what health reports.
    pub fn serving(&self) -> bool {
        self.unavailable.is_none() && self.cannot_write.is_none()
    }
}

#[derive(Debug)]
struct Listing {
    snapshot: Arc<Snapshot>,
    last_used: Instant,
}

/// An index of `objects`, with its leaves full if `objects` are sorted by name.
///
/// imbl has no bulk load, and a B-tree filled in key order splits each full leaf in the
/// middle and never adds to its left half again: every leaf would stay half empty, some 60
/// bytes per object over the two indexes. Every other object goes in first, leaving each leaf
/// half full with room for exactly the objects between its keys, which the second pass adds.
fn packed(objects: &[Arc<Object>]) -> ByName {
    let mut index = ByName::new();
    let alternate = objects.iter().step_by(2);
    for object in alternate.chain(objects.iter().skip(1).step_by(2)) {
        index.insert(Arc::clone(object.name()), Arc::clone(object));
    }
    index
}

// === impl Snapshot ===

impl Snapshot {
    /// A snapshot of `objects` at `revision`.
    pub fn new(revision: Revision, objects: impl IntoIterator<Item = HostEndpoint>) -> Self {
        Self::of_objects(revision, objects.into_iter().map(Object::new).collect())
    }

    /// A snapshot of `objects` at `revision`, which are fastest to index sorted by name. From
    /// [`PARALLEL_FROM`] objects the two indexes are built side by side: a start-up builds
    /// one for the whole store, and every object costs a tree insert in each.
    pub fn of_objects(revision: Revision, objects: Vec<Arc<Object>>) -> Self {
        let by_name = || packed(&objects);
        let by_node = || {
            // Grouped first, in one pass over the objects in their order (a pass in the node
            // index's order would visit them at random), so that each node's index is built
            // from its objects in name order, and the node's name is held once.
            let mut nodes: HashMap<&str, Vec<Arc<Object>>> = HashMap::new();
            for object in &objects {
                nodes
                    .entry(object.spec.node.as_str())
                    .or_default()
                    .push(Arc::clone(object));
            }
            nodes
                .into_iter()
                .map(|(node, objects)| (Arc::from(node), packed(&objects)))
                .collect()
        };
        let (by_name, by_node) = if objects.len() < PARALLEL_FROM {
            (by_name(), by_node())
        } else {
            std::thread::scope(|scope| {
                let names = scope.spawn(by_name);
                let nodes = by_node();
                let names = names
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (names, nodes)
            })
        };
        Self {
            revision,
            by_name,
            by_node,
        }
    }

    /// The revision this snapshot reflects.
    pub fn revision(&self) -> Revision {
        self.revision
    }

    /// How many objects there are.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when there is no object.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Every object by name: a copy costs O(1), and shares the snapshot's tree until written.
    pub fn by_name(&self) -> &ByName {
        &self.by_name
    }

    /// The object named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Object>> {
        self.by_name.get(name)
    }

    /// Up to `limit` objects after the name `after` that `keep` accepts, of one node or of
    /// all, sorted by name, and no more than `max_bytes` of encoded objects (one larger object
    /// still goes alone). A node's objects come from the node index, so the cost is that of
    /// the node's objects, not of the store.
    pub fn page(
        &self,
        node: Option<&str>,
        after: Option<&str>,
        limit: usize,
        max_bytes: usize,
        keep: impl Fn(&HostEndpoint) -> bool,
    ) -> Page {
        let matching = self.iter_after(node, after).filter(|object| keep(object));
        let mut items = Vec::new();
        let mut bytes = 0;
        for object in matching {
            bytes += object.encoded().len();
            if items.len() == limit || (bytes > max_bytes && !items.is_empty()) {
                return Page { items, more: true };
            }
            items.push(object);
        }
        Page { items, more: false }
    }

    /// This snapshot as it was at the earlier `revision`, given the state at `revision`
    /// (`None`: absent) of every object changed since.
    pub fn rewound(
        &self,
        revision: Revision,
        earlier: impl IntoIterator<Item = (String, Option<Arc<Object>>)>,
    ) -> Self {
        let mut rewound = self.clone();
        for (name, state) in earlier {
            if let Some(current) = rewound.by_name.get(name.as_str()).cloned() {
                rewound.remove(&current);
            }
            if let Some(state) = state {
                rewound.insert(state);
            }
        }
        rewound.revision = revision;
        rewound
    }

    /// Every object of one node, or of all, sorted by name.
    pub fn iter<'a>(&'a self, node: Option<&'a str>) -> Box<dyn Iterator<Item = Arc<Object>> + 'a> {
        self.iter_after(node, None)
    }

    fn iter_after<'a>(
        &'a self,
        node: Option<&'a str>,
        after: Option<&'a str>,
    ) -> Box<dyn Iterator<Item = Arc<Object>> + 'a> {
        match node {
            Some(node) => Box::new(self.node_range(node, after)),
            None => Box::new(self.name_range(after)),
        }
    }

    fn name_range<'a>(&'a self, after: Option<&'a str>) -> impl Iterator<Item = Arc<Object>> + 'a {
        range_after(&self.by_name, after)
    }

    fn node_range<'a>(
        &'a self,
        node: &'a str,
        after: Option<&'a str>,
    ) -> impl Iterator<Item = Arc<Object>> + 'a {
        self.by_node
            .get(node)
            .into_iter()
            .flat_map(move |objects| range_after(objects, after))
    }

    /// Applies one committed change; changes must come in revision order.
    pub fn apply(&mut self, change: &Change) {
        match (&change.prev, &change.next) {
            // An update on the same node overwrites both entries in place: removing first
            // would copy each index's path twice.
            (Some(prev), Some(next)) if prev.spec.node == next.spec.node => {
                self.insert(Arc::clone(next));
            }
            (prev, next) => {
                if let Some(prev) = prev {
                    self.remove(prev);
                }
                if let Some(next) = next {
                    self.insert(Arc::clone(next));
                }
            }
        }
        self.revision = change.revision;
    }

    fn insert(&mut self, hep: Arc<Object>) {
        let (name, object) = (Arc::clone(hep.name()), Arc::clone(&hep));
        // A node's map keeps the key it was created with: one copy of the node's name.
        match self.by_node.get_mut(hep.spec.node.as_str()) {
            Some(objects) => {
                objects.insert(name, object);
            }
            None => {
                let node = Arc::from(hep.spec.node.as_str());
                self.by_node.insert(node, ByName::unit(name, object));
            }
        }
        self.by_name.insert(Arc::clone(hep.name()), hep);
    }

    fn remove(&mut self, hep: &HostEndpoint) {
        let name = hep.metadata.name.as_str();
        let node = hep.spec.node.as_str();
        let emptied = self.by_node.get_mut(node).is_some_and(|objects| {
            objects.remove(name);
            objects.is_empty()
        });
        if emptied {
            self.by_node.remove(node);
        }
        self.by_name.remove(name);
    }
}

/// The objects of `index` after the name `after`, in name order.
fn range_after<'a>(
    index: &'a ByName,
    after: Option<&'a str>,
) -> impl Iterator<Item = Arc<Object>> + 'a {
    let start = after.map_or(Bound::Unbounded, Bound::Excluded);
    index
        .range::<_, str>((start, Bound::Unbounded))
        .map(|(_, hep)| Arc::clone(hep))
}

// === impl View ===

impl View {
    /// A view starting from `initial`, whose change stream buffers `change_buffer` changes.
    pub fn new(initial: Snapshot, change_buffer: usize) -> Self {
        let changes = ChangeStreams::new(change_buffer);
        let (revision, _) = watch::channel(initial.revision);
        let (availability, _) = watch::channel(Availability {
            unavailable: None,
            cannot_write: None,
            epoch: 0,
        });
        Self {
            current: ArcSwap::from_pointee(initial),
            changes,
            revision,
            availability,
            listings: Mutex::default(),
        }
    }

    /// Whether the view can be served, and its epoch.
    pub fn availability(&self) -> Availability {
        self.availability.borrow().clone()
    }

    /// Follows [`View::availability`].
    pub fn watch_availability(&self) -> watch::Receiver<Availability> {
        self.availability.subscribe()
    }

    /// Marks the view unavailable (`Some(reason)`) or available again (`None`).
    pub fn set_unavailable(&self, reason: Option<String>) {
        self.availability.send_if_modified(|a| {
            let changed = a.unavailable != reason;
            a.unavailable = reason;
            changed
        });
    }

    /// Marks writes as failing (`Some(reason)`) or working again (`None`).
    pub fn set_cannot_write(&self, reason: Option<String>) {
        self.availability.send_if_modified(|a| {
            let changed = a.cannot_write != reason;
            a.cannot_write = reason;
            changed
        });
    }

    /// Replaces the whole state with a fresh listing whose history does not continue the old
    /// one; watchers relist.
    pub fn reset(&self, snapshot: Snapshot) {
        let revision = snapshot.revision;
        self.current.store(Arc::new(snapshot));
        self.lock_listings().clear();
        self.availability.send_modify(|a| a.epoch += 1);
        self.revision.send_replace(revision);
    }

    /// The latest committed state.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The latest committed revision.
    pub fn revision(&self) -> Revision {
        self.current.load().revision
    }

    /// Committed changes from now on, in revision order: all, or those whose old or new state
    /// is on `node`. A subscriber that falls more than the change buffer behind is told it
    /// lagged, and must catch up from the backend's history.
    pub fn subscribe(&self, node: Option<&str>) -> broadcast::Receiver<Arc<Change>> {
        self.changes.subscribe(node)
    }

    /// Follows the latest committed revision.
    pub fn watch_revision(&self) -> watch::Receiver<Revision> {
        self.revision.subscribe()
    }

    /// Waits up to [`FUTURE_REVISION_WAIT`] for `revision` to be committed; `Err` with the
    /// latest revision when it is not by then.
    pub async fn await_revision(&self, revision: Revision) -> Result<(), Revision> {
        let mut current = self.watch_revision();
        let reached =
            tokio::time::timeout(FUTURE_REVISION_WAIT, current.wait_for(|r| *r >= revision));
        match reached.await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(self.revision()),
        }
    }

    /// Publishes committed changes, in revision order: the next snapshot, the change streams,
    /// then the revision. Only the backend's single feeder calls this.
    pub fn publish(&self, changes: &[Arc<Change>]) {
        let Some(last) = changes.last() else { return };
        let mut next = Snapshot::clone(&self.current.load());
        for change in changes {
            next.apply(change);
        }
        self.current.store(Arc::new(next));
        self.changes.publish(changes);
        self.revision.send_replace(last.revision);
    }

    /// Keeps `snapshot` servable for the following pages of a listing.
    pub fn retain_for_listing(&self, snapshot: &Arc<Snapshot>) {
        let mut listings = self.lock_listings();
        let now = Instant::now();
        listings.retain(|_, l| now.duration_since(l.last_used) < LISTING_TTL);
        if listings.len() >= MAX_LISTINGS && !listings.contains_key(&snapshot.revision) {
            let oldest = listings
                .iter()
                .min_by_key(|(_, l)| l.last_used)
                .map(|(r, _)| *r);
            if let Some(oldest) = oldest {
                listings.remove(&oldest);
            }
        }
        listings.insert(
            snapshot.revision,
            Listing {
                snapshot: Arc::clone(snapshot),
                last_used: now,
            },
        );
    }

    /// The snapshot at `revision`, if it is still servable for a listing.
    pub fn snapshot_for_listing(&self, revision: Revision) -> Option<Arc<Snapshot>> {
        let current = self.snapshot();
        if current.revision == revision {
            return Some(current);
        }
        let mut listings = self.lock_listings();
        let listing = listings.get_mut(&revision)?;
        if listing.last_used.elapsed() >= LISTING_TTL {
            listings.remove(&revision);
            return None;
        }
        listing.last_used = Instant::now();
        Some(Arc::clone(&listing.snapshot))
    }

    fn lock_listings(&self) -> std::sync::MutexGuard<'_, HashMap<Revision, Listing>> {
        // The map stays consistent even if a holder panicked, so poisoning is ignored.
        self.listings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::mk_hep;

    /// A view whose every write creates an object, so that each revision is its own snapshot.
    fn mk_view() -> View {
        View::new(Snapshot::default(), 16)
    }

    /// Creates one object and returns the snapshot at its revision.
    fn write(view: &View) -> Arc<Snapshot> {
        let revision = view.revision() + 1;
        let mut hep = mk_hep(&format!("hep-{revision}"), "n1", "a");
        hep.metadata.resource_version = revision;
        view.publish(&[Arc::new(Change::new(
            revision,
            None,
            Some(Object::new(hep)),
        ))]);
        view.snapshot()
    }

    fn names(objects: impl Iterator<Item = Arc<Object>>) -> Vec<String> {
        objects.map(|o| o.name().to_string()).collect()
    }

    fn change(
        revision: Revision,
        prev: Option<&Arc<Object>>,
        next: Option<HostEndpoint>,
    ) -> Change {
        Change::new(revision, prev.cloned(), next.map(Object::new))
    }

    #[test]
    fn a_nodes_objects_are_listed_in_name_order_and_paged_within_the_node() {
        // Out of name order, and the nodes interleaved, as no start-up would read them.
        let heps = ["d", "a", "c", "b", "e"]
            .into_iter()
            .zip(["n2", "n1", "n2", "n1", "n2"])
            .map(|(name, node)| mk_hep(name, node, "x"));
        let snapshot = Snapshot::new(1, heps);
        assert_eq!(names(snapshot.iter(None)), ["a", "b", "c", "d", "e"]);
        assert_eq!(names(snapshot.iter(Some("n2"))), ["c", "d", "e"]);
        assert_eq!(names(snapshot.iter(Some("n0"))), Vec::<String>::new());
        let first = snapshot.page(Some("n2"), None, 2, usize::MAX, |_| true);
        assert_eq!(
            (names(first.items.into_iter()), first.more),
            (vec!["c".into(), "d".into()], true)
        );
        let rest = snapshot.page(Some("n2"), Some("d"), 2, usize::MAX, |_| true);
        assert_eq!(
            (names(rest.items.into_iter()), rest.more),
            (vec!["e".into()], false)
        );
    }

    #[test]
    fn a_packed_index_holds_every_object_whatever_their_order_and_number() {
        for count in [0, 1, 2, 3, 16, 17, 33, 1000, 1001] {
            let mut objects: Vec<_> = (0..count)
                .map(|i| Object::new(mk_hep(&format!("hep-{i:05}"), "n1", "x")))
                .collect();
            for _ in 0..2 {
                let index = packed(&objects);
                let expected: Vec<String> = (0..count).map(|i| format!("hep-{i:05}")).collect();
                assert_eq!(names(index.values().cloned()), expected, "{count} objects");
                objects.reverse();
            }
        }
    }

    #[test]
    fn a_node_leaves_the_node_index_with_its_last_object_and_moves_are_followed() {
        let mut snapshot = Snapshot::new(1, [mk_hep("a", "n1", "x"), mk_hep("b", "n1", "x")]);
        let a = Arc::clone(snapshot.get("a").expect("a"));
        snapshot.apply(&change(2, Some(&a), Some(mk_hep("a", "n2", "x"))));
        assert_eq!(names(snapshot.iter(Some("n1"))), ["b"]);
        assert_eq!(names(snapshot.iter(Some("n2"))), ["a"]);
        let b = Arc::clone(snapshot.get("b").expect("b"));
        snapshot.apply(&change(3, Some(&b), None));
        assert!(
            !snapshot.by_node.contains_key("n1"),
            "n1 has no object left"
        );
        assert_eq!(names(snapshot.iter(None)), ["a"]);
        snapshot.apply(&change(4, None, Some(mk_hep("c", "n2", "x"))));
        assert_eq!(names(snapshot.iter(Some("n2"))), ["a", "c"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_listing_stays_servable_while_it_is_read_within_its_ttl() {
        let view = mk_view();
        let listing = write(&view);
        view.retain_for_listing(&listing);
        write(&view);
        let second = Duration::from_secs(1);
        for _ in 0..3 {
            tokio::time::advance(LISTING_TTL - second).await;
            let served = view.snapshot_for_listing(listing.revision());
            assert!(
                served.is_some_and(|s| Arc::ptr_eq(&s, &listing)),
                "read in time"
            );
        }
        tokio::time::advance(LISTING_TTL).await;
        assert!(
            view.snapshot_for_listing(listing.revision()).is_none(),
            "unread for its TTL"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn beyond_the_most_listings_the_least_recently_read_goes_first() {
        let view = mk_view();
        let mut listings = Vec::new();
        for _ in 0..MAX_LISTINGS {
            let listing = write(&view);
            view.retain_for_listing(&listing);
            listings.push(listing);
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        // The oldest listing is read again; the second oldest is now the least recent.
        assert!(view.snapshot_for_listing(listings[0].revision()).is_some());
        let newest = write(&view);
        view.retain_for_listing(&newest);
        write(&view);

        let kept =
            |listing: &Arc<Snapshot>| view.snapshot_for_listing(listing.revision()).is_some();
        assert!(kept(&listings[0]), "read recently");
        assert!(!kept(&listings[1]), "the least recently read");
        assert!(listings[2..].iter().all(kept), "the others stay");
        assert!(kept(&newest));
    }

    #[test]
    fn the_current_snapshot_is_always_servable_for_a_listing() {
        let view = mk_view();
        let current = write(&view);
        assert!(view.snapshot_for_listing(current.revision()).is_some());
        assert!(view.snapshot_for_listing(current.revision() - 1).is_none());
    }
}
