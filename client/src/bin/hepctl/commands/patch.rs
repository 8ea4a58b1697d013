//! `patch KIND NAME -p PATCH [-t strategic|merge|json]`, as calicoctl's resource manager
//! patches: read the stored object, patch its document, read the result strictly, and update
//! with the version read as the precondition.
//!
//! A concurrent change between the read and the update is a conflict; unless the patch set
//! the resourceVersion itself, the patch is applied again to the new object, with
//! calicoctl's update retries (see `write`), so that neither change is lost.

use hostendpoint_api::{
    calico::{Document, ResourceVersion},
    model::{HostEndpoint, Revision},
};
use hostendpoint_client::{Client, Error as ClientError};
use serde_json::Value;

use super::{
    namespace_error,
    write::{UPDATE_ATTEMPTS, UPDATE_RETRY_DELAY},
};
use crate::{
    args::PatchArgs,
    connect::{Server, connect},
    error::{self, Error, Result},
    kind::{self, KIND},
    manifest::{self, Manifest, patch::PatchType},
    output,
};

/// A failure, worded as calicoctl words it after "hit error: ".
type Failure = String;

/// Patches one host endpoint and says so, or says why not.
pub(crate) async fn run(server: &Server, args: PatchArgs) -> Result<()> {
    let PatchArgs {
        kind,
        name,
        patch,
        patch_type,
        namespace,
    } = args;
    kind::check(&kind).map_err(Error::Failed)?;
    let outcome = match namespace_error(None, &namespace, false) {
        Some(refusal) => Err(refusal),
        None => patch_with_retries(&connect(server).await?, &name, &patch, patch_type).await,
    };
    match outcome {
        Ok(()) => output::print(&format!("Successfully patched 1 '{KIND}' resource\n")),
        Err(failure) => Err(Error::Failed(format!("hit error: {failure}"))),
    }
}

/// Reads, patches and updates until the update is not a conflict that a new try can cure.
async fn patch_with_retries(
    client: &Client,
    name: &str,
    patch: &str,
    patch_type: PatchType,
) -> Result<(), Failure> {
    for attempt in 1..=UPDATE_ATTEMPTS {
        let stored = client
            .get(name)
            .await
            .map_err(|err| error::resource_error(name, &err))?;
        let (hep, precondition) = patched(&stored, patch, patch_type)?;
        let retriable = precondition == stored.metadata.resource_version;
        match client.update(&hep, false).await {
            Ok(_) => return Ok(()),
            Err(ClientError::Conflict { .. }) if retriable && attempt < UPDATE_ATTEMPTS => {
                tracing::info!(name, attempt, "update conflict; patching the new object");
                tokio::time::sleep(UPDATE_RETRY_DELAY).await;
            }
            Err(err) => {
                let reason = error::resource_error(&hep.metadata.name, &err);
                return Err(format!("updating existing resource: {reason}"));
            }
        }
    }
    Err(format!(
        "updating existing resource: {}",
        error::update_conflict(name)
    ))
}

/// The object to write: the stored document patched, read back as a file is read, with the
/// resourceVersion it then holds as the update's precondition.
fn patched(
    stored: &HostEndpoint,
    patch: &str,
    patch_type: PatchType,
) -> Result<(HostEndpoint, Revision), Failure> {
    let json = Document::from_host_endpoint(stored, ResourceVersion::Include).to_json();
    let mut document: Value =
        serde_json::from_slice(&json).map_err(|e| format!("marshalling original resource: {e}"))?;
    manifest::patch::apply(&mut document, patch, patch_type)?;
    let manifest = read_back(&document)?;
    if let Some(refusal) =
        namespace_error(manifest.namespace.as_deref(), &Default::default(), false)
    {
        return Err(refusal);
    }
    let revision = match &manifest.resource_version {
        None => 0,
        Some(text) => text
            .parse()
            .map_err(|_| error::update_conflict(&manifest.name))?,
    };
    let hep = manifest
        .to_model(revision)
        .map_err(|v| format!("updating existing resource: {}", error::validation(&v.0)))?;
    Ok((hep, revision))
}

/// The patched document as one host endpoint, by the strict reading of files.
fn read_back(document: &Value) -> Result<Manifest, Failure> {
    let fail = |reason: String| format!("creating resource from patched data: {reason}");
    let mut manifests = manifest::parse(&document.to_string()).map_err(|e| fail(e.to_string()))?;
    match (manifests.pop(), manifests.is_empty()) {
        (Some(one), true) => Ok(one),
        _ => Err(fail("the patch must leave one HostEndpoint".into())),
    }
}
