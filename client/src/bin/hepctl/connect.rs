//! Where the server is, and the connection to it.

use std::time::Duration;

use hostendpoint_client::{Client, TlsFiles};

use crate::error::{Error, Result};

/// The server used when neither `--server` nor `HEPCTL_SERVER` names one.
pub(crate) const DEFAULT_SERVER: &str = "http://127.0.0.1:50051";

/// How long to wait for the connection: a server that does not answer (a firewalled port)
/// must not hang a script forever.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The server and how to reach it.
#[derive(Clone, Debug)]
pub(crate) struct Server {
    /// An `http://` or `https://` URL, or `host:port`.
    pub(crate) address: String,
    /// TLS files; any of them makes a bare `host:port` TLS.
    pub(crate) tls: TlsFiles,
}

/// Connects to the server.
pub(crate) async fn connect(server: &Server) -> Result<Client> {
    let connecting = Client::connect_with(&server.address, &server.tls);
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(source)) => Err(Error::Connect(source)),
        Err(_elapsed) => Err(Error::ConnectTimeout {
            endpoint: server.address.clone(),
            timeout: CONNECT_TIMEOUT,
        }),
    }
}
