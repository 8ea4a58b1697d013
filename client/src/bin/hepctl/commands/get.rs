//! `get KIND [NAME...]` and `get -f FILE`: named host endpoints, or the listing.

use hostendpoint_client::{Client, ListParams};

use super::{check_selector, load, namespace_error};
use crate::{
    args::GetArgs,
    connect::{Server, connect},
    error::{self, Error, Result},
    kind,
    output::{self, Fetched, OutputFormat},
};

/// What one resource of the command line or of a file asks for.
#[derive(Clone)]
enum Wanted {
    /// Every host endpoint (of the node, matching the selector).
    Listing,
    /// One by name.
    Named(String),
    /// Refused before any call, with calicoctl's message.
    Refused(String),
}

/// Prints what was found, then fails with one line per resource that was not.
pub(crate) async fn run(server: &Server, args: GetArgs) -> Result<()> {
    let GetArgs {
        kind,
        names,
        files,
        export,
        output: format,
        node,
        selector,
        namespace,
        all_namespaces,
    } = args;
    let format: OutputFormat = format.parse().map_err(Error::Failed)?;
    if let Some(kind) = &kind {
        kind::check(kind).map_err(|e| Error::Failed(format!("failed to get resources: {e}")))?;
    }
    check_selector(selector.as_deref())?;
    let refusal = |document_namespace: Option<&str>| {
        namespace_error(document_namespace, &namespace, all_namespaces)
    };
    let wanted: Vec<Wanted> = if files.filename.is_some() {
        load(&files)?
            .into_iter()
            .map(|m| match refusal(m.namespace.as_deref()) {
                Some(message) => Wanted::Refused(message),
                None if m.name.is_empty() => Wanted::Listing,
                None => Wanted::Named(m.name),
            })
            .collect()
    } else if let Some(message) = refusal(None) {
        vec![Wanted::Refused(message); names.len().max(1)]
    } else if names.is_empty() {
        vec![Wanted::Listing]
    } else {
        names.iter().cloned().map(Wanted::Named).collect()
    };
    let params = ListParams {
        node,
        selector,
        ..ListParams::default()
    };
    let (mut results, errors) = fetch(server, &wanted, &params).await?;
    // calicoctl exports only what was named on the command line.
    if export && !names.is_empty() {
        results.iter_mut().for_each(Fetched::export);
    }
    output::print(&output::render(&format, &results).map_err(Error::Failed)?)?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Failed(errors.join("\n")))
    }
}

/// What was found, and a line for each resource that could not be had; connects only when
/// something is to be asked.
async fn fetch(
    server: &Server,
    wanted: &[Wanted],
    params: &ListParams,
) -> Result<(Vec<Fetched>, Vec<String>)> {
    let (mut results, mut errors) = (Vec::new(), Vec::new());
    let mut client = None;
    for want in wanted {
        let name = match want {
            Wanted::Refused(message) => {
                errors.push(message.clone());
                continue;
            }
            Wanted::Listing => None,
            Wanted::Named(name) => Some(name),
        };
        let client = match &client {
            Some(client) => client,
            None => client.insert(connect(server).await?),
        };
        let outcome = match name {
            None => list(client, params).await,
            Some(name) => client
                .get(name)
                .await
                .map(|hep| Fetched::One(Box::new(hep))),
        };
        match outcome {
            Ok(found) => results.push(found),
            // The next ones would fail the same way: say it once.
            Err(err) if err.is_transient() => {
                errors.push(error::chain(&err));
                break;
            }
            Err(err) => errors.push(match name {
                Some(name) => error::resource_error(name, &err),
                None => error::chain(&err),
            }),
        }
    }
    Ok((results, errors))
}

/// Every page of the listing, which the server serves at one revision.
async fn list(client: &Client, params: &ListParams) -> hostendpoint_client::Result<Fetched> {
    let mut items = Vec::new();
    let mut token = None;
    loop {
        let page = client.list_page(params, token).await?;
        items.extend(page.items);
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => {
                return Ok(Fetched::List {
                    items,
                    revision: page.revision,
                });
            }
        }
    }
}
