//! Where the server is and how to reach it: the address forms every binary accepts, and TLS
//! (the CA the server's certificate must chain to, and the client certificate presented).
//!
//! TLS is our connector's, not tonic's: tonic's `ClientTlsConfig` holds the files' contents
//! read once, so after a certificate rotation a long-running client (hep-agent) would present
//! the old, maybe expired, certificate on every reconnect until restarted. [`Target`] instead
//! reads the files at each new connection. Connections are few (one per client, again only
//! after an outage), so re-reading costs nothing that matters, needs no file watcher and no
//! polling, and sees a Secret volume's symlink swap like a write in place; a half-rotated set
//! (new certificate, old key) only fails that one handshake, and the reconnect backoff retries.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use futures::future::BoxFuture;
use hyper_util::rt::TokioIo;
use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject as _},
};
use tokio::net::TcpStream;
use tokio_rustls::{TlsConnector, client::TlsStream};
use tonic::transport::{Channel, Endpoint, Uri};

use crate::{Error, Result};

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
        let mut roots = RootCertStore::empty();
        match &self.ca_cert {
            Some(path) => {
                for cert in CertificateDer::pem_slice_iter(&read(path)?) {
                    let cert = cert.map_err(|err| bad_pem(path, err))?;
                    roots.add(cert).map_err(|err| bad_pem(path, err))?;
                }
            }
            None => {
                // The system's unparsable roots are skipped, as tonic's native roots do.
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| Error::Config(format!("TLS: {err}")))?
            .with_root_certificates(roots);
        let mut config = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_slice_iter(&read(cert)?)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|err| bad_pem(cert, err))?;
                let key_der =
                    PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|err| bad_pem(key, err))?;
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

/// A server address made ready to connect to.
#[derive(Debug)]
pub(crate) struct Target {
    /// The server's URL, for errors.
    url: String,
    endpoint: Endpoint,
    /// `None` for plaintext.
    tls: Option<ReloadingTls>,
}

impl Target {
    /// Parses `server`: an `https://` URL is TLS, an `http://` URL plaintext, and a bare
    /// `host:port` TLS when TLS files are given, plaintext otherwise. Any other scheme, or TLS
    /// files with an `http://` URL, is an error rather than a surprise. The TLS files are read
    /// once here too, so that a missing or broken file is reported at start.
    pub(crate) fn new(server: &str, tls: &TlsFiles) -> Result<Self> {
        let url = match server.split_once("://") {
            None if tls.is_empty() => format!("http://{server}"),
            None => format!("https://{server}"),
            Some(("http" | "https", _)) => server.to_owned(),
            Some((scheme, _)) => {
                return Err(Error::Config(format!(
                    "{server}: unknown scheme '{scheme}': use http:// or https://"
                )));
            }
        };
        let Some(rest) = url.strip_prefix("https://") else {
            if !tls.is_empty() {
                return Err(Error::Config(format!(
                    "{server} is plaintext (http://) but TLS files are set: use https://"
                )));
            }
            return Ok(Self {
                endpoint: parse_endpoint(&url)?,
                url,
                tls: None,
            });
        };
        tls.client_config()?;
        // tonic would wrap an https:// endpoint in its own TLS: ours dials the plain address
        // and does the handshake, while requests still name the https:// origin.
        let origin = parse_endpoint(&url)?.uri().clone();
        let endpoint = parse_endpoint(&format!("http://{rest}"))?.origin(origin);
        let host = endpoint.uri().host().unwrap_or_default();
        let server_name = ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
            .map_err(|err| Error::Config(format!("{server}: {err}")))?;
        Ok(Self {
            url,
            endpoint,
            tls: Some(ReloadingTls {
                files: tls.clone(),
                server_name,
            }),
        })
    }

    /// The URL requests are sent to.
    #[cfg(test)]
    fn origin(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let authority = self.endpoint.uri().authority().map(|a| a.as_str());
        format!("{scheme}://{}/", authority.unwrap_or_default())
    }

    /// Connects now.
    pub(crate) async fn connect(self) -> Result<Channel> {
        let connected = match self.tls {
            None => self.endpoint.connect().await,
            Some(tls) => self.endpoint.connect_with_connector(tls).await,
        };
        connected.map_err(|source| Error::Connect {
            endpoint: self.url,
            source,
        })
    }

    /// A channel that connects on first use and reconnects by itself.
    pub(crate) fn connect_lazy(self) -> Channel {
        match self.tls {
            None => self.endpoint.connect_lazy(),
            Some(tls) => self.endpoint.connect_with_connector_lazy(tls),
        }
    }
}

fn parse_endpoint(url: &str) -> Result<Endpoint> {
    Endpoint::from_shared(url.to_owned()).map_err(|source| Error::Connect {
        endpoint: url.to_owned(),
        source,
    })
}

/// The connector: TCP, then a TLS handshake with the files' contents at that moment.
#[derive(Clone, Debug)]
struct ReloadingTls {
    files: TlsFiles,
    server_name: ServerName<'static>,
}

impl tower::Service<Uri> for ReloadingTls {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let config = this.files.client_config()?;
            let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
            let port = uri.port_u16().unwrap_or(443);
            let tcp = TcpStream::connect((host, port)).await?;
            // As tonic's own connector: small gRPC frames must not wait for Nagle.
            tcp.set_nodelay(true)?;
            let tls = TlsConnector::from(Arc::new(config))
                .connect(this.server_name, tcp)
                .await?;
            Ok(TokioIo::new(tls))
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|err| Error::Config(format!("cannot read {}: {err}", path.display())))
}

fn bad_pem(path: &Path, err: impl std::fmt::Display) -> Error {
    Error::Config(format!("{}: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(server: &str, tls: &TlsFiles) -> String {
        Target::new(server, tls)
            .map(|t| t.origin())
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn schemes_mean_what_they_say() {
        let none = TlsFiles::default();
        let missing_ca = TlsFiles {
            ca_cert: Some("/nonexistent/ca.pem".into()),
            ..TlsFiles::default()
        };
        assert_eq!(origin("127.0.0.1:50051", &none), "http://127.0.0.1:50051/");
        assert_eq!(origin("http://h:1", &none), "http://h:1/");
        assert_eq!(origin("https://h:1", &none), "https://h:1/");
        assert!(origin("grpc://h:1", &none).contains("unknown scheme 'grpc'"));
        assert!(origin("http://h:1", &missing_ca).contains("is plaintext (http://) but TLS"));
        assert!(origin("h:1", &missing_ca).contains("cannot read /nonexistent/ca.pem"));
    }
}
