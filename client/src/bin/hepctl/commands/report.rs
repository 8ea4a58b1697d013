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
    /// `validate`.
    Validate,
}

impl Verb {
    fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Apply => "apply",
            Self::Replace => "replace",
            Self::Validate => "validate",
        }
    }

    /// How the failures of a partial success are introduced: apply and validate say
    /// "error(s)".
    fn hit_error(self) -> &'static str {
        match self {
            Self::Apply | Self::Validate => "hit error(s)",
            Self::Create | Self::Replace => "hit error",
        }
    }

    fn past(self) -> &'static str {
        match self {
            Self::Create => "created",
            Self::Apply => "applied",
            Self::Replace => "replaced",
            Self::Validate => "validated",
        }
    }
}

/// create and apply: `handled` succeeded out of `total`, and `errors` are the failures.
pub(crate) fn collected(verb: Verb, total: usize, handled: usize, errors: &[String]) -> Report {
    let (name, past) = (verb.name(), verb.past());
    let list = go_slice(errors);
    if handled == 0 {
        return failure(String::new(), failed(name, total, &list));
    }
    if errors.is_empty() {
        return success(succeeded(past, handled));
    }
    // calicoctl subtracts the failures from a count that already excludes them, so with as
    // many failures as successes it prints no "Partial success" line.
    let stdout = if handled > errors.len() {
        partial(past, handled, total)
    } else {
        String::new()
    };
    failure(stdout, format!("{}: {list}", verb.hit_error()))
}

/// replace: `handled` documents counted out of `total` (see `write::replace` for what
/// counts), and the last failure.
pub(crate) fn replaced(total: usize, handled: usize, error: Option<&str>) -> Report {
    let (name, past) = (Verb::Replace.name(), Verb::Replace.past());
    match error {
        None => success(succeeded(past, handled)),
        Some(error) if handled == 0 => failure(String::new(), failed(name, total, error)),
        Some(error) => failure(partial(past, handled, total), format!("hit error: {error}")),
    }
}

/// Nothing was done: one resource, or any.
fn failed(name: &str, total: usize, error: &str) -> String {
    if total == 1 {
        format!("failed to {name} '{KIND}' resource: {error}")
    } else {
        format!("failed to {name} any '{KIND}' resources: {error}")
    }
}

fn succeeded(past: &str, handled: usize) -> String {
    format!("Successfully {past} {handled} '{KIND}' resource(s)\n")
}

fn partial(past: &str, handled: usize, total: usize) -> String {
    format!("Partial success: {past} the first {handled} out of {total} '{KIND}' resources:\n")
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

/// Nothing to do: `--skip-empty` found no documents (calicoctl prints this and succeeds).
pub(crate) fn nothing() -> Report {
    success("No resources specified\n".into())
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
    fn apply_introduces_its_failures_as_errors() {
        let report = collected(Verb::Apply, 3, 2, &errors(&["e"]));
        assert_eq!(report.error.as_deref(), Some("hit error(s): [e]"));
    }

    #[test]
    fn replace_reports_its_last_error_with_calicoctl_counting() {
        assert_eq!(
            replaced(1, 0, Some("e")).error.as_deref(),
            Some("failed to replace 'HostEndpoint' resource: e")
        );
        assert_eq!(
            replaced(3, 3, Some("e")),
            failure(
                "Partial success: replaced the first 3 out of 3 'HostEndpoint' resources:\n".into(),
                "hit error: e".into()
            )
        );
        assert_eq!(
            replaced(2, 2, None),
            success("Successfully replaced 2 'HostEndpoint' resource(s)\n".into())
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
