//! A server that requires client certificates from a throwaway CA and authorizes them with a
//! policy file, and the certificates of the identities the TLS suites call it with.

use std::path::{Path, PathBuf};

use crate::{
    ApiClient, ServerProcess,
    pki::{CertFiles, Pki, Subject},
};

/// The common name of the one admin the policy lists.
pub const ADMIN_CN: &str = "calico-admin";

/// The URI SAN of the one reader the policy lists.
pub const READER_URI: &str = "spiffe://cluster.local/ns/monitoring/sa/prometheus";

/// The policy of the TLS suites: one admin, one reader, nodes by the default template.
pub const POLICY: &str = r#"
admin:  ["CN:calico-admin"]
reader: ["URI:spiffe://cluster.local/ns/monitoring/sa/prometheus"]
"#;

/// A running server with mTLS and a policy, and its CA.
#[derive(Debug)]
pub struct MtlsServer {
    /// The CA of the server's and the clients' certificates.
    pub pki: Pki,
    /// The server.
    pub server: ServerProcess,
    /// A client certificate with the admin identity `CN:calico-admin`.
    pub admin: CertFiles,
    /// The policy file the server follows.
    pub policy: PathBuf,
}

impl MtlsServer {
    /// Starts a server with TLS, client certificates required, and [`POLICY`].
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// [`Self::start`] with extra flags.
    pub fn start_with(extra_args: &[&str]) -> Self {
        let pki = Pki::new("mtls");
        let tls = pki.server("server");
        let admin = pki.client_cn("admin", ADMIN_CN);
        let policy = pki.dir().join("policy.yaml");
        std::fs::write(&policy, POLICY).expect("policy written");
        let mut args = tls_args(&tls, &pki.ca_file());
        args.extend(["--authz-policy".to_owned(), path_str(&policy).to_owned()]);
        args.extend(extra_args.iter().map(|a| (*a).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = ServerProcess::start_with(&args);
        Self {
            pki,
            server,
            admin,
            policy,
        }
    }

    /// The CA file clients trust.
    pub fn ca_file(&self) -> PathBuf {
        self.pki.ca_file()
    }

    /// A client certificate with node `node`'s identity, `CN:system:node:<node>`.
    pub fn node(&self, node: &str) -> CertFiles {
        self.pki
            .client_cn(&format!("node-{node}"), &format!("system:node:{node}"))
    }

    /// A client certificate with the reader identity, `URI:<READER_URI>`.
    pub fn reader(&self) -> CertFiles {
        let subject = Subject {
            uris: &[READER_URI],
            ..Subject::default()
        };
        self.pki.client("reader", subject)
    }

    /// An API client presenting `cert`.
    pub async fn client(&self, cert: &CertFiles) -> ApiClient {
        self.server.tls_client(&self.ca_file(), cert).await
    }

    /// The server's `host:port`, without a scheme.
    pub fn host_port(&self) -> String {
        self.server.addr.to_string()
    }
}

/// The server flags for TLS with `server`'s certificate, requiring client certificates
/// signed by `client_ca`.
pub fn tls_args(server: &CertFiles, client_ca: &Path) -> Vec<String> {
    [
        "--tls-cert-file",
        path_str(&server.cert),
        "--tls-key-file",
        path_str(&server.key),
        "--tls-client-ca-file",
        path_str(client_ca),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// A path as a command-line argument; temporary directories have UTF-8 paths.
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}
