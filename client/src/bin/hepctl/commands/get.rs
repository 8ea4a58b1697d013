//! `get KIND [NAME...]`: named host endpoints, or the listing.

use hostendpoint_client::{Client, ListParams};

use super::{check_not_namespaced, check_selector};
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
    check_not_namespaced(&namespace, all_namespaces)?;
    kind::check(&kind).map_err(|e| Error::Failed(format!("failed to get resources: {e}")))?;
    check_selector(selector.as_deref())?;
    let client = connect(server).await?;
    let mut results = Vec::new();
    let mut errors = Vec::new();
    if names.is_empty() {
        match list(&client, node, selector).await {
            Ok(listing) => results.push(listing),
            Err(err) => errors.push(error::chain(&err)),
        }
    }
    for name in &names {
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
    output::print(&output::render(&format, &results))?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Failed(errors.join("\n")))
    }
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
