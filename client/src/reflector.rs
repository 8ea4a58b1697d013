//! A reflector: an in-memory copy of the watched host endpoints, kept by a [`watcher`] stream.
//!
//! A listing is buffered from `Init` to `InitDone` and swapped in at once, so readers never see
//! half a listing. Objects that vanished across a relist (deleted while the watcher could not
//! resume) are reported as synthesized [`Event::Delete`]s right after the `InitDone`.
//!
//! [`watcher`]: crate::watcher::watcher

use std::{
    collections::BTreeMap,
    sync::{Arc, PoisonError, RwLock},
};

use futures::{Stream, StreamExt as _};
use hostendpoint_api::model::{HostEndpoint, Revision};
use tokio::sync::watch;

use crate::{Result, watcher::Event};

type Objects = BTreeMap<String, Arc<HostEndpoint>>;

/// A read handle on a reflector's objects. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    state: Arc<RwLock<State>>,
    ready: watch::Receiver<bool>,
}

#[derive(Debug, Default)]
struct State {
    objects: Objects,
    revision: Revision,
    /// A listing completed and no other is under way.
    synced: bool,
}

/// The writing half, fed by [`reflector`].
#[derive(Debug)]
pub struct Writer {
    state: Arc<RwLock<State>>,
    ready: watch::Sender<bool>,
    /// The listing in progress, between `Init` and `InitDone`.
    listing: Option<Objects>,
}

/// The reflector's writer is gone before the first listing completed.
#[derive(Debug, thiserror::Error)]
#[error("the reflector stopped before it was ready")]
pub struct NeverReady;

/// A new, empty store and its writer.
pub fn store() -> (Store, Writer) {
    let state = Arc::new(RwLock::new(State::default()));
    let (ready_tx, ready) = watch::channel(false);
    let reader = Store {
        state: Arc::clone(&state),
        ready,
    };
    let writer = Writer {
        state,
        ready: ready_tx,
        listing: None,
    };
    (reader, writer)
}

/// Applies every event of `events` to `writer`'s store, and passes the events on, followed by
/// a synthesized `Delete` for each object that a relist found gone.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use futures::StreamExt as _;
/// use hostendpoint_client::{Client, reflector, watcher};
///
/// let client = Client::connect("http://127.0.0.1:50051").await?;
/// let (store, writer) = reflector::store();
/// let events = reflector::reflector(writer, watcher::watcher(client, Default::default()));
/// tokio::spawn(events.for_each(|_| async {}));
/// store.wait_until_ready().await?;
/// for hep in store.state() {
///     println!("{} on {}", hep.metadata.name, hep.spec.node);
/// }
/// # Ok(())
/// # }
/// ```
pub fn reflector(
    mut writer: Writer,
    events: impl Stream<Item = Result<Event>> + Send + 'static,
) -> impl Stream<Item = Result<Event>> + Send + 'static {
    events.flat_map(move |event| {
        let out: Vec<Result<Event>> = match event {
            Ok(event) => {
                let deleted = writer.apply(&event);
                std::iter::once(Ok(event))
                    .chain(deleted.into_iter().map(Ok))
                    .collect()
            }
            Err(error) => vec![Err(error)],
        };
        futures::stream::iter(out)
    })
}

// === impl Store ===

impl Store {
    /// The object named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<HostEndpoint>> {
        self.read(|s| s.objects.get(name).cloned())
    }

    /// Every object, sorted by name.
    pub fn state(&self) -> Vec<Arc<HostEndpoint>> {
        self.read(|s| s.objects.values().cloned().collect())
    }

    /// The revision the store reflects.
    pub fn revision(&self) -> Revision {
        self.read(|s| s.revision)
    }

    /// How many objects the store holds.
    pub fn len(&self) -> usize {
        self.read(|s| s.objects.len())
    }

    /// Whether the store holds no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a listing completed and no relist is under way (during one, the store still
    /// shows the state before it).
    pub fn is_synced(&self) -> bool {
        self.read(|s| s.synced)
    }

    /// Waits until the first listing is in.
    pub async fn wait_until_ready(&self) -> Result<(), NeverReady> {
        let mut ready = self.ready.clone();
        ready
            .wait_for(|r| *r)
            .await
            .map(|_| ())
            .map_err(|_| NeverReady)
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        // Writers only swap or insert whole values, so a poisoned lock still holds a
        // consistent state.
        f(&self.state.read().unwrap_or_else(PoisonError::into_inner))
    }
}

// === impl Writer ===

impl Writer {
    /// Applies one event; returns the deletes a completed relist implies.
    pub fn apply(&mut self, event: &Event) -> Vec<Event> {
        match event {
            Event::Init => {
                self.listing = Some(Objects::new());
                self.write(|s| s.synced = false);
                Vec::new()
            }
            Event::InitApply(hep) => {
                let listing = self.listing.get_or_insert_with(Objects::new);
                listing.insert(hep.metadata.name.clone(), Arc::new(hep.clone()));
                Vec::new()
            }
            Event::InitDone(revision) => self.swap_in_listing(*revision),
            Event::Apply(hep) => {
                self.write(|s| {
                    s.objects
                        .insert(hep.metadata.name.clone(), Arc::new(hep.clone()));
                    s.revision = hep.metadata.resource_version;
                });
                Vec::new()
            }
            Event::Delete(hep) => {
                self.write(|s| {
                    s.objects.remove(&hep.metadata.name);
                    s.revision = hep.metadata.resource_version;
                });
                Vec::new()
            }
        }
    }

    fn swap_in_listing(&mut self, revision: Revision) -> Vec<Event> {
        let listing = self.listing.take().unwrap_or_default();
        let old = self.write(|s| {
            s.revision = revision;
            s.synced = true;
            std::mem::replace(&mut s.objects, listing.clone())
        });
        self.ready.send_replace(true);
        old.into_iter()
            .filter(|(name, _)| !listing.contains_key(name))
            .map(|(_, gone)| Event::Delete(HostEndpoint::clone(&gone)))
            .collect()
    }

    fn write<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.write().unwrap_or_else(PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    use hostendpoint_api::model::{HostEndpointSpec, ObjectMeta};

    use super::*;

    fn mk_hep(name: &str, revision: Revision) -> HostEndpoint {
        HostEndpoint {
            metadata: ObjectMeta {
                name: name.into(),
                resource_version: revision,
                ..ObjectMeta::default()
            },
            spec: HostEndpointSpec {
                node: "n1".into(),
                interface_name: "eth0".into(),
                ..HostEndpointSpec::default()
            },
        }
    }

    #[test]
    fn a_relist_swaps_at_init_done_and_synthesizes_deletes() {
        let (store, mut writer) = store();
        for event in [
            Event::Init,
            Event::InitApply(mk_hep("a", 1)),
            Event::InitApply(mk_hep("b", 2)),
        ] {
            assert!(writer.apply(&event).is_empty());
        }
        assert!(
            store.state().is_empty(),
            "nothing is visible before InitDone"
        );
        assert!(!store.is_synced());
        assert!(writer.apply(&Event::InitDone(2)).is_empty());
        assert_eq!(store.len(), 2);
        assert!(store.is_synced());

        writer.apply(&Event::Init);
        assert!(!store.is_synced(), "a relist is under way");
        writer.apply(&Event::InitApply(mk_hep("b", 2)));
        assert_eq!(store.state().len(), 2, "the old state stays until InitDone");
        let deleted = writer.apply(&Event::InitDone(9));
        assert_eq!(deleted, [Event::Delete(mk_hep("a", 1))]);
        assert_eq!(store.state().len(), 1);
        assert_eq!(store.revision(), 9);
    }
}
