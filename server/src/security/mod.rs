//! Who may call what, and the record of it.
//!
//! # Layout
//! - [`tls`]: the server's certificate and the client CA, built into rustls configurations.
//! - [`reload`]: material that follows its files without a restart.
//! - [`policy`]: the authorization policy: admins, readers, the node identity template.
//! - [`authz`]: one call's caller, what it may do, and the per-identity watch limit.
//! - [`audit`]: the audit log.
//! - `identity`: the identities a client certificate carries.

pub mod audit;
pub mod authz;
mod identity;
pub mod policy;
pub mod reload;
pub mod tls;

pub(crate) use self::identity::identities;

use std::{path::PathBuf, sync::Arc};

use arc_swap::ArcSwap;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use self::{audit::AuditLog, authz::Authorizer, policy::Policy, reload::Watched, tls::TlsFiles};

/// The security settings of a server.
#[derive(Clone, Debug, Default)]
pub struct SecurityConfig {
    /// Serve TLS with these files; `None` serves plaintext.
    pub tls: Option<TlsFiles>,
    /// The authorization policy file; only with client certificates.
    pub authz_policy: Option<PathBuf>,
    /// The audit log: a file, or `-` for stdout.
    pub audit_log: Option<String>,
    /// The most open watches per client identity.
    pub max_watches_per_identity: usize,
}

/// The security of a running server.
#[derive(Debug)]
pub struct Security {
    /// The TLS configuration new handshakes use, following its files; `None` for plaintext.
    pub tls: Option<Arc<ArcSwap<rustls::ServerConfig>>>,
    /// Every call's authorization and audit.
    pub authz: Arc<Authorizer>,
}

/// Why the security settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// The TLS files cannot be read or used.
    #[error("TLS: {0}")]
    Tls(String),
    /// The policy file cannot be read or parsed.
    #[error("authorization policy: {0}")]
    Policy(String),
    /// The policy needs client certificates, which are not required.
    #[error("--authz-policy needs --tls-client-ca-file: roles are given to client certificates")]
    PolicyWithoutClientCa,
    /// The audit log cannot be opened.
    #[error("cannot open the audit log {path}: {cause}")]
    Audit {
        /// The file.
        path: String,
        /// The OS error.
        cause: std::io::Error,
    },
}

impl Security {
    /// Loads the material and starts following its files until `stop`.
    pub fn start(config: &SecurityConfig, stop: &CancellationToken) -> Result<Self, SecurityError> {
        let tls = config
            .tls
            .clone()
            .map(|files| {
                let build = {
                    let files = files.clone();
                    move |contents: &[Vec<u8>]| files.server_config(contents)
                };
                files
                    .watched()
                    .follow("TLS material", build, stop.clone())
                    .map_err(SecurityError::Tls)
            })
            .transpose()?;
        let client_certs = config.tls.as_ref().is_some_and(|t| t.client_ca.is_some());
        let policy = match (&config.authz_policy, client_certs) {
            (Some(_), false) => return Err(SecurityError::PolicyWithoutClientCa),
            (Some(path), true) => Some(follow_policy(path, stop)?),
            (None, true) => Some(Arc::new(ArcSwap::from_pointee(Policy::nodes_only()))),
            (None, false) => None,
        };
        if let Some(policy) = &policy
            && !policy.load().has_admins()
        {
            warn!("no identity has the admin role: every write is refused (see --authz-policy)");
        }
        let audit = config
            .audit_log
            .as_deref()
            .map(|path| {
                AuditLog::open(path).map_err(|cause| SecurityError::Audit {
                    path: path.to_owned(),
                    cause,
                })
            })
            .transpose()?
            .map(Arc::new);
        if let Some(audit) = &audit {
            reopen_on_sighup(Arc::clone(audit), stop.clone());
        }
        let authz = Authorizer::new(policy, audit, config.max_watches_per_identity);
        Ok(Self {
            tls,
            authz: Arc::new(authz),
        })
    }
}

fn follow_policy(
    path: &std::path::Path,
    stop: &CancellationToken,
) -> Result<Arc<ArcSwap<Policy>>, SecurityError> {
    let shown = path.display().to_string();
    let build = move |contents: &[Vec<u8>]| {
        let text = contents
            .first()
            .map(|c| String::from_utf8_lossy(c))
            .unwrap_or_default();
        Policy::parse(&text).map_err(|err| format!("{shown}: {err}"))
    };
    Watched::new(vec![path.to_owned()])
        .follow("authorization policy", build, stop.clone())
        .map_err(SecurityError::Policy)
}

/// Reopens the audit log on every SIGHUP, as logrotate's `postrotate` expects.
fn reopen_on_sighup(audit: Arc<AuditLog>, stop: CancellationToken) {
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(err) => {
            return warn!(error = %err, "cannot handle SIGHUP; the audit log is not reopened");
        }
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                Some(()) = hangups.recv() => audit.reopen(),
                () = stop.cancelled() => return,
            }
        }
    });
}
