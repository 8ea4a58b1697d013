//! The statuses a watch ends with, each with a google.rpc.ErrorInfo a client can act on.

use std::collections::HashMap;

use hostendpoint_api::model::Revision;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::api::DOMAIN;

fn with_info(code: Code, message: String, reason: &str, metadata: &[(&str, String)]) -> Status {
    let metadata: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let details = ErrorDetails::with_error_info(reason, DOMAIN, metadata);
    Status::with_error_details(code, message, details)
}

/// What a watcher does after a revision it cannot resume from.
pub(crate) const RELIST: &str = "relist with resource_version 0";

/// The requested revision is older than the retained history; `remedy` says what to do. The
/// oldest resumable revision is named only when it is after the requested one: a backend's
/// figure that is not would contradict the refusal.
pub(crate) fn compacted(
    requested: Revision,
    oldest: Revision,
    current: Revision,
    remedy: &str,
) -> Status {
    let mut metadata = vec![
        ("requested_revision", requested.to_string()),
        ("current_revision", current.to_string()),
    ];
    let message = if oldest > requested {
        metadata.push(("oldest_resumable_revision", oldest.to_string()));
        format!(
            "resource version {requested} is too old: the oldest resumable revision is \
             {oldest} and the current one {current}; {remedy}"
        )
    } else {
        format!(
            "resource version {requested} is too old: the changes after it are no longer \
             retained (the current revision is {current}); {remedy}"
        )
    };
    with_info(Code::OutOfRange, message, "REVISION_COMPACTED", &metadata)
}

/// The requested revision did not appear in time; `remedy` says what to do.
pub(crate) fn future_revision(requested: Revision, current: Revision, remedy: &str) -> Status {
    with_info(
        Code::OutOfRange,
        format!(
            "resource version {requested} is newer than the store's current revision \
             {current}; {remedy}"
        ),
        "REVISION_NOT_YET_AVAILABLE",
        &[
            ("requested_revision", requested.to_string()),
            ("current_revision", current.to_string()),
        ],
    )
}

/// The client's revisions come from another store.
pub(crate) fn store_mismatch(requested: &str, actual: &str) -> Status {
    with_info(
        Code::FailedPrecondition,
        format!(
            "store_uid '{requested}' does not match this store ('{actual}'): the store was \
             wiped or replaced; relist with resource_version 0"
        ),
        "STORE_UID_MISMATCH",
        &[("store_uid", actual.to_owned())],
    )
}

/// The datastore is unreachable; the final BOOKMARK said where to resume, here later or at
/// another replica.
pub(crate) fn unavailable(reason: &str) -> Status {
    Status::unavailable(format!("{reason}; resume from the last bookmark"))
}

/// The view was rebuilt from a fresh listing (its datastore compacted past it): relist.
pub(crate) fn history_rebuilt() -> Status {
    with_info(
        Code::OutOfRange,
        "the server's history was rebuilt from a fresh listing of its datastore; relist with \
         resource_version 0"
            .into(),
        "REVISION_COMPACTED",
        &[],
    )
}

/// The server is shutting down; the final BOOKMARK said where to resume.
pub(crate) fn shutting_down() -> Status {
    Status::unavailable("hostendpointd is shutting down; resume from the last bookmark")
}
