//! The live change streams watchers subscribe to: one of every change, and one per node that
//! a node-filtered watcher asks for. So a write wakes only the watchers it can concern: with
//! one stream for all, every write woke every watcher's task only for most of them to drop it,
//! 10 000 wake-ups per write when as many agents each watch their own node.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::broadcast;

use super::Change;

/// A node's stream buffers at most this many changes: a channel allocates its buffer up
/// front, and there may be one per node. A watcher further behind reads the history instead.
const MAX_NODE_BUFFER: usize = 64;

/// The change streams of one view.
#[derive(Debug)]
pub(super) struct ChangeStreams {
    all: broadcast::Sender<Arc<Change>>,
    nodes: Mutex<NodeStreams>,
    node_buffer: usize,
}

#[derive(Debug, Default)]
struct NodeStreams {
    by_node: HashMap<String, broadcast::Sender<Arc<Change>>>,
    /// Streams without subscribers are dropped when the map reaches this size.
    prune_at: usize,
}

impl ChangeStreams {
    /// Streams that buffer `buffer` changes (a node's at most [`MAX_NODE_BUFFER`]).
    pub(super) fn new(buffer: usize) -> Self {
        let (all, _) = broadcast::channel(buffer.max(1));
        Self {
            all,
            nodes: Mutex::default(),
            node_buffer: buffer.clamp(1, MAX_NODE_BUFFER),
        }
    }

    /// Every change from now on, or the changes of `node`'s objects (a change that moves an
    /// object between nodes goes to both).
    pub(super) fn subscribe(&self, node: Option<&str>) -> broadcast::Receiver<Arc<Change>> {
        let Some(node) = node else {
            return self.all.subscribe();
        };
        let mut nodes = self.lock_nodes();
        if nodes.by_node.len() >= nodes.prune_at {
            nodes
                .by_node
                .retain(|_, stream| stream.receiver_count() > 0);
            nodes.prune_at = (nodes.by_node.len() * 2).max(64);
        }
        let buffer = self.node_buffer;
        nodes
            .by_node
            .entry(node.to_owned())
            .or_insert_with(|| broadcast::channel(buffer).0)
            .subscribe()
    }

    /// Sends `changes`, in order, to every stream they concern.
    pub(super) fn publish(&self, changes: &[Arc<Change>]) {
        for change in changes {
            // An error only means that nobody is subscribed.
            let _ = self.all.send(Arc::clone(change));
        }
        let mut nodes = self.lock_nodes();
        if nodes.by_node.is_empty() {
            return;
        }
        for change in changes {
            let prev = change.prev.as_ref().map(|o| o.spec.node.as_str());
            let next = change.next.as_ref().map(|o| o.spec.node.as_str());
            for node in [prev, next.filter(|n| Some(*n) != prev)]
                .into_iter()
                .flatten()
            {
                let unsubscribed = match nodes.by_node.get(node) {
                    Some(stream) => stream.send(Arc::clone(change)).is_err(),
                    None => false,
                };
                if unsubscribed {
                    nodes.by_node.remove(node);
                }
            }
        }
    }

    fn lock_nodes(&self) -> MutexGuard<'_, NodeStreams> {
        // The map stays consistent even if a holder panicked, so poisoning is ignored.
        self.nodes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use hostendpoint_api::model::{HostEndpoint, HostEndpointSpec, ObjectMeta};

    use super::*;
    use crate::store::Object;

    fn on(node: &str, revision: u64) -> Arc<Object> {
        Object::new(HostEndpoint {
            metadata: ObjectMeta {
                name: "web".into(),
                resource_version: revision,
                ..ObjectMeta::default()
            },
            spec: HostEndpointSpec {
                node: node.into(),
                ..HostEndpointSpec::default()
            },
        })
    }

    fn revisions(receiver: &mut broadcast::Receiver<Arc<Change>>) -> Vec<u64> {
        std::iter::from_fn(|| receiver.try_recv().ok())
            .map(|c| c.revision)
            .collect()
    }

    #[test]
    fn a_node_stream_gets_its_nodes_changes_and_moves_in_and_out() {
        let streams = ChangeStreams::new(16);
        let mut all = streams.subscribe(None);
        let mut a = streams.subscribe(Some("a"));
        let mut b = streams.subscribe(Some("b"));
        streams.publish(&[
            Arc::new(Change::new(1, None, Some(on("a", 1)))),
            Arc::new(Change::new(2, Some(on("a", 1)), Some(on("b", 2)))),
            Arc::new(Change::new(3, None, Some(on("c", 3)))),
            Arc::new(Change::new(4, Some(on("b", 2)), None)),
        ]);
        assert_eq!(revisions(&mut all), vec![1, 2, 3, 4]);
        assert_eq!(revisions(&mut a), vec![1, 2]);
        assert_eq!(revisions(&mut b), vec![2, 4]);
    }

    #[test]
    fn a_node_stream_without_subscribers_is_dropped() {
        let streams = ChangeStreams::new(16);
        drop(streams.subscribe(Some("a")));
        streams.publish(&[Arc::new(Change::new(1, None, Some(on("a", 1))))]);
        assert!(streams.lock_nodes().by_node.is_empty());
    }

    #[test]
    fn a_node_stream_buffers_at_most_its_maximum_then_lags() {
        let streams = ChangeStreams::new(4096);
        let mut a = streams.subscribe(Some("a"));
        let changes: Vec<_> = (1..=MAX_NODE_BUFFER as u64 + 1)
            .map(|r| Arc::new(Change::new(r, None, Some(on("a", r)))))
            .collect();
        streams.publish(&changes);
        assert!(matches!(
            a.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(1))
        ));
    }
}
