//! Every gRPC status the server sends is built here: its code, its message, and the
//! `google.rpc.ErrorInfo` or `BadRequest` a client acts on (with the strings of
//! [`wire`](hostendpoint_api::wire)). Handlers, watches and the authorizer return domain
//! errors, or call these functions; no other module makes a `tonic::Status`.
//!
//! Nothing about the server's disk or internals reaches a client: such causes are logged here
//! and the client gets a plain reason.

use hostendpoint_api::{
    model::Revision,
    validation::Violations,
    wire::{ERROR_DOMAIN, metadata, reason},
};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt as _};
use tracing::error;

use crate::{store, watch};

/// What a client does after a revision the server cannot serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Remedy {
    /// A watch, or a write's history: start again with a snapshot.
    Relist,
    /// A page token whose listing can no longer be served.
    RestartListing,
    /// A page token from a revision this server has not reached (an etcd replica that lags).
    RetryOrRestartListing,
}

impl Remedy {
    fn text(self) -> &'static str {
        match self {
            Self::Relist => "relist with resource_version 0",
            Self::RestartListing => "restart the listing without a page token",
            Self::RetryOrRestartListing => {
                "retry later, or restart the listing without a page token"
            }
        }
    }
}

/// INVALID_ARGUMENT with a google.rpc.BadRequest holding one violation per bad field.
pub(crate) fn invalid(violations: &Violations) -> Status {
    let details = ErrorDetails::with_bad_request(
        violations
            .0
            .iter()
            .map(|v| FieldViolation::new(&v.field, &v.description))
            .collect::<Vec<_>>(),
    );
    Status::with_error_details(Code::InvalidArgument, violations.to_string(), details)
}

/// INVALID_ARGUMENT for a single bad request field.
pub(crate) fn invalid_field(field: &str, description: &str) -> Status {
    let details = ErrorDetails::with_bad_request_violation(field, description);
    Status::with_error_details(
        Code::InvalidArgument,
        format!("invalid request: {field}: {description}"),
        details,
    )
}

/// The revision asked for is older than the retained history. The oldest resumable revision
/// is named only when it is after the requested one: a backend's figure that is not would
/// contradict the refusal.
pub(crate) fn compacted(
    requested: Revision,
    oldest: Revision,
    current: Revision,
    remedy: Remedy,
) -> Status {
    let remedy = remedy.text();
    let mut info = vec![
        (metadata::REQUESTED_REVISION, requested.to_string()),
        (metadata::CURRENT_REVISION, current.to_string()),
    ];
    let message = if oldest > requested {
        info.push((metadata::OLDEST_RESUMABLE_REVISION, oldest.to_string()));
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
    with_info(Code::OutOfRange, message, reason::REVISION_COMPACTED, &info)
}

/// The revision asked for did not appear in time.
pub(crate) fn future_revision(requested: Revision, current: Revision, remedy: Remedy) -> Status {
    with_info(
        Code::OutOfRange,
        format!(
            "resource version {requested} is newer than the store's current revision \
             {current}; {}",
            remedy.text()
        ),
        reason::REVISION_NOT_YET_AVAILABLE,
        &[
            (metadata::REQUESTED_REVISION, requested.to_string()),
            (metadata::CURRENT_REVISION, current.to_string()),
        ],
    )
}

/// The store cannot vouch for what it would serve (its datastore is unreachable), or cannot
/// take writes; `reason` says why, in words.
pub(crate) fn unavailable(reason: &str) -> Status {
    Status::unavailable(reason)
}

/// A call that came before the store was open.
pub(crate) fn not_ready(waiting_for: &str) -> Status {
    Status::unavailable(format!(
        "the server is not ready: it is waiting for {waiting_for}"
    ))
}

/// A request message larger than the server takes; `detail` is tonic's figures.
pub(crate) fn request_too_large(detail: &str) -> Status {
    Status::resource_exhausted(format!(
        "the request is larger than the server takes{detail}"
    ))
}

/// The authorization policy does not allow the call; `message` says who and why.
pub(crate) fn permission_denied(message: String) -> Status {
    Status::permission_denied(message)
}

/// The caller's identity has all the watches it may have open.
pub(crate) fn too_many_watches(message: String) -> Status {
    Status::resource_exhausted(message)
}

/// The task that made a write and its audit record failed: what it did is not known.
pub(crate) fn write_task_failed(err: &tokio::task::JoinError) -> Status {
    error!(error = %err, "a write's task failed");
    Status::internal(
        "the server failed while making the write, which may or may not be stored; read the \
         object to find out",
    )
}

fn with_info(code: Code, message: String, reason: &str, info: &[(&str, String)]) -> Status {
    let info = info
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.clone()))
        .collect::<std::collections::HashMap<_, _>>();
    let details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, info);
    Status::with_error_details(code, message, details)
}

impl From<store::Error> for Status {
    fn from(err: store::Error) -> Self {
        use store::Error::*;
        match err {
            RevisionConflict {
                expected, actual, ..
            } => with_info(
                Code::Aborted,
                err.to_string(),
                reason::REVISION_CONFLICT,
                &[
                    (metadata::EXPECTED_REVISION, expected.to_string()),
                    (metadata::ACTUAL_REVISION, actual.to_string()),
                ],
            ),
            Compacted {
                requested,
                oldest,
                current,
            } => compacted(requested, oldest, current, Remedy::Relist),
            AlreadyExists { .. } => Status::already_exists(err.to_string()),
            NotFound { .. } => Status::not_found(err.to_string()),
            UidConflict { .. } => Status::aborted(err.to_string()),
            Unavailable { .. } => Status::unavailable(err.to_string()),
            NoSpace => Status::resource_exhausted(err.to_string()),
            Backend { .. } => {
                error!(error = %err, "the store failed");
                Status::internal("the server's store failed; the server's log has the detail")
            }
        }
    }
}

impl From<watch::Error> for Status {
    fn from(err: watch::Error) -> Self {
        use watch::Error::*;
        match err {
            Unavailable { reason } => unavailable(&reason),
            Interrupted { reason } => {
                Status::unavailable(format!("{reason}; resume from the last bookmark"))
            }
            StoreMismatch { requested, actual } => with_info(
                Code::FailedPrecondition,
                format!(
                    "store_uid '{requested}' does not match this store ('{actual}'): the store \
                     was wiped or replaced; {}",
                    Remedy::Relist.text()
                ),
                reason::STORE_UID_MISMATCH,
                &[(metadata::STORE_UID, actual)],
            ),
            FutureRevision { requested, current } => {
                future_revision(requested, current, Remedy::Relist)
            }
            History(err) => err.into(),
            HistoryRebuilt => with_info(
                Code::OutOfRange,
                format!(
                    "the server's history was rebuilt from a fresh listing of its datastore; {}",
                    Remedy::Relist.text()
                ),
                reason::REVISION_COMPACTED,
                &[],
            ),
            ShuttingDown { synced: true } => {
                Status::unavailable("hostendpointd is shutting down; resume from the last bookmark")
            }
            ShuttingDown { synced: false } => Status::unavailable(format!(
                "hostendpointd is shutting down before the snapshot was complete; {}",
                Remedy::Relist.text()
            )),
        }
    }
}
