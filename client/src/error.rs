//! The client's typed errors, decoded from gRPC statuses and their error details, and worded
//! for people: each cause said once, in the message, with no `source()` to repeat it.
//!
//! A failure of the connection itself (refused, timed out, not a gRPC server) is put in
//! words by `diagnose` from the error chains of tonic, hyper and rustls.

use std::time::Duration;

pub use hostendpoint_api::words::io_words;
use hostendpoint_api::{model::Revision, validation::FieldViolation, wire};
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

/// The result type of client calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client's own settings cannot work (an address that is not one, an unknown scheme,
    /// an unreadable TLS file).
    #[error("{0}")]
    Config(String),
    /// No connection could be made (refused, a host name that does not resolve, a TLS
    /// handshake that failed).
    #[error("cannot connect to {server}: {reason}")]
    Unreachable {
        /// The server, as `host:port`.
        server: String,
        /// Why, in words.
        reason: String,
    },
    /// Connecting (TCP and TLS) took longer than [`ConnectOptions::dial_timeout`].
    ///
    /// [`ConnectOptions::dial_timeout`]: crate::ConnectOptions::dial_timeout
    #[error("timed out after {} connecting to {server} (dial timeout)", duration_words(*.after))]
    DialTimeout {
        /// The server, as `host:port`.
        server: String,
        /// The dial timeout.
        after: Duration,
    },
    /// The server did not answer a call, or the opening of a watch, within
    /// [`ConnectOptions::request_timeout`].
    ///
    /// [`ConnectOptions::request_timeout`]: crate::ConnectOptions::request_timeout
    #[error("no answer from {server} within {} (request timeout)", duration_words(*.after))]
    RequestTimeout {
        /// The server, as `host:port`.
        server: String,
        /// The request timeout.
        after: Duration,
    },
    /// Something other than a gRPC server answered, such as an HTTP/1.1 server.
    #[error("{server} does not speak gRPC ({answer} answered)")]
    NotGrpc {
        /// The server, as `host:port`.
        server: String,
        /// What answered instead, such as `HTTP/1.1`.
        answer: String,
    },
    /// A plaintext connection reached a server that speaks TLS.
    #[error("{server} expects TLS: use https://{server}")]
    NeedsTls {
        /// The server, as `host:port`.
        server: String,
    },
    /// A connection broke: reset, closed, or silent past the keepalive timeout.
    #[error("lost the connection to {server}: {reason}")]
    ConnectionLost {
        /// The server, as `host:port`.
        server: String,
        /// Why, in words.
        reason: String,
    },
    /// The caller's identity may not make this call.
    #[error("{message}")]
    PermissionDenied {
        /// The server's message.
        message: String,
    },
    /// The named host endpoint does not exist.
    #[error("{message}")]
    NotFound {
        /// The server's message.
        message: String,
    },
    /// A create named an existing host endpoint.
    #[error("{message}")]
    AlreadyExists {
        /// The server's message.
        message: String,
    },
    /// The resource_version precondition did not hold.
    #[error("{message}")]
    Conflict {
        /// The revision the request expected.
        expected: Revision,
        /// The stored revision.
        actual: Revision,
        /// The server's message.
        message: String,
    },
    /// Another precondition (the uid) did not hold.
    #[error("{message}")]
    PreconditionFailed {
        /// The server's message.
        message: String,
    },
    /// The request broke validation rules.
    #[error("{message}")]
    Invalid {
        /// One entry per bad field.
        violations: Vec<FieldViolation>,
        /// The server's summary.
        message: String,
    },
    /// The revision asked for is no longer (or not yet) served: relist.
    #[error("{message}")]
    OutOfRange {
        /// The server's message.
        message: String,
    },
    /// The store was wiped or replaced since the revision was read: relist.
    #[error("{message}")]
    StoreChanged {
        /// The server's message.
        message: String,
    },
    /// The server says it cannot serve the call now; retrying later may succeed.
    #[error("server unavailable: {message}")]
    Unavailable {
        /// The server's message.
        message: String,
    },
    /// The server sent something this client cannot use.
    #[error("invalid response from the server: {0}")]
    Protocol(String),
    /// Any other status.
    #[error("request failed: {}{}", code.description(), colon(message))]
    Other {
        /// The status code.
        code: Code,
        /// The server's message.
        message: String,
    },
}

/// How a caller goes on after an error. [`Error::recovery`] is the client's one table of
/// transient failures: the watcher follows it, and so does [`Error::is_transient`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// The same call may succeed later: the connection failed or timed out, or the server
    /// could not serve it now (UNAVAILABLE, RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN). Try again
    /// after a backoff; a watch resumes from its position.
    Retry,
    /// A watch's position is gone (OUT_OF_RANGE, or the store was replaced): list again.
    Relist,
    /// The request itself was refused: trying it again cannot help.
    Report,
}

