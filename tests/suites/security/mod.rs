//! Security through real TLS handshakes: client certificates, roles per identity, rotation of
//! the TLS material and the policy without a restart, the audit log, and the watch limit.
//!
//! # Layout
//! - [`roles`]: every role against every RPC.
//! - [`handshakes`]: who cannot connect at all, and start-up mistakes.
//! - [`reload`]: certificate and policy rotation while watches stay open.
//! - [`audit`]: audit lines, SIGHUP, and the per-identity watch limit.
//! - [`readme`]: the README's openssl commands make certificates that work.

mod audit;
mod handshakes;
mod readme;
mod reload;
mod roles;

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use hostendpoint_tests::{
    ApiClient, ServerProcess,
    pki::{CertFiles, Pki, Subject},
};

/// The policy of the suites: one admin, one reader, nodes by the default template.
const POLICY: &str = r#"
admin:  ["CN:calico-admin"]
reader: ["URI:spiffe://cluster.local/ns/monitoring/sa/prometheus"]
"#;

/// How long a reload may take to show: the files are re-read every second.
const RELOAD_DEADLINE: Duration = Duration::from_secs(15);

/// A server that requires client certificates, with one certificate per role.
struct Secured {
    server: ServerProcess,
    pki: Pki,
    admin: CertFiles,
    reader: CertFiles,
    node_a: CertFiles,
    stranger: CertFiles,
    policy: PathBuf,
}

impl Secured {
    fn start(extra_args: &[&str]) -> Self {
        let pki = Pki::new("cluster");
        let server_cert = pki.server("server");
        let policy = pki.dir().join("policy.yaml");
        std::fs::write(&policy, POLICY).expect("policy written");
        let mut args = tls_args(&server_cert, &pki.ca_file());
        args.extend(["--authz-policy".into(), path_arg(&policy)]);
        args.extend(extra_args.iter().map(|a| (*a).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = ServerProcess::start_with(&args);
        Self {
            admin: pki.client_cn("admin", "calico-admin"),
            reader: pki.client(
                "reader",
                Subject {
                    uris: &["spiffe://cluster.local/ns/monitoring/sa/prometheus"],
                    ..Subject::default()
                },
            ),
            node_a: pki.client_cn("node-a", "system:node:node-a"),
            stranger: pki.client_cn("stranger", "someone-else"),
            server,
            pki,
            policy,
        }
    }

    async fn client(&self, cert: &CertFiles) -> ApiClient {
        self.server.tls_client(&self.pki.ca_file(), cert).await
    }
}

/// The server flags for TLS with client certificates from `client_ca`.
fn tls_args(server: &CertFiles, client_ca: &Path) -> Vec<String> {
    vec![
        "--tls-cert-file".into(),
        path_arg(&server.cert),
        "--tls-key-file".into(),
        path_arg(&server.key),
        "--tls-client-ca-file".into(),
        path_arg(client_ca),
    ]
}

fn path_arg(path: &Path) -> String {
    path.to_str().expect("temporary paths are UTF-8").to_owned()
}

/// Retries `attempt` until it returns `Some`, failing after `deadline` with `what`.
async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(start.elapsed() < deadline, "{what} within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Writes `contents` to `path` the way tools replace files: a new file renamed over it.
fn replace_file(path: &Path, contents: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).expect("temporary file written");
    std::fs::rename(&tmp, path).expect("renamed over");
}
