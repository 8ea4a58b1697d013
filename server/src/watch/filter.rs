//! What a watch selects, and which event a change becomes for it.

use bytes::Bytes;
use hostendpoint_api::{
    frames::EventFrame, model::HostEndpoint, pb::EventType, selector::Selector,
};

use crate::{
    metrics::store::WatchKind,
    store::{Change, Object},
};

/// The objects a watch selects.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter {
    /// Only objects of this node; `None` for every node.
    pub(crate) node: Option<String>,
    /// Only objects whose labels this selects; `None` for all.
    pub(crate) selector: Option<Selector>,
}

impl Filter {
    /// What the filter selects, as `hostendpointd_watchers` labels it.
    pub(crate) fn kind(&self) -> WatchKind {
        match (&self.selector, &self.node) {
            (Some(_), _) => WatchKind::Selector,
            (None, Some(_)) => WatchKind::Node,
            (None, None) => WatchKind::All,
        }
    }

    pub(crate) fn matches(&self, hep: &HostEndpoint) -> bool {
        self.node
            .as_deref()
            .is_none_or(|node| hep.spec.node == node)
            && self
                .selector
                .as_ref()
                .is_none_or(|s| s.matches(&hep.metadata.labels))
    }

    /// The event `change` is for this filter, judged on both the old and the new state:
    /// entering is ADDED, staying MODIFIED, leaving or a delete DELETED with the last state that
    /// matched stamped with the change's revision; `None` when neither state matches.
    pub(crate) fn event(&self, change: &Change) -> Option<EventFrame> {
        let was_in = change.prev.as_deref().is_some_and(|h| self.matches(h));
        let is_in = change.next.as_deref().is_some_and(|h| self.matches(h));
        let frame = |kind, bytes: Option<Bytes>| {
            bytes.map(|bytes| EventFrame::object(kind, bytes, change.revision))
        };
        match (was_in, is_in) {
            (false, true) => frame(
                EventType::Added,
                change.next.as_deref().map(Object::encoded),
            ),
            (true, true) => frame(
                EventType::Modified,
                change.next.as_deref().map(Object::encoded),
            ),
            (true, false) => frame(EventType::Deleted, change.tombstone()),
            (false, false) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use hostendpoint_api::model::{HostEndpointSpec, ObjectMeta};
    use prost::Message as _;

    use super::*;

    fn mk_object(node: &str, revision: u64) -> std::sync::Arc<Object> {
        Object::new(HostEndpoint {
            metadata: ObjectMeta {
                name: "a".into(),
                resource_version: revision,
                ..ObjectMeta::default()
            },
            spec: HostEndpointSpec {
                node: node.into(),
                interface_name: "eth0".into(),
                ..HostEndpointSpec::default()
            },
        })
    }

    fn kind_of(filter: &Filter, change: &Change) -> Option<EventType> {
        filter.event(change).map(|f| f.kind())
    }

    #[test]
    fn a_node_filter_sees_moves_as_adds_and_deletes() {
        let on_n1 = Filter {
            node: Some("n1".into()),
            selector: None,
        };
        let moved = Change::new(5, Some(mk_object("n1", 4)), Some(mk_object("n2", 5)));
        assert_eq!(kind_of(&on_n1, &moved), Some(EventType::Deleted));
        let on_n2 = Filter {
            node: Some("n2".into()),
            selector: None,
        };
        assert_eq!(kind_of(&on_n2, &moved), Some(EventType::Added));
        assert_eq!(
            kind_of(&Filter::default(), &moved),
            Some(EventType::Modified)
        );
        let elsewhere = Filter {
            node: Some("n3".into()),
            selector: None,
        };
        assert_eq!(kind_of(&elsewhere, &moved), None);
    }

    #[test]
    fn deleted_events_carry_the_last_state_stamped_with_the_change() {
        let change = Change::new(9, Some(mk_object("n1", 4)), None);
        let frame = Filter::default()
            .event(&change)
            .expect("a delete is an event");
        assert_eq!(frame.kind(), EventType::Deleted);
        assert_eq!(frame.revision(), 9);
        let tombstone = change.tombstone().expect("a delete has a last state");
        let last = hostendpoint_api::pb::HostEndpoint::decode(tombstone).expect("decodes");
        assert_eq!(last.metadata.map(|m| m.resource_version), Some(9));
    }
}
