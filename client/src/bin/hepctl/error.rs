//! The CLI's errors, and calicoctl's wording of what went wrong with one resource.
//!
//! calicoctl reports per-resource failures with libcalico-go's error strings; the ones here
//! are the etcd-mode strings, which is the datastore hostendpointd stands in for.

use hostendpoint_api::validation::FieldViolation;
use hostendpoint_client::Error as ClientError;

/// The result type of the commands.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a command failed. Every variant makes `hepctl` exit 1, as calicoctl does.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The command failed; the message is its whole report, worded as calicoctl words it.
    #[error("{0}")]
    Failed(String),
    /// The server could not be reached, or the address or TLS files cannot work; the
    /// client's message says which, and why.
    #[error(transparent)]
    Connect(ClientError),
    /// Standard output could not be written.
    #[error("cannot write to standard output")]
    Output(#[source] std::io::Error),
}

/// How calicoctl words the failure of a call about the host endpoint `name`.
pub(crate) fn resource_error(name: &str, err: &ClientError) -> String {
    match err {
        ClientError::NotFound { .. } => not_found(name),
        ClientError::AlreadyExists { .. } => {
            format!("resource already exists: HostEndpoint({name})")
        }
        ClientError::Conflict { .. } => update_conflict(name),
        ClientError::Invalid { violations, .. } if !violations.is_empty() => validation(violations),
        other => chain(other),
    }
}

/// libcalico-go's ErrorResourceDoesNotExist; etcd mode has no inner error, hence `<nil>`.
pub(crate) fn not_found(name: &str) -> String {
    format!("resource does not exist: HostEndpoint({name}) with error: <nil>")
}

/// libcalico-go's ErrorResourceUpdateConflict, which prints only the identifier.
pub(crate) fn update_conflict(name: &str) -> String {
    format!("update conflict: HostEndpoint({name})")
}

/// libcalico-go's ErrorValidation. The field names are the JSON paths that hostendpointd's
/// validation reports (`spec.ports[0].name`), not Go's struct field names.
pub(crate) fn validation(violations: &[FieldViolation]) -> String {
    let field = |v: &FieldViolation| format!("{} ({})", v.field, v.description);
    match violations {
        [one] => format!("error with field {}", field(one)),
        many => {
            let mut text = "error with the following fields:\n".to_owned();
            for violation in many {
                text.push_str(&format!("-  {}\n", field(violation)));
            }
            text
        }
    }
}

/// An error followed by its sources, joined by ": " (as `{:#}` joins anyhow's chain).
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(field: &str, description: &str) -> FieldViolation {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }

    #[test]
    fn one_violation_reads_as_calicoctl_single_field_error() {
        assert_eq!(
            validation(&[violation("spec.node", "node must be specified")]),
            "error with field spec.node (node must be specified)"
        );
    }

    #[test]
    fn several_violations_are_listed_one_per_line() {
        let text = validation(&[violation("a", "x"), violation("b", "y")]);
        assert_eq!(
            text,
            "error with the following fields:\n-  a (x)\n-  b (y)\n"
        );
    }

    #[test]
    fn client_errors_map_to_libcalico_strings() {
        let not_found = ClientError::NotFound {
            message: "whatever the server said".into(),
        };
        assert_eq!(
            resource_error("ep", &not_found),
            "resource does not exist: HostEndpoint(ep) with error: <nil>"
        );
        let conflict = ClientError::Conflict {
            expected: 1,
            actual: 2,
            message: String::new(),
        };
        assert_eq!(
            resource_error("ep", &conflict),
            "update conflict: HostEndpoint(ep)"
        );
    }
}
