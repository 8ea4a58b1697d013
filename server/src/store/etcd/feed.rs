//! Keeping the view in step with etcd: the initial listing, the one etcd watch per replica
//! that feeds the view in revision order, reconnection, and history reads for watch catch-up.

use std::{
    collections::HashMap,
    pin::pin,
    sync::{Arc, Weak},
    time::{Duration, Instant},
};

use futures::future::{Fuse, FusedFuture as _, FutureExt as _};
use hostendpoint_api::model::Revision;
use tokio::{sync::mpsc, time::MissedTickBehavior};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};
use tracing::{info, warn};

use super::{
    BEHIND_RELIST, Shared, codec,
    invalid::InvalidValues,
    lag::{Behind, Lag},
    members::{self, Members, request},
    proto::{
        etcdserverpb::{
            RangeRequest, WatchCreateRequest, WatchProgressRequest, WatchRequest, WatchResponse,
            watch_request,
        },
        mvccpb::{Event as EtcdEvent, KeyValue, event::EventType},
        prefix_end,
    },
    revision_of,
};
use crate::store::{Change, Error, Object, Result, Snapshot};

/// Objects per page of a listing. etcd 3.4 finds a page's keys by collecting every key from
/// the page's start to the end of the prefix (its index has no limit), so a listing costs it
/// pages × objects: pages of 1 000 took 97 s for 1 000 000 objects, pages of 10 000 a tenth.
const LIST_PAGE: i64 = 10_000;
/// A page of large values that exceeds the client's message limit is asked for again in
/// halves, down to one value.
const MIN_LIST_PAGE: i64 = 1;
/// How long a history read waits for more events before it takes what it has.
const QUIET: Duration = Duration::from_secs(1);
/// The longest pause between reconnection attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// Every valid object under a prefix at one revision.
pub(super) struct Listing {
    pub(super) snapshot: Snapshot,
    pub(super) store_uid: String,
}

/// Lists the prefix page by page, all pages at the revision of the first.
pub(super) async fn list_all(
    members: &Members,
    prefix: &str,
    invalid: &InvalidValues,
) -> Result<Listing, Status> {
    let end = prefix_end(prefix.as_bytes());
    let mut from = prefix.as_bytes().to_vec();
    let mut at = 0i64;
    let mut objects = Vec::new();
    let mut limit = LIST_PAGE;
    loop {
        let range = RangeRequest {
            key: from.clone(),
            range_end: end.clone(),
            limit,
            revision: at,
            ..RangeRequest::default()
        };
        let page = members
            .kv(|mut kv| {
                let range = range.clone();
                async move { kv.range(request(range)).await }
            })
            .await;
        let page = match page {
            // Larger than the client takes: the same page again, in halves.
            Err(status) if members::too_large(&status) && limit > MIN_LIST_PAGE => {
                limit = (limit / 2).max(MIN_LIST_PAGE);
                continue;
            }
            page => page?,
        };
        let header = page.header.unwrap_or_default();
        if at == 0 {
            at = header.revision;
        }
        for kv in &page.kvs {
            objects.extend(decode(prefix, kv, invalid));
        }
        match page.kvs.last() {
            Some(last) if page.more => {
                from = last.key.clone();
                from.push(0);
            }
            _ => {
                let revision = Revision::try_from(at).unwrap_or(0);
                return Ok(Listing {
                    snapshot: Snapshot::new(revision, objects),
                    store_uid: format!("{:016x}", header.cluster_id),
                });
            }
        }
    }
}

/// A valid object from a key-value, or `None` (logged and counted once) when someone stored a
/// value that is not one.
fn decode(
    prefix: &str,
    kv: &KeyValue,
    invalid: &InvalidValues,
) -> Option<hostendpoint_api::model::HostEndpoint> {
    let name = codec::name_of(prefix, &kv.key)?;
    let revision = Revision::try_from(kv.mod_revision).unwrap_or(0);
    match codec::decode(name, &kv.value, revision) {
        Ok(hep) => Some(hep),
        Err(err) => {
            if invalid.first_sighting(&kv.key, kv.mod_revision) {
                warn!(key = %String::from_utf8_lossy(&kv.key), revision, error = %err, "skipping an invalid value");
            }
            None
        }
    }
}

/// Feeds the view from etcd until the store is dropped, reconnecting (and failing over to
/// other members) when etcd is lost, and rebuilding the view when etcd compacted past it.
pub(super) async fn run(shared: Weak<Shared>) {
    let mut failures = 0u32;
    loop {
        let Some(store) = shared.upgrade() else {
            return;
        };
        let from = store.view.revision();
        let outcome = follow(&store, from, failures > 0).await;
        // Whatever ended it, the watch is opened again.
        store.metrics.watch_restarts.inc();
        let reason = match outcome {
            Outcome::Compacted => {
                info!(
                    from,
                    "etcd compacted past this replica's revision; relisting"
                );
                Some("compacted")
            }
            Outcome::Behind(behind) => {
                warn!(
                    from,
                    revisions = behind.revisions(),
                    "{behind}; {BEHIND_RELIST}"
                );
                Some(behind.label())
            }
            Outcome::Lost(status) => {
                lost(&store, &status);
                None
            }
        };
        if let Some(reason) = reason {
            match list_all(&store.members, &store.prefix, &store.invalid).await {
                Ok(listing) => {
                    store.metrics.relisted(reason);
                    store.view.reset(listing.snapshot);
                    failures = 0;
                    continue;
                }
                Err(status) => lost(&store, &status),
            }
        }
        failures = failures.saturating_add(1);
        drop(store);
        tokio::time::sleep(retry_delay(failures)).await;
    }
}

