//! `version [--client]`: this hepctl's version and commit, then the server's as it states it
//! in its answers, in calicoctl's layout (its `Println("Client Version:   ", ...)` lines).

use hostendpoint_api::build_info::{COMMIT, VERSION};

use crate::{
    args::VersionArgs,
    connect::{Server, connect},
    error::{self, Error, Result},
    output,
};

/// What calicoctl calls the cluster type: the kind of server answering.
const SERVER_TYPE: &str = "hostendpointd";

/// Prints the versions; the server's cannot be had is an error after the client's lines.
pub(crate) async fn run(server: &Server, args: VersionArgs) -> Result<()> {
    let VersionArgs { client } = args;
    output::print(&format!(
        "{}{}",
        line("Client Version:   ", VERSION),
        line("Git commit:       ", COMMIT)
    ))?;
    if client {
        return Ok(());
    }
    let answer = match connect(server).await {
        Ok(client) => client.server_version().await.map_err(Error::Connect),
        Err(err) => Err(err),
    };
    match answer {
        Ok(version) => output::print(&format!(
            "{}{}",
            line(
                "Cluster Version:  ",
                version.as_deref().unwrap_or("unknown")
            ),
            line("Cluster Type:     ", SERVER_TYPE)
        )),
        Err(err) => Err(Error::Failed(format!(
            "unable to retrieve Cluster Version or Type: {}",
            error::chain(&err)
        ))),
    }
}

/// Go's `fmt.Println(label, value)`: the two joined by a space, then a newline.
fn line(label: &str, value: &str) -> String {
    format!("{label} {value}\n")
}
