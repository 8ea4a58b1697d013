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
    parse_selector, status,
};
use crate::{
    store::{Error, Snapshot, Store},
    watch::{FUTURE_REVISION_WAIT, status as revision_status},
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

/// What a client does after a page token that can no longer be served.
const RESTART_LISTING: &str = "restart the listing without a page token";

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
        Some(reason) => Err(Status::unavailable(reason)),
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
    await_revision(store, revision).await?;
    let snapshot = Arc::new(rebuild(store, revision).await?);
    view.retain_for_listing(&snapshot);
    Ok(snapshot)
}

/// Waits briefly for a revision this server has not reached: an etcd replica may lag.
async fn await_revision<S: Store>(store: &S, revision: Revision) -> Result<(), Status> {
    let mut current = store.view().watch_revision();
    let reached = tokio::time::timeout(FUTURE_REVISION_WAIT, current.wait_for(|r| *r >= revision));
    match reached.await {
        Ok(Ok(_)) => Ok(()),
        _ => Err(revision_status::future_revision(
            revision,
            store.view().revision(),
            "retry later, or restart the listing without a page token",
        )),
    }
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
        } => revision_status::compacted(revision, oldest, current, RESTART_LISTING),
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