/// The pause before the next attempt after `failures` in a row: from 200 ms, doubling, at
/// most [`MAX_RETRY_DELAY`].
pub(super) fn retry_delay(failures: u32) -> Duration {
    Duration::from_millis(100 * 2u64.saturating_pow(failures.min(6))).min(MAX_RETRY_DELAY)
}

fn lost(store: &Shared, status: &Status) {
    let reason = format!(
        "etcd is unreachable at {}: {}",
        store.members.endpoints(),
        members::describe(status)
    );
    warn!(%reason, "watch of etcd lost; reconnecting");
    store.view.set_unavailable(Some(reason));
}

enum Outcome {
    Compacted,
    Behind(Behind),
    Lost(Status),
}

/// How often a following watch asks etcd how far it is, and for a progress notification.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Watches the prefix after `from` and applies every change to the view, until the watch
/// fails or falls too far behind.
async fn follow(store: &Shared, from: Revision, rotate: bool) -> Outcome {
    let (requests, mut responses) = match open_watch(store, from, false, rotate).await {
        Ok(watch) => watch,
        Err(status) => return Outcome::Lost(status),
    };
    let mut lag = Lag::new(from, Instant::now());
    let mut probes = tokio::time::interval(PROBE_INTERVAL);
    probes.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut probe = pin!(Fuse::terminated());
    loop {
        tokio::select! {
            message = responses.message() => {
                let response = match message {
                    Ok(Some(response)) => response,
                    Ok(None) => return Outcome::Lost(Status::unavailable("etcd ended the watch")),
                    // The client refused a message for its size: a batch of etcd's backlog.
                    Err(status) if members::too_large(&status) => {
                        let revisions = lag.revisions();
                        return Outcome::Behind(Behind::Oversized { revisions });
                    }
                    Err(status) => return Outcome::Lost(status),
                };
                if let Some(outcome) = apply(store, from, response, &mut lag) {
                    return outcome;
                }
            }
            _ = probes.tick(), if probe.is_terminated() => {
                // A synced watcher answers with etcd's revision; one behind does not.
                let _ = requests.try_send(progress_request());
                probe.set(current_revision(store).fuse());
            }
            revision = &mut probe => {
                if let Some(revision) = revision {
                    lag.etcd_at(revision);
                }
                store.metrics.watch_lag.set(i64::try_from(lag.revisions()).unwrap_or(i64::MAX));
            }
        }
        if let Some(behind) = lag.behind(store.lag_limits, Instant::now()) {
            return Outcome::Behind(behind);
        }
    }
}

/// Applies one watch response to the view and to `lag`; the outcome when it ends the watch.
fn apply(
    store: &Shared,
    from: Revision,
    response: WatchResponse,
    lag: &mut Lag,
) -> Option<Outcome> {
    if response.compact_revision > 0 {
        return Some(Outcome::Compacted);
    }
    if response.canceled {
        return Some(Outcome::Lost(Status::unavailable(format!(
            "etcd cancelled the watch: {}",
            response.cancel_reason
        ))));
    }
    let now = Instant::now();
    let at = revision_of(response.header.as_ref());
    lag.etcd_at(at);
    if response.created {
        store.view.set_unavailable(None);
        info!(after = from, etcd_revision = at, "following etcd");
    } else if response.events.is_empty() {
        // A progress notification: everything up to etcd's revision was delivered.
        lag.reached(at, now);
    }
    let changes = changes_of(store, &response.events);
    if let Some(last) = response.events.last().and_then(|e| e.kv.as_ref()) {
        lag.reached(Revision::try_from(last.mod_revision).unwrap_or(0), now);
    }
    store.view.publish(&changes);
    None
}

/// The request for a progress notification.
fn progress_request() -> WatchRequest {
    WatchRequest {
        request_union: Some(watch_request::RequestUnion::ProgressRequest(
            WatchProgressRequest {},
        )),
    }
}

/// etcd's current revision, from the header of a read of one key that is never an object;
/// `None` when etcd does not answer in time (the watch notices a lost etcd).
async fn current_revision(store: &Shared) -> Option<Revision> {
    let range = RangeRequest {
        key: store.prefix.as_bytes().to_vec(),
        serializable: true,
        keys_only: true,
        ..RangeRequest::default()
    };
    let response = tokio::time::timeout(PROBE_INTERVAL, store.range(range))
        .await
        .ok()?
        .ok()?;
    Some(revision_of(response.header.as_ref()))
}

