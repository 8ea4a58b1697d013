//! TLS to etcd: the CA that etcd's certificate must chain to and the client certificate
//! presented to it, for `https://` endpoints (Calico's `ETCD_CA_CERT_FILE`, `ETCD_CERT_FILE`,
//! `ETCD_KEY_FILE`).

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// The TLS files for etcd; all optional.
#[derive(Clone, Debug, Default)]
pub struct EtcdTls {
    /// The CA of etcd's server certificate; without it, the system's roots.
    pub ca_cert: Option<PathBuf>,
    /// The client certificate presented to etcd.
    pub cert: Option<PathBuf>,
    /// The client certificate's key.
    pub key: Option<PathBuf>,
}

/// Why the etcd TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("cannot read {path}: {cause}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        cause: std::io::Error,
    },
    /// An endpoint's scheme is neither http nor https.
    #[error("etcd endpoint {0}: the scheme must be http:// or https://")]
    Scheme(String),
    /// TLS files were given, but no endpoint uses TLS.
    #[error(
        "etcd TLS files are set, but no endpoint is https://: write the endpoints as \
         https://host:2379"
    )]
    UnusedFiles,
}

impl EtcdTls {
    /// Whether any file is set.
    fn any(&self) -> bool {
        self.ca_cert.is_some() || self.cert.is_some() || self.key.is_some()
    }

    /// The client TLS configuration for each endpoint: `Some` for https, `None` for http.
    pub(super) fn for_endpoints(
        &self,
        endpoints: &[String],
    ) -> Result<Vec<Option<ClientTlsConfig>>, TlsError> {
        let config = self.client_config()?;
        let per_endpoint = endpoints
            .iter()
            .map(|url| match url.split_once("://") {
                Some(("https", _)) => Ok(Some(config.clone())),
                Some(("http", _)) => Ok(None),
                _ => Err(TlsError::Scheme(url.clone())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.any() && per_endpoint.iter().all(Option::is_none) {
            return Err(TlsError::UnusedFiles);
        }
        Ok(per_endpoint)
    }

    fn client_config(&self) -> Result<ClientTlsConfig, TlsError> {
        let mut config = ClientTlsConfig::new();
        config = match &self.ca_cert {
            Some(path) => config.ca_certificate(Certificate::from_pem(read(path)?)),
            None => config.with_native_roots(),
        };
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        Ok(config)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|cause| TlsError::Read {
        path: path.display().to_string(),
        cause,
    })
}