impl Error {
    /// How to go on after this error (see [`Recovery`]).
    pub fn recovery(&self) -> Recovery {
        match self {
            Self::Unreachable { .. }
            | Self::DialTimeout { .. }
            | Self::RequestTimeout { .. }
            | Self::ConnectionLost { .. }
            | Self::Unavailable { .. } => Recovery::Retry,
            // A server out of a resource (a stream limit, a watcher that fell behind) or one
            // that failed inside (including an HTTP/2 stream reset that tonic reports as
            // INTERNAL) may serve the same call later.
            Self::Other {
                code: Code::ResourceExhausted | Code::Internal | Code::Unknown,
                ..
            } => Recovery::Retry,
            Self::OutOfRange { .. } | Self::StoreChanged { .. } => Recovery::Relist,
            Self::Config(_)
            | Self::NotGrpc { .. }
            | Self::NeedsTls { .. }
            | Self::PermissionDenied { .. }
            | Self::NotFound { .. }
            | Self::AlreadyExists { .. }
            | Self::Conflict { .. }
            | Self::PreconditionFailed { .. }
            | Self::Invalid { .. }
            | Self::Protocol(_)
            | Self::Other { .. } => Recovery::Report,
        }
    }

    /// Whether the same call may succeed later ([`Recovery::Retry`]).
    pub fn is_transient(&self) -> bool {
        self.recovery() == Recovery::Retry
    }
}

/// A duration as a person writes it (`10s`, `1m 30s`, `1s 500ms`), to the millisecond.
pub fn duration_words(duration: Duration) -> String {
    let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    humantime::format_duration(Duration::from_millis(millis)).to_string()
}

/// `: message`, or nothing for an empty message.
fn colon(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

impl From<Status> for Error {
    fn from(status: Status) -> Self {
        let message = status.message().to_owned();
        match status.code() {
            Code::NotFound => Self::NotFound { message },
            Code::AlreadyExists => Self::AlreadyExists { message },
            Code::Aborted => conflict(&status).unwrap_or(Self::PreconditionFailed { message }),
            Code::InvalidArgument => Self::Invalid {
                violations: violations(&status),
                message,
            },
            Code::OutOfRange => Self::OutOfRange { message },
            Code::FailedPrecondition => Self::StoreChanged { message },
            Code::PermissionDenied => Self::PermissionDenied { message },
            Code::Unavailable | Code::Cancelled | Code::DeadlineExceeded => {
                Self::Unavailable { message }
            }
            code => Self::Other { code, message },
        }
    }
}

fn conflict(status: &Status) -> Option<Error> {
    let info = status.get_details_error_info()?;
    if info.domain != wire::ERROR_DOMAIN || info.reason != wire::reason::REVISION_CONFLICT {
        return None;
    }
    let revision = |key: &str| info.metadata.get(key).and_then(|v| v.parse().ok());
    Some(Error::Conflict {
        expected: revision(wire::metadata::EXPECTED_REVISION)?,
        actual: revision(wire::metadata::ACTUAL_REVISION)?,
        message: status.message().to_owned(),
    })
}

fn violations(status: &Status) -> Vec<FieldViolation> {
    status
        .get_details_bad_request()
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|v| FieldViolation {
                    field: v.field,
                    description: v.description,
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_recovery(code: Code) -> Recovery {
        Error::from(Status::new(code, "m")).recovery()
    }

    #[test]
    fn the_transient_table_covers_every_status_code() {
        use Recovery::{Relist, Report, Retry};
        let table = [
            (Code::Ok, Report),
            (Code::Cancelled, Retry),
            (Code::Unknown, Retry),
            (Code::InvalidArgument, Report),
            (Code::DeadlineExceeded, Retry),
            (Code::NotFound, Report),
            (Code::AlreadyExists, Report),
            (Code::PermissionDenied, Report),
            (Code::ResourceExhausted, Retry),
            (Code::FailedPrecondition, Relist),
            (Code::Aborted, Report),
            (Code::OutOfRange, Relist),
            (Code::Unimplemented, Report),
            (Code::Internal, Retry),
            (Code::Unavailable, Retry),
            (Code::DataLoss, Report),
            (Code::Unauthenticated, Report),
        ];
        for (code, recovery) in table {
            assert_eq!(status_recovery(code), recovery, "{code:?}");
        }
    }

    #[test]
    fn connection_failures_are_transient_and_is_transient_agrees_with_the_table() {
        let server = || "h:1".to_owned();
        let errors = [
            Error::Unreachable {
                server: server(),
                reason: "refused".into(),
            },
            Error::DialTimeout {
                server: server(),
                after: Duration::from_secs(1),
            },
            Error::RequestTimeout {
                server: server(),
                after: Duration::from_secs(1),
            },
            Error::ConnectionLost {
                server: server(),
                reason: "reset".into(),
            },
            Error::Unavailable {
                message: "later".into(),
            },
            Error::NeedsTls { server: server() },
            Error::Config("bad".into()),
        ];
        for error in errors {
            let transient = matches!(
                error,
                Error::Unreachable { .. }
                    | Error::DialTimeout { .. }
                    | Error::RequestTimeout { .. }
                    | Error::ConnectionLost { .. }
                    | Error::Unavailable { .. }
            );
            assert_eq!(error.is_transient(), transient, "{error}");
            assert_eq!(error.recovery() == Recovery::Retry, transient, "{error}");
        }
    }
}
