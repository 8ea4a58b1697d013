//! The resource type: its names on the command line and in documents.

pub(crate) use hostendpoint_api::calico::{API_VERSION, KIND, LIST_KIND};

/// The names calicoctl registers for host endpoints; the command line is lower-cased before
/// the lookup, so any case works.
pub(crate) const ALIASES: [&str; 4] = ["hostendpoint", "hostendpoints", "hep", "heps"];

/// Checks a resource type given on the command line, returning calicoctl's message for any
/// other type.
pub(crate) fn check(kind: &str) -> Result<(), String> {
    if ALIASES.contains(&kind.to_lowercase().as_str()) {
        Ok(())
    } else {
        Err(format!("resource type '{kind}' is not supported"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_match_in_any_case() {
        for kind in ["hostendpoint", "HostEndpoints", "hep", "HEP", "Heps"] {
            assert_eq!(check(kind), Ok(()), "{kind}");
        }
    }

    #[test]
    fn other_kinds_are_not_supported() {
        assert_eq!(
            check("policy"),
            Err("resource type 'policy' is not supported".to_owned())
        );
        assert!(check("host-endpoint").is_err());
    }
}
