//! A store that keeps everything in memory, for unit tests of what sits on the [`Store`] seam
//! (watches, listings): every change is kept as history until [`MemoryStore::compact`], and a
//! write is visible at once.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use hostendpoint_api::model::{HostEndpoint, HostEndpointSpec, ObjectMeta, Revision};

use super::{
    Change, Error, Object, Result, Snapshot, Store, View,
    write::{Plan, Write},
};

/// The store uid of every [`MemoryStore`].
pub(crate) const STORE_UID: &str = "memory-store";

/// The in-memory store.
#[derive(Debug)]
pub(crate) struct MemoryStore {
    view: View,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    objects: HashMap<String, Arc<Object>>,
    history: Vec<Arc<Change>>,
    /// Resumes after older revisions are refused.
    compacted: Revision,
}

/// A host endpoint named `name` on `node`, with one label `k: value`.
pub(crate) fn mk_hep(name: &str, node: &str, value: &str) -> HostEndpoint {
    HostEndpoint {
        metadata: ObjectMeta {
            name: name.into(),
            labels: [("k".to_owned(), value.to_owned())].into(),
            ..ObjectMeta::default()
        },
        spec: HostEndpointSpec {
            node: node.into(),
            interface_name: "eth0".into(),
            ..HostEndpointSpec::default()
        },
    }
}

impl MemoryStore {
    /// An empty store whose view buffers `change_buffer` changes for live watchers.
    pub(crate) fn new(change_buffer: usize) -> Arc<Self> {
        Arc::new(Self {
            view: View::new(Snapshot::default(), change_buffer),
            state: Mutex::default(),
        })
    }

    /// Creates or replaces `name` on `node`, labelled `k: value`; returns its revision.
    pub(crate) fn put(&self, name: &str, node: &str, value: &str) -> Revision {
        let write = Write::Update {
            hep: mk_hep(name, node, value),
            allow_missing: true,
        };
        self.commit(write)
            .map_or(0, |hep| hep.metadata.resource_version)
    }

    /// Deletes `name`; returns the delete's revision.
    pub(crate) fn delete_now(&self, name: &str) -> Revision {
        let write = Write::Delete {
            name: name.into(),
            preconditions: Default::default(),
        };
        self.commit(write)
            .map_or(0, |hep| hep.metadata.resource_version)
    }

    /// Refuses history reads after revisions older than `oldest` from now on.
    pub(crate) fn compact(&self, oldest: Revision) {
        let mut state = self.lock();
        state.compacted = oldest;
        state.history.retain(|change| change.revision > oldest);
    }

    fn commit(&self, write: Write) -> Result<HostEndpoint> {
        let mut state = self.lock();
        let current = state.objects.get(write.name()).cloned();
        let revision = self.view.revision() + 1;
        let plan = write.plan(current.as_deref().map(|o| HostEndpoint::clone(o)))?;
        let (result, change) = match plan {
            Plan::Unchanged(stored) => return Ok(stored),
            Plan::Put(mut next) => {
                next.metadata.resource_version = revision;
                let object = Object::new(next.clone());
                state
                    .objects
                    .insert(next.name().to_owned(), Arc::clone(&object));
                (next, Change::new(revision, current, Some(object)))
            }
            Plan::Delete(mut last) => {
                last.metadata.resource_version = revision;
                state.objects.remove(last.name());
                (last, Change::new(revision, current, None))
            }
        };
        let change = Arc::new(change);
        state.history.push(Arc::clone(&change));
        self.view.publish(&[change]);
        Ok(result)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn store_uid(&self) -> &str {
        STORE_UID
    }

    fn view(&self) -> &View {
        &self.view
    }

    async fn write(&self, write: Write) -> Result<HostEndpoint> {
        self.commit(write)
    }

    async fn history(&self, after: Revision, limit: usize) -> Result<Vec<Arc<Change>>> {
        let state = self.lock();
        if after < state.compacted {
            return Err(Error::Compacted {
                requested: after,
                oldest: state.compacted,
                current: self.view.revision(),
            });
        }
        Ok(state
            .history
            .iter()
            .filter(|change| change.revision > after)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn close(&self) -> Result<()> {
        Ok(())
    }
}