/// Opens an etcd watch on the prefix from `after + 1`.
async fn open_watch(
    store: &Shared,
    after: Revision,
    prev_kv: bool,
    rotate: bool,
) -> Result<(mpsc::Sender<WatchRequest>, Streaming<WatchResponse>), Status> {
    let create = WatchCreateRequest {
        key: store.prefix.as_bytes().to_vec(),
        range_end: prefix_end(store.prefix.as_bytes()),
        start_revision: i64::try_from(after + 1).unwrap_or(i64::MAX),
        prev_kv,
        ..WatchCreateRequest::default()
    };
    let first = WatchRequest {
        request_union: Some(watch_request::RequestUnion::CreateRequest(create)),
    };
    // The request stream stays open for as long as the caller keeps `requests`: closing it
    // cancels the watch.
    let (requests, receiver) = mpsc::channel(1);
    requests
        .send(first)
        .await
        .map_err(|_| Status::internal("the watch request channel closed"))?;
    let mut client = store.members.watch_client(rotate);
    let response = client.watch(ReceiverStream::new(receiver)).await?;
    Ok((requests, response.into_inner()))
}

/// The changes a batch of etcd events makes to the view's objects, in order. The previous
/// state of each object is the view's (so a skipped invalid value is never a previous state),
/// or the batch's own earlier change of it. This replica's own writes are taken as written.
fn changes_of(store: &Shared, events: &[EtcdEvent]) -> Vec<Arc<Change>> {
    let snapshot = store.view.snapshot();
    // The batch's changes so far, by name: almost every batch is one event.
    let mut changed: HashMap<&str, Option<Arc<Object>>> = HashMap::new();
    let mut last = snapshot.revision();
    let mut changes = Vec::with_capacity(events.len());
    let mut warned_at = 0;
    for event in events {
        let Some(kv) = &event.kv else { continue };
        let Some(name) = codec::name_of(&store.prefix, &kv.key) else {
            continue;
        };
        let revision = Revision::try_from(kv.mod_revision).unwrap_or(0);
        let prev = match changed.get(name) {
            Some(state) => state.clone(),
            None => snapshot.get(name).cloned(),
        };
        let next = match EventType::try_from(event.r#type) {
            Ok(EventType::Put) => store
                .own_writes
                .take(name, revision)
                .or_else(|| decode(&store.prefix, kv, &store.invalid).map(Object::new)),
            _ => None,
        };
        if prev.is_none() && next.is_none() {
            continue;
        }
        // Once per revision: a transaction of many keys would otherwise log a line per key.
        if revision <= last && warned_at < revision {
            warned_at = revision;
            warn!(
                revision,
                name, "several changes in one etcd revision; watchers may miss all but one"
            );
        }
        last = last.max(revision);
        changed.insert(name, next.clone());
        changes.push(Arc::new(Change::new(revision, prev, next)));
    }
    changes
}

/// Up to about `limit` changes after `after`, from etcd's history (a short watch with previous
/// values), ending at the view's revision at the time of the call.
pub(super) async fn history(
    store: &Shared,
    after: Revision,
    limit: usize,
) -> Result<Vec<Arc<Change>>> {
    let until = store.view.revision();
    if after >= until {
        return Ok(Vec::new());
    }
    let unavailable = |status: Status| Error::Unavailable {
        reason: format!("etcd is unreachable: {}", members::describe(&status)),
    };
    let (_requests, mut responses) = open_watch(store, after, true, false)
        .await
        .map_err(unavailable)?;
    let mut changes = Vec::new();
    let mut last = after;
    while last < until && changes.len() < limit {
        // `until` is normally the revision of a change this replica applied, so its event
        // comes. Only when it is a listing's revision, which no event may carry, does the read
        // end on a quiet watch. (etcd 3.4's progress notifications are not used: they can
        // overtake the events of a watch that is still catching up.)
        let Ok(message) = tokio::time::timeout(QUIET, responses.message()).await else {
            break;
        };
        let Some(response) = message.map_err(unavailable)? else {
            return Err(unavailable(Status::unavailable("etcd ended the watch")));
        };
        if response.compact_revision > 0 {
            return Err(Error::Compacted {
                requested: after,
                oldest: Revision::try_from(response.compact_revision - 1).unwrap_or(0),
                current: until,
            });
        }
        for event in &response.events {
            let Some(kv) = &event.kv else { continue };
            last = Revision::try_from(kv.mod_revision).unwrap_or(last);
            if last > until {
                break;
            }
            let prev = event
                .prev_kv
                .as_ref()
                .and_then(|p| decode(&store.prefix, p, &store.invalid));
            let next = match EventType::try_from(event.r#type) {
                Ok(EventType::Put) => decode(&store.prefix, kv, &store.invalid),
                _ => None,
            };
            if prev.is_some() || next.is_some() {
                changes.push(Arc::new(Change::new(
                    last,
                    prev.map(Object::new),
                    next.map(Object::new),
                )));
            }
        }
    }
    Ok(changes)
}
