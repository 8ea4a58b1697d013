//! What hostendpointd (mTLS) is started with and connected with: a throwaway CA (the test
//! harness's), a server certificate for loopback, an admin client certificate, and an
//! authorization policy that makes its holder an admin; all in the run's directory.

use std::path::Path;

use anyhow::Context as _;
use hostendpoint_tests::pki::{self, Pki};
use tonic::transport::ClientTlsConfig;

/// The common name of the clients' certificate, an admin by the policy.
const ADMIN_CN: &str = "calico-admin";

/// The files of one hostendpointd (mTLS) server, and how its clients connect.
#[derive(Debug)]
pub(crate) struct Mtls {
    /// The CA and its directory: the files stay as long as the server runs, since it watches
    /// them for rotation.
    _pki: Pki,
    /// hostendpointd's flags: TLS, required client certificates, the policy.
    pub(crate) args: Vec<String>,
    /// The clients': trust the CA, present the admin certificate.
    pub(crate) client: ClientTlsConfig,
}

impl Mtls {
    /// A new CA with its certificates and the policy, in a new directory under `parent`.
    pub(crate) fn new(parent: &Path) -> anyhow::Result<Self> {
        let pki = Pki::new_in("hep-bench", parent);
        let server = pki.server("server");
        let admin = pki.client_cn("admin", ADMIN_CN);
        let policy = pki.dir().join("policy.yaml");
        std::fs::write(&policy, format!("admin: [\"CN:{ADMIN_CN}\"]\n"))
            .with_context(|| format!("cannot write {}", policy.display()))?;
        let ca = pki.ca_file();
        let flags = [
            ("--tls-cert-file", &server.cert),
            ("--tls-key-file", &server.key),
            ("--tls-client-ca-file", &ca),
            ("--authz-policy", &policy),
        ];
        let mut args = Vec::with_capacity(2 * flags.len());
        for (flag, path) in flags {
            let path = path
                .to_str()
                .with_context(|| format!("{} is not UTF-8", path.display()))?;
            args.extend([flag.to_owned(), path.to_owned()]);
        }
        let client = pki::client_tls(&ca, Some(&admin));
        Ok(Self {
            _pki: pki,
            args,
            client,
        })
    }
}
