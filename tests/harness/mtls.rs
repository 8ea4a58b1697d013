//! A server that requires client certificates from a throwaway CA and authorizes them with a
//! policy file, and the certificates of the identities the TLS suites call it with.

use std::path::{Path, PathBuf};

use crate::{
    ServerProcess,
    pki::{CertFiles, Pki},
};

/// The common name of the one admin the policy lists.
pub const ADMIN_CN: &str = "ops-admin";

/// A running server with mTLS and a policy, and its CA.
#[derive(Debug)]
pub struct MtlsServer {
    /// The CA of the server's and the clients' certificates.
    pub pki: Pki,
    /// The server.
    pub server: ServerProcess,
    /// A client certificate with the admin identity `CN:ops-admin`.
    pub admin: CertFiles,
}

impl MtlsServer {
    /// Starts a server with TLS, client certificates required, and a policy naming
    /// `CN:ops-admin` as admin (nodes by the default `CN:system:node:{node}` template).
    pub fn start() -> Self {
        let pki = Pki::new("mtls");
        let tls = pki.server("server");
        let admin = pki.client_cn("admin", ADMIN_CN);
        let policy = pki.dir().join("policy.yaml");
        std::fs::write(&policy, format!("admin: [\"CN:{ADMIN_CN}\"]\n")).expect("policy written");
        let server = ServerProcess::start_with(&[
            "--tls-cert-file",
            path_str(&tls.cert),
            "--tls-key-file",
            path_str(&tls.key),
            "--tls-client-ca-file",
            path_str(&pki.ca_file()),
            "--authz-policy",
            path_str(&policy),
        ]);
        Self { pki, server, admin }
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

    /// The server's `host:port`, without a scheme.
    pub fn host_port(&self) -> String {
        self.server.addr.to_string()
    }
}

/// A path as a command-line argument; temporary directories have UTF-8 paths.
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}
