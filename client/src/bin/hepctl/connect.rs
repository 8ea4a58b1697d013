//! Where the server is, and the connection to it: the flags (or their environment
//! variables), else the config file, else the defaults.

use std::path::PathBuf;

use hostendpoint_client::{Client, ConnectOptions, TlsFiles};

use crate::{
    config,
    error::{Error, Result},
};

/// The server used when neither `--server`, `HEPCTL_SERVER` nor the config file names one.
pub(crate) const DEFAULT_SERVER: &str = "http://127.0.0.1:50051";

/// The server and how to reach it, as the command line gave it; the config file is read
/// when connecting (as calicoctl reads its own when it makes its client, after the files).
#[derive(Clone, Debug, Default)]
pub(crate) struct Server {
    /// `--server`: an `http://` or `https://` URL, or `host:port`.
    pub(crate) address: Option<String>,
    /// The TLS flags.
    pub(crate) tls: TlsFiles,
    /// `-c`, when named.
    pub(crate) config: Option<PathBuf>,
    /// Timeouts (its TLS files are filled in from `tls` and the config file).
    pub(crate) options: ConnectOptions,
}

impl Server {
    /// The address and options: each flag, else the config file's field, else the default.
    pub(crate) fn resolve(&self) -> Result<(String, ConnectOptions)> {
        let file = config::load(self.config.as_deref()).map_err(Error::Failed)?;
        let address = self
            .address
            .clone()
            .or(file.server)
            .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
        let tls = TlsFiles {
            ca_cert: self.tls.ca_cert.clone().or(file.ca_cert_file),
            cert: self.tls.cert.clone().or(file.cert_file),
            key: self.tls.key.clone().or(file.key_file),
        };
        let options = ConnectOptions {
            tls,
            ..self.options.clone()
        };
        Ok((address, options))
    }
}

/// Connects to the server.
pub(crate) async fn connect(server: &Server) -> Result<Client> {
    let (address, options) = server.resolve()?;
    Client::connect_with(&address, options)
        .await
        .map_err(Error::Connect)
}
