//! TLS: the CA the server's certificate must chain to, and the client certificate presented.
//!
//! TLS is our dialer's, not tonic's: tonic's `ClientTlsConfig` holds the files' contents read
//! once, so after a certificate rotation a long-running client (hep-agent) would present the
//! old, maybe expired, certificate on every reconnect until restarted. [`Tls`] instead reads
//! the files at each new connection. Connections are few (one per client, again only after an
//! outage), so re-reading costs nothing that matters, needs no file watcher and no polling,
//! and sees a Secret volume's symlink swap like a write in place; a half-rotated set (new
//! certificate, old key) only fails that one handshake, and the reconnect backoff retries.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject as _},
};
use tokio::net::TcpStream;
use tokio_rustls::{TlsConnector, client::TlsStream};

use crate::{Error, Result, error::io_words};

/// TLS files for the connection; all optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA that the server's certificate must chain to (PEM); without it, the system's
    /// roots.
    pub ca_cert: Option<PathBuf>,
    /// The client certificate presented to the server (PEM), for servers that require one.
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub key: Option<PathBuf>,
}

impl TlsFiles {
    /// Whether no file is set.
    pub fn is_empty(&self) -> bool {
        self.ca_cert.is_none() && self.cert.is_none() && self.key.is_none()
    }

    /// The rustls configuration from the files' current contents.
    fn client_config(&self) -> Result<ClientConfig> {
        let roots = match &self.ca_cert {
            Some(path) => ca_roots(path)?,
            None => {
                // The system's unparsable roots are skipped, as tonic's native roots do.
                let mut roots = RootCertStore::empty();
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
                roots
            }
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| Error::Config(format!("TLS: {err}")))?
            .with_root_certificates(roots);
        let mut config = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let chain = certificates(cert)?;
                let key_der = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|_| {
                    Error::Config(format!("{} holds no PEM private key", key.display()))
                })?;
                builder
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|err| bad_pem(cert, err))?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => {
                return Err(Error::Config(
                    "a client certificate needs both its certificate and its key file".into(),
                ));
            }
        };
        // The server speaks HTTP/2 only; say so, as tonic's own TLS does.
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }
}

/// The files of one server, read for every handshake.
#[derive(Clone, Debug)]
pub(crate) struct Tls {
    files: TlsFiles,
    server_name: ServerName<'static>,
}

impl Tls {
    /// TLS with `files` to the server named `host`. The files are read once here too, so that
    /// a missing or broken file is reported at start.
    pub(crate) fn new(files: &TlsFiles, host: &str) -> Result<Self> {
        files.client_config()?;
        let server_name = ServerName::try_from(host.to_owned())
            .map_err(|err| Error::Config(format!("{host}: {err}")))?;
        Ok(Self {
            files: files.clone(),
            server_name,
        })
    }

    /// The handshake over `tcp`, with the files' contents at this moment; why it failed, in
    /// words.
    pub(crate) async fn handshake(&self, tcp: TcpStream) -> Result<TlsStream<TcpStream>, String> {
        let config = self.files.client_config().map_err(|err| err.to_string())?;
        TlsConnector::from(Arc::new(config))
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|err| handshake_words(&err))
    }
}

/// A failed handshake in words: rustls's reason when there is one.
fn handshake_words(err: &std::io::Error) -> String {
    match err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(tls) => format!("TLS handshake failed: {tls}"),
        None => format!("TLS handshake failed: {}", io_words(err)),
    }
}

fn ca_roots(path: &Path) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(path)? {
        roots.add(cert).map_err(|err| bad_pem(path, err))?;
    }
    Ok(roots)
}

/// The PEM certificates of `path`; none is an error, as a CA or chain without one can only
/// fail every handshake later.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(&read(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| bad_pem(path, err))?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "{} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|err| {
        Error::Config(format!(
            "cannot read {}: {}",
            path.display(),
            io_words(&err)
        ))
    })
}

fn bad_pem(path: &Path, err: impl std::fmt::Display) -> Error {
    Error::Config(format!("{}: {err}", path.display()))
}
