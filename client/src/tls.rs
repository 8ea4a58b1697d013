//! Where the server is and how to reach it: the address forms every binary accepts, and TLS
//! (the CA the server's certificate must chain to, and the client certificate presented).

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

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

    fn client_config(&self) -> Result<ClientTlsConfig> {
        let config = ClientTlsConfig::new();
        let config = match &self.ca_cert {
            Some(path) => config.ca_certificate(Certificate::from_pem(read(path)?)),
            None => config.with_native_roots(),
        };
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                Ok(config.identity(Identity::from_pem(read(cert)?, read(key)?)))
            }
            (None, None) => Ok(config),
            _ => Err(Error::Config(
                "a client certificate needs both its certificate and its key file".into(),
            )),
        }
    }
}

/// The endpoint for a server address: an `https://` URL is TLS, an `http://` URL plaintext,
/// and a bare `host:port` TLS when TLS files are given, plaintext otherwise. Any other scheme,
/// or TLS files with an `http://` URL, is an error rather than a surprise.
pub fn endpoint(server: &str, tls: &TlsFiles) -> Result<Endpoint> {
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
    let is_tls = url.starts_with("https://");
    if !is_tls && !tls.is_empty() {
        return Err(Error::Config(format!(
            "{server} is plaintext (http://) but TLS files are set: use https://"
        )));
    }
    let endpoint = Endpoint::from_shared(url.clone()).map_err(|source| Error::Connect {
        endpoint: url.clone(),
        source,
    })?;
    if !is_tls {
        return Ok(endpoint);
    }
    endpoint
        .tls_config(tls.client_config()?)
        .map_err(|source| Error::Connect {
            endpoint: url,
            source,
        })
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|err| Error::Config(format!("cannot read {}: {err}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(server: &str, tls: &TlsFiles) -> String {
        endpoint(server, tls)
            .map(|e| e.uri().to_string())
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn schemes_mean_what_they_say() {
        let none = TlsFiles::default();
        let missing_ca = TlsFiles {
            ca_cert: Some("/nonexistent/ca.pem".into()),
            ..TlsFiles::default()
        };
        assert_eq!(uri("127.0.0.1:50051", &none), "http://127.0.0.1:50051/");
        assert_eq!(uri("http://h:1", &none), "http://h:1/");
        assert_eq!(uri("https://h:1", &none), "https://h:1/");
        assert!(uri("grpc://h:1", &none).contains("unknown scheme 'grpc'"));
        assert!(uri("http://h:1", &missing_ca).contains("is plaintext (http://) but TLS"));
        assert!(uri("h:1", &missing_ca).contains("cannot read /nonexistent/ca.pem"));
    }
}
