//! A throwaway certificate authority for the TLS suites: a CA, server certificates for
//! loopback, and client certificates with chosen common names and URI SANs, written as PEM
//! files the way an operator would hand them to the binaries; and the client TLS configuration
//! that trusts the CA and presents a client certificate. `hep-bench` uses it too, for
//! hostendpointd (mTLS).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType, date_time_ymd,
};
use tempfile::TempDir;
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// A CA and the directory its files are written to.
#[derive(Debug)]
pub struct Pki {
    dir: TempDir,
    name: String,
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, as PEM files.
#[derive(Clone, Debug)]
pub struct CertFiles {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
}

/// What a client certificate says of its holder.
#[derive(Clone, Copy, Debug, Default)]
pub struct Subject<'a> {
    /// The subject common name.
    pub cn: Option<&'a str>,
    /// URI SANs.
    pub uris: &'a [&'a str],
    /// Issue it already expired.
    pub expired: bool,
}

impl Pki {
    /// A new CA called `name`, its certificate written to `<dir>/<name>-ca.pem`, in a new
    /// temporary directory.
    pub fn new(name: &str) -> Self {
        Self::in_dir(name, tempfile::tempdir().expect("a temporary directory"))
    }

    /// The same, in a new directory under `parent` (removed when the `Pki` is dropped).
    pub fn new_in(name: &str, parent: &Path) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("pki-")
            .tempdir_in(parent)
            .expect("a directory under parent");
        Self::in_dir(name, dir)
    }

    fn in_dir(name: &str, dir: TempDir) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("a CA key");
        let ca = CertifiedIssuer::self_signed(params, key).expect("a CA certificate");
        std::fs::write(dir.path().join(format!("{name}-ca.pem")), ca.pem()).expect("CA written");
        Self {
            dir,
            name: name.to_owned(),
            ca,
        }
    }

    /// The CA certificate's file.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join(format!("{}-ca.pem", self.name))
    }

    /// The directory the files are in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A server certificate for localhost and 127.0.0.1, as `<file>.pem` and `<file>-key.pem`.
    pub fn server(&self, file: &str) -> CertFiles {
        self.issue(file, server_params(&[ExtendedKeyUsagePurpose::ServerAuth]))
    }

    /// A server certificate for localhost and 127.0.0.1 that is a client certificate as well,
    /// as etcd's must be: with `--client-cert-auth`, etcd's own gateway dials etcd with it.
    pub fn server_and_client(&self, file: &str) -> CertFiles {
        let usages = [
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        self.issue(file, server_params(&usages))
    }

    /// A client certificate for `subject`, as `<file>.pem` and `<file>-key.pem`.
    pub fn client(&self, file: &str, subject: Subject<'_>) -> CertFiles {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names");
        if let Some(cn) = subject.cn {
            params.distinguished_name.push(DnType::CommonName, cn);
        }
        for uri in subject.uris {
            let uri = (*uri).try_into().expect("a valid URI");
            params.subject_alt_names.push(SanType::URI(uri));
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if subject.expired {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        }
        self.issue(file, params)
    }

    /// A client certificate whose only identity is `CN:<cn>`.
    pub fn client_cn(&self, file: &str, cn: &str) -> CertFiles {
        self.client(
            file,
            Subject {
                cn: Some(cn),
                ..Subject::default()
            },
        )
    }

    fn issue(&self, file: &str, params: CertificateParams) -> CertFiles {
        let key = KeyPair::generate().expect("a key");
        let cert = params
            .signed_by(&key, &*self.ca)
            .expect("a signed certificate");
        let files = CertFiles {
            cert: self.dir.path().join(format!("{file}.pem")),
            key: self.dir.path().join(format!("{file}-key.pem")),
        };
        std::fs::write(&files.cert, cert.pem()).expect("certificate written");
        std::fs::write(&files.key, key.serialize_pem()).expect("key written");
        files
    }
}

/// A certificate's parameters for localhost and 127.0.0.1, with extended key `usages`.
fn server_params(usages: &[ExtendedKeyUsagePurpose]) -> CertificateParams {
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("valid DNS name");
    params
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    params
        .distinguished_name
        .push(DnType::CommonName, "hostendpointd");
    params.extended_key_usages = usages.to_vec();
    params
}

/// A client TLS configuration that trusts the CA in `ca` and, if given, presents `client`.
pub fn client_tls(ca: &Path, client: Option<&CertFiles>) -> ClientTlsConfig {
    let read = |path: &Path| std::fs::read(path).expect("a readable PEM file");
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca)));
    match client {
        Some(client) => tls.identity(Identity::from_pem(read(&client.cert), read(&client.key))),
        None => tls,
    }
}
