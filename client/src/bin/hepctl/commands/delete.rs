//! `delete KIND NAME...` and `delete -f FILE`.

use hostendpoint_api::model::Revision;
use hostendpoint_client::{Error as ClientError, Preconditions};

use super::{load, namespace_error, report};
use crate::{
    args::DeleteArgs,
    connect::{Server, connect},
    error::{self, Error, Result},
    kind,
};

/// A host endpoint to delete, and the namespace and resourceVersion its document gave.
struct Target {
    name: String,
    namespace: Option<String>,
    resource_version: Option<String>,
}

/// Deletes each host endpoint, collecting the failures.
pub(crate) async fn run(server: &Server, args: DeleteArgs) -> Result<()> {
    let DeleteArgs {
        kind,
        names,
        files,
        skip_not_exists,
        namespace,
    } = args;
    let from_files = files.filename.is_some();
    let targets = match (kind, from_files) {
        (Some(kind), _) => {
            kind::check(&kind).map_err(Error::Failed)?;
            // calicoctl deletes the resource named "" then, which it refuses so.
            if names.is_empty() || names.iter().any(String::is_empty) {
                return Err(Error::Failed("resource name may not be empty".into()));
            }
            names
                .into_iter()
                .map(|name| Target {
                    name,
                    namespace: None,
                    resource_version: None,
                })
                .collect()
        }
        (None, true) => load(&files)?
            .into_iter()
            .map(|m| Target {
                name: m.name,
                namespace: m.namespace,
                resource_version: m.resource_version,
            })
            .collect(),
        (None, false) => Vec::new(),
    };
    if targets.is_empty() {
        // Only --skip-empty leaves -f with nothing.
        return report::nothing().finish();
    }
    let client = connect(server).await?;
    let (mut handled, mut errors) = (0, Vec::new());
    for target in &targets {
        if let Some(failure) = namespace_error(target.namespace.as_deref(), &namespace, false) {
            errors.push(failure);
            continue;
        }
        let Some(preconditions) = preconditions(target) else {
            // A version that is no revision cannot be the stored one.
            errors.push(error::update_conflict(&target.name));
            continue;
        };
        match client.delete(&target.name, preconditions).await {
            Ok(_) => handled += 1,
            Err(ClientError::NotFound { .. }) if skip_not_exists => handled += 1,
            Err(err) => errors.push(error::resource_error(&target.name, &err)),
        }
    }
    report::deleted(handled, &errors).finish()
}

/// The document's resourceVersion, passed through as calicoctl passes it: a stale one is a
/// conflict. `None` when it is not a revision at all.
fn preconditions(target: &Target) -> Option<Preconditions> {
    let resource_version = match &target.resource_version {
        None => 0,
        Some(text) => text.parse::<Revision>().ok().filter(|rv| *rv > 0)?,
    };
    Some(Preconditions {
        resource_version,
        ..Preconditions::default()
    })
}
