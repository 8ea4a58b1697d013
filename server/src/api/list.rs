//! ListHostEndpoints: pages of one revision's objects, bounded in count and in encoded bytes,
//! and the snapshots later pages are served from.
//!
//! A listing's later pages come from the snapshot at its revision: the view keeps recent
//! ones, and when another client's listings pushed it out, it is rebuilt from the current
//! snapshot and the store's history. So a listing is served as long as its revision is
//! retained, however many clients list at once.

use std::{collections::HashMap, sync::Arc};

use hostendpoint_api::{model::Revision, pb};
use tonic::Status;

use super::{
    page_token::{PageToken, PageTokens},
    parse_selector,
};
use crate::{
    status::{self, Remedy},
    store::{Error, Snapshot, Store},
};

/// The page size when a request leaves it 0.
pub const DEFAULT_PAGE_SIZE: usize = 500;
/// The largest page served; larger requests are served this many.
pub const MAX_PAGE_SIZE: usize = 5000;
/// The most encoded object bytes in one page (one larger object still goes alone): an answer
/// stays well under the 4 MiB that gRPC clients accept by default.
pub const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;

/// How many changes one history read brings while a snapshot is rebuilt.
const HISTORY_BATCH: usize = 1024;

/// Answers one ListHostEndpoints request.
pub(super) async fn list<S: Store>(
    store: &S,
    tokens: &PageTokens,
    request: pb::ListHostEndpointsRequest,
) -> Result<pb::ListHostEndpointsResponse, Status> {
    let limit = page_size(request.page_size)?;
    let selector = parse_selector(&request.selector)?;
    let (snapshot, after) = if request.page_token.is_empty() {
        (serving_snapshot(store)?, None)
    } else {
        let token = tokens.decode(&request.page_token, &request.node, &request.selector)?;
        (
            listing_snapshot(store, token.revision).await?,
            Some(token.after),
        )
    };
    let node = Some(request.node.as_str()).filter(|n| !n.is_empty());
    let page = snapshot.page(node, after.as_deref(), limit, MAX_PAGE_BYTES, |hep| {
        selector
            .as_ref()
            .is_none_or(|s| s.matches(&hep.metadata.labels))
    });
    let next_page_token = match page.items.last() {
        Some(last) if page.more => {
            store.view().retain_for_listing(&snapshot);
            tokens.encode(PageToken {
                revision: snapshot.revision(),
                after: last.metadata.name.clone(),
                node: request.node,
                selector: request.selector,
                store_uid: String::new(),
            })
        }
        _ => String::new(),
    };
    // Objects keep their encoding (made once per version): no protobuf copy per request.
    let mut response = pb::ListHostEndpointsResponse::from_encoded(
        page.items.iter().map(|h| h.encoded()).collect(),
    );
    response.next_page_token = next_page_token;
    response.resource_version = snapshot.revision();
    response.store_uid = store.store_uid().to_owned();
    Ok(response)
}

/// The latest state, unless the store cannot vouch for it (its datastore is unreachable).
pub(super) fn serving_snapshot<S: Store>(store: &S) -> Result<Arc<Snapshot>, Status> {
    let view = store.view();
    match view.availability().unavailable {
        Some(reason) => Err(status::unavailable(&reason)),
        None => Ok(view.snapshot()),
    }
}

/// The snapshot at a listing's `revision`: kept by the view, or rebuilt from the history.
async fn listing_snapshot<S: Store>(
    store: &S,
    revision: Revision,
) -> Result<Arc<Snapshot>, Status> {
    serving_snapshot(store)?;
    let view = store.view();
    if let Some(snapshot) = view.snapshot_for_listing(revision) {
        return Ok(snapshot);
    }
    view.await_revision(revision).await.map_err(|current| {
        status::future_revision(revision, current, Remedy::RetryOrRestartListing)
    })?;
    let snapshot = Arc::new(rebuild(store, revision).await?);
    view.retain_for_listing(&snapshot);
    Ok(snapshot)
}

/// The snapshot at `revision`, from the current one rewound by the changes since: each
/// changed object's state before its first later change. Holds one state per changed object,
/// not the changes.
async fn rebuild<S: Store>(store: &S, revision: Revision) -> Result<Snapshot, Status> {
    let current = store.view().snapshot();
    let mut earlier = HashMap::new();
    let mut after = revision;
    while after < current.revision() {
        let changes = store
            .history(after, HISTORY_BATCH)
            .await
            .map_err(|err| history_status(err, revision))?;
        let Some(last) = changes.last() else { break };
        after = last.revision;
        for change in changes.iter().filter(|c| c.revision <= current.revision()) {
            let Some(name) = change.prev.as_ref().or(change.next.as_ref()) else {
                continue;
            };
            earlier
                .entry(name.metadata.name.clone())
                .or_insert_with(|| change.prev.clone());
        }
    }
    Ok(current.rewound(revision, earlier))
}

/// The status for a failed history read while rebuilding the listing at `revision`.
fn history_status(err: Error, revision: Revision) -> Status {
    match err {
        Error::Compacted {
            oldest, current, ..
        } => status::compacted(revision, oldest, current, Remedy::RestartListing),
        other => other.into(),
    }
}

