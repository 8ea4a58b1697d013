//! `create`, `apply` and `replace -f FILE`: calicoctl's resource manager semantics.
//!
//! - every document is tried, whatever happened to the ones before it; a namespace (in the
//!   document, or `-n`) fails that document alone.
//! - create sends only the name, labels, annotations and spec; a resourceVersion in the
//!   document is an error, as in calicoctl.
//! - apply creates, and on "already exists" updates.
//! - an update with the document's resourceVersion reads the stored object and fails with
//!   "update conflict" when the versions differ (no retry); without one it reads the stored
//!   version and updates with it as the precondition, retrying up to 5 times, a second
//!   apart, when another writer got in between.
//! - uid and creationTimestamp are never taken from a document: the server keeps its own.

use std::time::Duration;

use hostendpoint_api::model::HostEndpoint;
use hostendpoint_client::{Client, Error as ClientError};

use super::{
    load, namespace_error,
    report::{self, Verb},
};
use crate::{
    args::{CreateArgs, FileArgs},
    connect::{Server, connect},
    error::{self, Result},
    manifest::Manifest,
};

/// How many times an update without a resourceVersion is tried (a patch too), and how long
/// it waits between tries: calicoctl's numbers.
pub(super) const UPDATE_ATTEMPTS: usize = 5;
pub(super) const UPDATE_RETRY_DELAY: Duration = Duration::from_secs(1);

/// A failure of one resource, worded for the report.
type Failure = String;

/// `create -f FILE`: failures are collected.
pub(crate) async fn create(server: &Server, args: CreateArgs) -> Result<()> {
    let CreateArgs { file, skip_exists } = args;
    let Some((client, manifests)) = prepare(server, &file).await? else {
        return report::nothing().finish();
    };
    let (mut handled, mut errors) = (0, Vec::new());
    for manifest in &manifests {
        match create_one(&client, manifest, &file, skip_exists).await {
            Ok(()) => handled += 1,
            Err(failure) => errors.push(failure),
        }
    }
    report::collected(Verb::Create, manifests.len(), handled, &errors).finish()
}

/// `apply -f FILE`: failures are collected.
pub(crate) async fn apply(server: &Server, args: FileArgs) -> Result<()> {
    let Some((client, manifests)) = prepare(server, &args).await? else {
        return report::nothing().finish();
    };
    let (mut handled, mut errors) = (0, Vec::new());
    for manifest in &manifests {
        match apply_one(&client, manifest, &args).await {
            Ok(()) => handled += 1,
            Err(failure) => errors.push(failure),
        }
    }
    report::collected(Verb::Apply, manifests.len(), handled, &errors).finish()
}

/// `replace -f FILE`, counted as calicoctl v3.32.0 counts it: every document is tried, and
/// the last failure is the one reported. A document the server was asked about counts as
/// handled even when that failed (calicoctl adds the update's result to its count whatever
/// the error); only a namespace, refused before any call, is not counted.
pub(crate) async fn replace(server: &Server, args: FileArgs) -> Result<()> {
    let Some((client, manifests)) = prepare(server, &args).await? else {
        return report::nothing().finish();
    };
    let mut handled = 0;
    let mut error = None;
    for manifest in &manifests {
        if let Some(failure) = refused(manifest, &args) {
            error = Some(failure);
            continue;
        }
        handled += 1;
        let result = match validated(manifest) {
            Ok(hep) => update(&client, manifest, hep).await,
            Err(failure) => Err(failure),
        };
        if let Err(failure) = result {
            error = Some(failure);
        }
    }
    report::replaced(manifests.len(), handled, error.as_deref()).finish()
}

/// Reads the files, then connects; `None` when there is nothing to do (`--skip-empty`).
async fn prepare(server: &Server, args: &FileArgs) -> Result<Option<(Client, Vec<Manifest>)>> {
    let manifests = load(&args.files)?;
    if manifests.is_empty() {
        return Ok(None);
    }
    Ok(Some((connect(server).await?, manifests)))
}

/// Why a document is refused before any call: a namespace.
fn refused(manifest: &Manifest, args: &FileArgs) -> Option<Failure> {
    namespace_error(manifest.namespace.as_deref(), &args.namespace, false)
}

async fn create_one(
    client: &Client,
    manifest: &Manifest,
    args: &FileArgs,
    skip_exists: bool,
) -> Result<(), Failure> {
    refused(manifest, args).map_or(Ok(()), Err)?;
    let hep = validated(manifest)?;
    // libcalico-go validates first, then refuses a resourceVersion on create.
    if let Some(rv) = &manifest.resource_version {
        return Err(format!(
            "error with field Metadata.ResourceVersion = '{rv}' (field must not be set for a \
             Create request)"
        ));
    }
    match client.create(&hep).await {
        Ok(_) => Ok(()),
        Err(ClientError::AlreadyExists { .. }) if skip_exists => Ok(()),
        Err(err) => Err(error::resource_error(&manifest.name, &err)),
    }
}

async fn apply_one(client: &Client, manifest: &Manifest, args: &FileArgs) -> Result<(), Failure> {
    refused(manifest, args).map_or(Ok(()), Err)?;
    // The create attempt goes without the resourceVersion; the update honours it.
    let hep = validated(manifest)?;
    match client.create(&hep).await {
        Ok(_) => Ok(()),
        Err(ClientError::AlreadyExists { .. }) => update(client, manifest, hep).await,
        Err(err) => Err(error::resource_error(&manifest.name, &err)),
    }
}

/// calicoctl's resourceHelper.Update: labels, annotations and spec from the document, the
/// rest of the metadata from the stored object (the server keeps it).
async fn update(
    client: &Client,
    manifest: &Manifest,
    mut hep: HostEndpoint,
) -> Result<(), Failure> {
    let name = manifest.name.as_str();
    let failure = |err: ClientError| error::resource_error(name, &err);
    if let Some(rv) = &manifest.resource_version {
        let stored = client.get(name).await.map_err(failure)?;
        if *rv != stored.metadata.resource_version.to_string() {
            return Err(error::update_conflict(name));
        }
        hep.metadata.resource_version = stored.metadata.resource_version;
        return client.update(&hep, false).await.map(drop).map_err(failure);
    }
    for attempt in 1..=UPDATE_ATTEMPTS {
        let stored = client.get(name).await.map_err(failure)?;
        hep.metadata.resource_version = stored.metadata.resource_version;
        match client.update(&hep, false).await {
            Err(ClientError::Conflict { .. }) if attempt < UPDATE_ATTEMPTS => {
                tracing::info!(name, attempt, "update conflict; retrying");
                tokio::time::sleep(UPDATE_RETRY_DELAY).await;
            }
            Err(ClientError::Conflict { .. }) => break,
            result => return result.map(drop).map_err(failure),
        }
    }
    Err(format!(
        "failed to update the resource: {}",
        error::update_conflict(name)
    ))
}

/// The host endpoint of a document, or calicoctl's words for the rules it breaks.
pub(super) fn validated(manifest: &Manifest) -> Result<HostEndpoint, Failure> {
    manifest
        .to_model(0)
        .map_err(|violations| error::validation(&violations.0))
}
