//! Where the server is, and the connection to it.

use std::time::Duration;

use hostendpoint_client::{Client, ConnectOptions};

use crate::error::{Error, Result};

/// The server used when neither `--server` nor `HEPCTL_SERVER` names one.
pub(crate) const DEFAULT_SERVER: &str = "http://127.0.0.1:50051";

/// The server and how to reach it.
#[derive(Clone, Debug)]
pub(crate) struct Server {
    /// An `http://` or `https://` URL, or `host:port`.
    pub(crate) address: String,
    /// TLS files and timeouts.
    pub(crate) options: ConnectOptions,
}

/// Connects to the server.
pub(crate) async fn connect(server: &Server) -> Result<Client> {
    Client::connect_with(&server.address, server.options.clone())
        .await
        .map_err(Error::Connect)
}

/// `--dial-timeout`: a duration such as `10s`; zero would refuse every connection.
pub(crate) fn dial_timeout(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err("must be more than 0s".into()),
        Ok(duration) => Ok(duration),
        Err(err) => Err(err.to_string()),
    }
}
