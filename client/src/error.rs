//! The client's typed errors, decoded from gRPC statuses and their error details.

use hostendpoint_api::{model::Revision, validation::FieldViolation};
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

/// The result type of client calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The endpoint could not be reached or parsed.
    #[error("cannot connect to {endpoint}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// Why.
        #[source]
        source: tonic::transport::Error,
    },
    /// The client's own settings cannot work (an unknown scheme, an unreadable TLS file).
    #[error("{0}")]
    Config(String),
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
    /// The server is unreachable or unavailable; retrying later may succeed.
    #[error("server unavailable: {0}")]
    Unavailable(#[source] Status),
    /// The server sent something this client cannot use.
    #[error("invalid response from the server: {0}")]
    Protocol(String),
    /// Any other status.
    #[error("request failed: {0}")]
    Other(#[source] Status),
}

impl Error {
    /// Whether the failure is of the connection rather than of the request, so that the same
    /// call may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Connect { .. })
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
            // Transport failures surface as these codes in tonic.
            Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded => {
                Self::Unavailable(status)
            }
            _ => Self::Other(status),
        }
    }
}

fn conflict(status: &Status) -> Option<Error> {
    let info = status.get_details_error_info()?;
    if info.reason != "REVISION_CONFLICT" {
        return None;
    }
    let revision = |key: &str| info.metadata.get(key).and_then(|v| v.parse().ok());
    Some(Error::Conflict {
        expected: revision("expected_revision")?,
        actual: revision("actual_revision")?,
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
