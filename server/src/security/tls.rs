//! The server's TLS material: its certificate and key, and the CA that client certificates
//! must chain to, built into a rustls configuration from the PEM files' contents.

use std::{path::PathBuf, sync::Arc};

use rustls::{
    RootCertStore, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _},
    server::WebPkiClientVerifier,
};

use super::reload::Watched;

/// The files of the server's TLS material.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The server's certificate chain (PEM).
    pub cert: PathBuf,
    /// The certificate's private key (PEM).
    pub key: PathBuf,
    /// When set, every client must present a certificate signed by this CA (PEM).
    pub client_ca: Option<PathBuf>,
}

/// Why TLS material was rejected.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file holds no certificate.
    #[error("{0}: no PEM certificate found")]
    NoCertificate(String),
    /// A file holds no private key.
    #[error("{0}: no PEM private key found")]
    NoKey(String),
    /// A file holds a PEM section that does not parse.
    #[error("{file}: {reason}")]
    Pem {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the material (for example a key that does not match the certificate).
    #[error("{0}")]
    Rustls(String),
}

impl TlsFiles {
    /// The files, in the order [`server_config`] takes their contents.
    pub(crate) fn watched(&self) -> Watched {
        let mut paths = vec![self.cert.clone(), self.key.clone()];
        paths.extend(self.client_ca.clone());
        Watched::new(paths)
    }

    /// Builds the rustls configuration from the files' contents (as read by
    /// [`Self::watched`]). TLS 1.2 and 1.3, HTTP/2 only.
    pub(crate) fn server_config(&self, contents: &[Vec<u8>]) -> Result<ServerConfig, TlsError> {
        let [cert, key, rest @ ..] = contents else {
            unreachable!("watched() reads the certificate and the key");
        };
        let chain = certificates(&self.cert, cert)?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|err| pem_error(&self.key, err))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(rustls_error)?;
        let builder = match (&self.client_ca, rest.first()) {
            (Some(path), Some(ca)) => {
                let mut roots = RootCertStore::empty();
                for cert in certificates(path, ca)? {
                    roots.add(cert).map_err(|err| TlsError::Pem {
                        file: path.display().to_string(),
                        reason: format!("not a usable CA certificate: {err}"),
                    })?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|err| rustls_error(err.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
            _ => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|err| match err {
                rustls::Error::InconsistentKeys(_) => TlsError::Rustls(format!(
                    "the key in {} does not belong to the certificate in {}",
                    self.key.display(),
                    self.cert.display()
                )),
                other => rustls_error(other),
            })?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }
}

fn certificates(
    path: &std::path::Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| pem_error(path, err))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.display().to_string()));
    }
    Ok(certs)
}

fn pem_error(path: &std::path::Path, err: rustls::pki_types::pem::Error) -> TlsError {
    match err {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey(path.display().to_string()),
        other => TlsError::Pem {
            file: path.display().to_string(),
            reason: other.to_string(),
        },
    }
}

fn rustls_error(err: impl ToString) -> TlsError {
    TlsError::Rustls(err.to_string())
}
