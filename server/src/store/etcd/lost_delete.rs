//! Settling a delete whose answer was lost with the connection.
//!
//! A delete is a transaction that compares the key's mod revision. When the connection drops
//! before its answer, the delete may or may not have committed, and re-reading finds the key
//! absent either way. The key's history says which: if the first change of the key after the
//! version the delete compared against is a delete, then that version was deleted, as ours
//! would have done, and the write succeeded. Anything else first means ours did not commit.

use std::sync::Arc;

use hostendpoint_api::model::{HostEndpoint, Revision};

use super::{Shared, feed, proto::etcdserverpb::RangeRequest, revision_of};
use crate::store::{Change, Result};

/// How many changes one history read takes while looking for the key's first change.
const HISTORY_PAGE: usize = 512;

impl Shared {
    /// The deleted object's last state, stamped with the delete's revision, when the first
    /// change of `name` after `expected` deleted it; `None` when something else came first.
    pub(super) async fn deleted_after(
        &self,
        key: &[u8],
        name: &str,
        expected: Revision,
    ) -> Result<Option<HostEndpoint>> {
        // The view must have caught up with etcd, so that its history holds that change.
        let now = self.etcd_revision(key).await?;
        self.visible(now).await?;
        let mut cursor = expected;
        while cursor < now {
            let changes = feed::history(self, cursor, HISTORY_PAGE).await?;
            let Some(last) = changes.last() else {
                break;
            };
            if let Some(outcome) = first_change_outcome(&changes, name) {
                return Ok(outcome);
            }
            cursor = last.revision;
        }
        Ok(None)
    }

    /// etcd's current revision, from the header of a count-only read of `key`.
    async fn etcd_revision(&self, key: &[u8]) -> Result<Revision> {
        let response = self
            .range(RangeRequest {
                key: key.to_vec(),
                count_only: true,
                ..RangeRequest::default()
            })
            .await?;
        Ok(revision_of(response.header.as_ref()))
    }
}

/// What the first change of `name` among `changes` says: `Some(Some(last state))` for a
/// delete, `Some(None)` for any other change, `None` when `name` did not change.
fn first_change_outcome(changes: &[Arc<Change>], name: &str) -> Option<Option<HostEndpoint>> {
    let change = changes.iter().find(|change| {
        let object = change.prev.as_ref().or(change.next.as_ref());
        object.is_some_and(|object| object.metadata.name == name)
    })?;
    if change.next.is_some() {
        return Some(None);
    }
    let mut last = HostEndpoint::clone(change.prev.as_deref()?);
    last.metadata.resource_version = change.revision;
    Some(Some(last))
}

#[cfg(test)]
mod tests {
    use hostendpoint_api::model::{HostEndpointSpec, ObjectMeta};

    use super::*;
    use crate::store::Object;

    fn hep(name: &str, revision: Revision) -> Arc<Object> {
        Object::new(HostEndpoint {
            metadata: ObjectMeta {
                name: name.into(),
                resource_version: revision,
                ..ObjectMeta::default()
            },
            spec: HostEndpointSpec {
                node: "node-1".into(),
                ..HostEndpointSpec::default()
            },
        })
    }

    fn change(
        revision: Revision,
        prev: Option<Arc<Object>>,
        next: Option<Arc<Object>>,
    ) -> Arc<Change> {
        Arc::new(Change::new(revision, prev, next))
    }

    #[test]
    fn a_delete_first_is_the_lost_delete_with_its_revision() {
        let changes = [
            change(11, None, Some(hep("other", 11))),
            change(12, Some(hep("web", 10)), None),
            change(13, None, Some(hep("web", 13))),
        ];
        let last = first_change_outcome(&changes, "web")
            .expect("web changed")
            .expect("a delete");
        assert_eq!(last.metadata.name, "web");
        assert_eq!(last.metadata.resource_version, 12);
    }

    #[test]
    fn any_other_change_first_means_the_delete_did_not_commit() {
        let changes = [
            change(11, Some(hep("web", 10)), Some(hep("web", 11))),
            change(12, Some(hep("web", 11)), None),
        ];
        assert_eq!(first_change_outcome(&changes, "web"), Some(None));
    }

    #[test]
    fn no_change_of_the_name_reads_on() {
        let changes = [change(11, None, Some(hep("other", 11)))];
        assert_eq!(first_change_outcome(&changes, "web"), None);
    }
}
