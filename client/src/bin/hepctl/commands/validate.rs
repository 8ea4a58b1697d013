//! `validate -f FILE|DIR`: the documents checked offline, by the API crate's validation (the
//! server's own), with calicoctl's report; no server is asked.

use super::{
    load, namespace_error,
    report::{self, Verb},
    write::validated,
};
use crate::{args::ValidateArgs, error::Result};

/// Checks every document, collecting the failures.
pub(crate) fn run(args: ValidateArgs) -> Result<()> {
    let ValidateArgs { files } = args;
    let manifests = load(&files)?;
    if manifests.is_empty() {
        return report::nothing().finish();
    }
    let no_flags = Default::default();
    let errors: Vec<String> = manifests
        .iter()
        .filter_map(|manifest| {
            let refused = namespace_error(manifest.namespace.as_deref(), &no_flags, false);
            refused.or_else(|| validated(manifest).err())
        })
        .collect();
    let handled = manifests.len() - errors.len();
    report::collected(Verb::Validate, manifests.len(), handled, &errors).finish()
}
