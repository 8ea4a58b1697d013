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

use std::{path::Path, time::Duration};

use hostendpoint_tests::{mtls::MtlsServer, pki::CertFiles};

/// How long a reload may take to show: the files are re-read every second.
const RELOAD_DEADLINE: Duration = Duration::from_secs(15);

/// A client certificate whose identity the policy does not name.
fn stranger(secured: &MtlsServer) -> CertFiles {
    secured.pki.client_cn("stranger", "someone-else")
}

/// Writes `contents` to `path` the way tools replace files: a new file renamed over it.
fn replace_file(path: &Path, contents: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).expect("temporary file written");
    std::fs::rename(&tmp, path).expect("renamed over");
}
