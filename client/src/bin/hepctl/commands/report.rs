//! What create, apply, replace and delete print: calicoctl's summaries, word for word,
//! including its quirks.

use crate::{
    error::{Error, Result},
    kind::KIND,
    output,
};

/// A command's report: what goes to stdout, and the error (stderr, exit 1) if any.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Report {
    /// Printed first.
    pub(crate) stdout: String,
    /// The failure, printed to stderr by `main`.
    pub(crate) error: Option<String>,
}

impl Report {
    /// Prints the stdout part and returns the failure.
    pub(crate) fn finish(self) -> Result<()> {
        output::print(&self.stdout)?;
        self.error
            .map_or(Ok(()), |message| Err(Error::Failed(message)))
    }
}

/// A command that writes files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verb {
    /// `create`.
    Create,
    /// `apply`.
    Apply,
    /// `replace`.
    Replace,
}

impl Verb {
    fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Apply => "apply",
            Self::Replace => "replace",
        }
    }

    fn past(self) -> &'static str {
        match self {
            Self::Create => "created",
            Self::Apply => "applied",
            Self::Replace => "replaced",
        }
    }
}

/// create and apply, which try every resource: `handled` succeeded out of `total`, and
/// `errors` are the failures.
pub(crate) fn collected(verb: Verb, total: usize, handled: usize, errors: &[String]) -> Report {
    let (name, past) = (verb.name(), verb.past());
    let list = go_slice(errors);
    if handled == 0 {
        let error = if total == 1 {
            format!("failed to {name} '{KIND}' resource: {list}")
        } else {
            format!("failed to {name} any '{KIND}' resources: {list}")
        };
        return failure(String::new(), error);
    }
    if errors.is_empty() {
        return success(format!(
            "Successfully {past} {handled} '{KIND}' resource(s)\n"
        ));
    }
    // calicoctl subtracts the failures from a count that already excludes them, so with as
    // many failures as successes it prints no "Partial success" line.
    let stdout = if handled > errors.len() {
        format!("Partial success: {past} the first {handled} out of {total} '{KIND}' resources:\n")
    } else {
        String::new()
    };
    failure(stdout, format!("hit error: {list}"))
}

/// replace, which stops at its first failure: `handled` were replaced before it.
pub(crate) fn stopped(verb: Verb, total: usize, handled: usize, error: Option<&str>) -> Report {
    let (name, past) = (verb.name(), verb.past());
    match error {
        None => success(format!(
            "Successfully {past} {handled} '{KIND}' resource(s)\n"
        )),
        Some(error) if handled == 0 && total == 1 => failure(
            String::new(),
            format!("failed to {name} '{KIND}' resource: {error}"),
        ),
        Some(error) if handled == 0 => failure(
            String::new(),
            format!("failed to {name} any '{KIND}' resources: {error}"),
        ),
        Some(error) => failure(
            format!(
                "Partial success: {past} the first {handled} out of {total} '{KIND}' resources:\n"
            ),
            format!("hit error: {error}"),
        ),
    }
}

/// delete: the successes, then one line per failure (calicoctl ends that text with a newline
/// and prints it with another, hence the blank line).
pub(crate) fn deleted(handled: usize, errors: &[String]) -> Report {
    let stdout = if handled > 0 {
        format!("Successfully deleted {handled} '{KIND}' resource(s)\n")
    } else {
        String::new()
    };
    if errors.is_empty() {
        return success(stdout);
    }
    let error = errors
        .iter()
        .map(|e| format!("Failed to delete '{KIND}' resource: {e}\n"))
        .collect();
    failure(stdout, error)
}

/// A Go slice of errors as `%v` prints it: `[first second]`.
fn go_slice(errors: &[String]) -> String {
    format!("[{}]", errors.join(" "))
}

fn success(stdout: String) -> Report {
    Report {
        stdout,
        error: None,
    }
}

fn failure(stdout: String, error: String) -> Report {
    Report {
        stdout,
        error: Some(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(items: &[&str]) -> Vec<String> {
        items.iter().map(|e| (*e).to_owned()).collect()
    }

    #[test]
    fn all_created() {
        assert_eq!(
            collected(Verb::Create, 2, 2, &[]),
            success("Successfully created 2 'HostEndpoint' resource(s)\n".into())
        );
    }

    #[test]
    fn none_created() {
        let one = collected(Verb::Create, 1, 0, &errors(&["e1"]));
        assert_eq!(
            one.error.as_deref(),
            Some("failed to create 'HostEndpoint' resource: [e1]")
        );
        let two = collected(Verb::Apply, 2, 0, &errors(&["e1", "e2"]));
        assert_eq!(
            two.error.as_deref(),
            Some("failed to apply any 'HostEndpoint' resources: [e1 e2]")
        );
    }

    #[test]
    fn partial_success_keeps_calicoctl_counting() {
        let report = collected(Verb::Create, 3, 2, &errors(&["e"]));
        assert_eq!(
            report,
            failure(
                "Partial success: created the first 2 out of 3 'HostEndpoint' resources:\n".into(),
                "hit error: [e]".into()
            )
        );
        let even = collected(Verb::Create, 2, 1, &errors(&["e"]));
        assert_eq!(even, failure(String::new(), "hit error: [e]".into()));
    }

    #[test]
    fn replace_reports_its_single_error() {
        assert_eq!(
            stopped(Verb::Replace, 1, 0, Some("e")).error.as_deref(),
            Some("failed to replace 'HostEndpoint' resource: e")
        );
        assert_eq!(
            stopped(Verb::Replace, 3, 1, Some("e")),
            failure(
                "Partial success: replaced the first 1 out of 3 'HostEndpoint' resources:\n".into(),
                "hit error: e".into()
            )
        );
    }

    #[test]
    fn delete_lists_each_failure() {
        assert_eq!(
            deleted(1, &errors(&["e1", "e2"])),
            failure(
                "Successfully deleted 1 'HostEndpoint' resource(s)\n".into(),
                "Failed to delete 'HostEndpoint' resource: e1\nFailed to delete 'HostEndpoint' resource: e2\n".into()
            )
        );
    }
}