fn page_size(requested: i32) -> Result<usize, Status> {
    match usize::try_from(requested) {
        Ok(0) => Ok(DEFAULT_PAGE_SIZE),
        Ok(size) => Ok(size.min(MAX_PAGE_SIZE)),
        Err(_) => Err(status::invalid_field("page_size", "must not be negative")),
    }
}

#[cfg(test)]
mod tests {
    use hostendpoint_api::wire::{ERROR_DOMAIN, metadata, reason};
    use prost::Message as _;
    use tokio::time::Instant;
    use tonic::Code;
    use tonic_types::StatusExt as _;

    use super::*;
    use crate::{
        api::page_token::SECRET_LEN,
        store::{
            memory::{MemoryStore, STORE_UID},
            view::{FUTURE_REVISION_WAIT, LISTING_TTL},
        },
    };

    fn tokens() -> PageTokens {
        PageTokens::new(&[7; SECRET_LEN], STORE_UID)
    }

    /// A store holding `a`, `b`, `c` and `d` at revisions 1 to 4.
    fn mk_store() -> std::sync::Arc<MemoryStore> {
        let store = MemoryStore::new(16);
        for name in ["a", "b", "c", "d"] {
            store.put(name, "n1", "1");
        }
        store
    }

    /// The page of two objects after `token` (the first without one).
    async fn page(
        store: &MemoryStore,
        tokens: &PageTokens,
        token: &str,
    ) -> Result<pb::ListHostEndpointsResponse, Status> {
        let request = pb::ListHostEndpointsRequest {
            page_size: 2,
            page_token: token.into(),
            ..Default::default()
        };
        let response = list(store, tokens, request).await?;
        // Decoded as a client reads it: the objects come encoded.
        Ok(
            pb::ListHostEndpointsResponse::decode(response.encode_to_vec().as_slice())
                .expect("the response decodes"),
        )
    }

    fn names(response: &pb::ListHostEndpointsResponse) -> Vec<String> {
        response
            .host_endpoints
            .iter()
            .filter_map(|hep| hep.metadata.as_ref().map(|m| m.name.clone()))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn later_pages_reflect_the_first_pages_revision_also_once_rebuilt() {
        let store = mk_store();
        let tokens = tokens();
        let first = page(&store, &tokens, "").await.expect("first page");
        assert_eq!(
            (names(&first), first.resource_version),
            (vec!["a".into(), "b".into()], 4)
        );
        store.delete_now("c");
        store.put("bb", "n1", "1");

        let kept = page(&store, &tokens, &first.next_page_token)
            .await
            .expect("kept");
        assert_eq!(
            (names(&kept), kept.resource_version),
            (vec!["c".into(), "d".into()], 4)
        );
        tokio::time::advance(LISTING_TTL).await;
        let rebuilt = page(&store, &tokens, &first.next_page_token)
            .await
            .expect("rebuilt");
        assert_eq!(
            rebuilt, kept,
            "the snapshot rebuilt from the history after its TTL"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_page_token_whose_revision_was_compacted_is_out_of_range_with_error_info() {
        let store = mk_store();
        let tokens = tokens();
        let first = page(&store, &tokens, "").await.expect("first page");
        store.put("a", "n1", "2");
        store.put("a", "n1", "3");
        store.compact(5);
        tokio::time::advance(LISTING_TTL).await;

        let status = page(&store, &tokens, &first.next_page_token)
            .await
            .expect_err("compacted");
        assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
        assert!(
            status
                .message()
                .ends_with("restart the listing without a page token"),
            "{status:?}"
        );
        let info = status.get_details_error_info().expect("an ErrorInfo");
        assert_eq!(
            (info.reason.as_str(), info.domain.as_str()),
            (reason::REVISION_COMPACTED, ERROR_DOMAIN)
        );
        let value = |key| info.metadata.get(key).map(String::as_str);
        assert_eq!(value(metadata::REQUESTED_REVISION), Some("4"));
        assert_eq!(value(metadata::OLDEST_RESUMABLE_REVISION), Some("5"));
        assert_eq!(value(metadata::CURRENT_REVISION), Some("6"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_page_token_from_a_revision_not_reached_is_out_of_range_after_a_wait() {
        let store = mk_store();
        let tokens = tokens();
        let ahead = tokens.encode(PageToken {
            revision: 10,
            after: "b".into(),
            node: String::new(),
            selector: String::new(),
            store_uid: String::new(),
        });
        let start = Instant::now();
        let status = page(&store, &tokens, &ahead)
            .await
            .expect_err("not reached");
        assert!(start.elapsed() >= FUTURE_REVISION_WAIT, "it waited");
        assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
        let info = status.get_details_error_info().expect("an ErrorInfo");
        assert_eq!(info.reason, reason::REVISION_NOT_YET_AVAILABLE);
        assert_eq!(
            info.metadata
                .get(metadata::CURRENT_REVISION)
                .map(String::as_str),
            Some("4")
        );
    }
}
