//! `label KIND NAME key=value [--overwrite]` and `label KIND NAME key --remove`, with
//! calicoctl's messages (which name the type as the user wrote it).

use hostendpoint_client::Error as ClientError;

use super::namespace_error;
use crate::{
    args::LabelArgs,
    connect::{Server, connect},
    error::{self, Error, Result},
    kind, output,
};

/// Reads the host endpoint, changes the label, and updates it with the version read as the
/// precondition, so that a concurrent change is not overwritten.
pub(crate) async fn run(server: &Server, args: LabelArgs) -> Result<()> {
    let LabelArgs {
        kind,
        name,
        label,
        overwrite,
        remove,
        namespace,
    } = args;
    let fail = |message: String| Err(Error::Failed(message));
    let (key, value) = if remove {
        (label, None)
    } else {
        // Split at the first `=`: the value may hold more (calicoctl's SplitN(..., 2)).
        match label.split_once('=') {
            Some((key, value)) => (key.to_owned(), Some(value.to_owned())),
            None => return fail(format!("invalid label {label}")),
        }
    };
    if let Err(e) = kind::check(&kind) {
        return fail(format!("failed to get {kind} {name}, error {e}"));
    }
    // calicoctl reads the resource through its get, which refuses a namespace for this kind
    // and so finds nothing.
    if namespace_error(None, &namespace, false).is_some() {
        return fail(format!("{kind} {name} not found"));
    }
    let client = connect(server).await?;
    let mut hep = match client.get(&name).await {
        Ok(hep) => hep,
        Err(ClientError::NotFound { .. }) => return fail(format!("{kind} {name} not found")),
        Err(err) => {
            return fail(format!(
                "failed to get {kind} {name}, error {}",
                error::chain(&err)
            ));
        }
    };
    let labels = &mut hep.metadata.labels;
    let message = match value {
        None => {
            if labels.remove(&key).is_none() {
                return fail(format!(
                    "cannot remove label of {kind} {name}, key {key} does not exist"
                ));
            }
            format!("Successfully removed label {key} from {kind} {name}")
        }
        Some(value) => match labels.insert(key.clone(), value.clone()) {
            None => format!("Successfully set label {key} on {kind} {name}"),
            Some(old) if overwrite || old == value => {
                format!("Successfully updated label {key} on {kind} {name}")
            }
            Some(_) => {
                return fail(format!(
                    "failed to update label of {kind} {name}, key {key} is already present. \
                     please use '--overwrite' to set a new value"
                ));
            }
        },
    };
    if let Err(err) = client.update(&hep, false).await {
        // calicoctl stops at "label not changed"; the reason is added so that a rejected key
        // or a concurrent change can be told apart.
        let reason = error::resource_error(&name, &err);
        return fail(format!(
            "failed to update {kind} {name}, label not changed: {reason}"
        ));
    }
    output::print(&format!("{message}\n"))
}
