//! Where the server is, and the connection to it.

use std::time::Duration;

use hostendpoint_client::Client;

use crate::error::{Error, Result};

/// The server used when neither `--server` nor `HEPCTL_SERVER` names one.
pub(crate) const DEFAULT_SERVER: &str = "http://127.0.0.1:50051";

/// How long to wait for the connection: a server that does not answer (a firewalled port)
/// must not hang a script forever.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The endpoint URL for a `--server` value: URLs as given, a bare `host:port` as plain-text
/// HTTP/2, which is what hostendpointd serves.
pub(crate) fn endpoint(server: &str) -> String {
    if server.contains("://") {
        server.to_owned()
    } else {
        format!("http://{server}")
    }
}

/// Connects to the server.
pub(crate) async fn connect(server: &str) -> Result<Client> {
    let endpoint = endpoint(server);
    match tokio::time::timeout(CONNECT_TIMEOUT, Client::connect(endpoint.clone())).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(source)) => Err(Error::Connect(source)),
        Err(_elapsed) => Err(Error::ConnectTimeout {
            endpoint,
            timeout: CONNECT_TIMEOUT,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_means_plain_http() {
        assert_eq!(endpoint("127.0.0.1:50051"), "http://127.0.0.1:50051");
        assert_eq!(endpoint("localhost:1"), "http://localhost:1");
        assert_eq!(endpoint("https://h:443"), "https://h:443");
        assert_eq!(endpoint(DEFAULT_SERVER), DEFAULT_SERVER);
    }
}
