//! The one place where errors become gRPC statuses.

use hostendpoint_api::validation::Violations;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};
use tracing::error;

use crate::store;

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

/// The ErrorInfo domain of this service's errors.
pub(crate) const DOMAIN: &str = "hostendpoint.v1";

impl From<store::Error> for Status {
    fn from(err: store::Error) -> Self {
        use store::Error::*;
        if let RevisionConflict {
            expected, actual, ..
        } = &err
        {
            // Clients read both versions from here rather than from the message.
            let metadata = [
                ("expected_revision".to_owned(), expected.to_string()),
                ("actual_revision".to_owned(), actual.to_string()),
            ];
            let details = ErrorDetails::with_error_info("REVISION_CONFLICT", DOMAIN, metadata);
            return Status::with_error_details(Code::Aborted, err.to_string(), details);
        }
        if let Compacted {
            requested,
            oldest,
            current,
        } = err
        {
            return crate::watch::status::compacted(
                requested,
                oldest,
                current,
                "start again from revision 0",
            );
        }
        let code = match &err {
            AlreadyExists { .. } => Code::AlreadyExists,
            NotFound { .. } => Code::NotFound,
            RevisionConflict { .. } | UidConflict { .. } => Code::Aborted,
            Unavailable { .. } => Code::Unavailable,
            NoSpace => Code::ResourceExhausted,
            // Answered above.
            Compacted { .. } => Code::OutOfRange,
            Backend(source) => {
                error!(error = %source, "storage backend failed");
                Code::Internal
            }
        };
        Status::new(code, err.to_string())
    }
}
