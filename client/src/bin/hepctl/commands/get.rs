//! `get KIND [NAME...]`: named host endpoints, or the listing.

use hostendpoint_client::{Client, ListParams};

use super::{check_selector, namespace_error};
use crate::{
    args::GetArgs,
    connect::{Server, connect},
    error::{self, Error, Result},
    kind,
    output::{self, Fetched, OutputFormat},
};

/// Prints what was found, then fails with one line per name that was not.
pub(crate) async fn run(server: &Server, args: GetArgs) -> Result<()> {
    let GetArgs {
        kind,
        names,
        output: format,
        node,
        selector,
        namespace,
        all_namespaces,
    } = args;
    let format: OutputFormat = format.parse().map_err(Error::Failed)?;
    kind::check(&kind).map_err(|e| Error::Failed(format!("failed to get resources: {e}")))?;
    check_selector(selector.as_deref())?;
    let (results, errors) = match namespace_error(None, &namespace, all_namespaces) {
        // calicoctl refuses each resource asked for (the listing is one), before any call.
        Some(refusal) => (Vec::new(), vec![refusal; names.len().max(1)]),
        None if names.is_empty() => {
            let client = connect(server).await?;
            match list(&client, node, selector).await {
                Ok(listing) => (vec![listing], Vec::new()),
                Err(err) => (Vec::new(), vec![error::chain(&err)]),
            }
        }
        None => fetch(&connect(server).await?, &names).await,
    };
    output::print(&output::render(&format, &results))?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Failed(errors.join("\n")))
    }
}

/// The named host endpoints, and a line for each that could not be read.
async fn fetch(client: &Client, names: &[String]) -> (Vec<Fetched>, Vec<String>) {
    let (mut results, mut errors) = (Vec::new(), Vec::new());
    for name in names {
        match client.get(name).await {
            Ok(hep) => results.push(Fetched::One(Box::new(hep))),
            // The next names would fail the same way: say it once.
            Err(err) if err.is_transient() => {
                errors.push(error::chain(&err));
                break;
            }
            Err(err) => errors.push(error::resource_error(name, &err)),
        }
    }
    (results, errors)
}

/// Every page of the listing, which the server serves at one revision.
async fn list(
    client: &Client,
    node: Option<String>,
    selector: Option<String>,
) -> hostendpoint_client::Result<Fetched> {
    let params = ListParams {
        node,
        selector,
        ..ListParams::default()
    };
    let mut items = Vec::new();
    let mut token = None;
    loop {
        let page = client.list_page(&params, token).await?;
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
