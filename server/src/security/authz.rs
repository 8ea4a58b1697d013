//! The authorization of one call: who the caller is (from its connection's identities and the
//! current policy), what it may do, the audit record of a denial or a write, and the limit on
//! open watches per identity.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use arc_swap::ArcSwap;
use tonic::{Request, Status};

use super::{
    audit::{self, AuditLog, AuditRecord},
    policy::{Access, Policy},
};
use crate::{listener::Peer, status};

/// The default of `--max-watches-per-identity`.
pub const DEFAULT_MAX_WATCHES_PER_IDENTITY: usize = 100;

/// What every call's authorization shares.
#[derive(Debug, Default)]
pub struct Authorizer {
    /// The policy, when client certificates are required; `None` allows everything.
    policy: Option<Arc<ArcSwap<Policy>>>,
    audit: Option<Arc<AuditLog>>,
    watches: WatchLimit,
}

/// The caller of one RPC.
#[derive(Clone, Debug)]
pub struct Caller {
    /// What it may do.
    pub access: Access,
    /// The identity that grants its access (or its first), when it has identities.
    pub identity: Option<String>,
    peer: Peer,
    rpc: &'static str,
    audit: Option<Arc<AuditLog>>,
}

/// Which host endpoints a caller may read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadScope {
    /// Every one.
    All,
    /// Those of this node.
    Node(String),
}

/// The open watches of each identity, bounded.
#[derive(Debug, Default)]
struct WatchLimit {
    max: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// One open watch counted against its identity; released on drop.
#[derive(Debug)]
pub struct WatchPermit {
    identity: Option<String>,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

// === impl Authorizer ===

impl Authorizer {
    /// Authorizes by `policy` (`None`: everything allowed), records to `audit`, and allows each
    /// identity `max_watches` open watches.
    pub fn new(
        policy: Option<Arc<ArcSwap<Policy>>>,
        audit: Option<Arc<AuditLog>>,
        max_watches: usize,
    ) -> Self {
        Self {
            policy,
            audit,
            watches: WatchLimit {
                max: max_watches,
                open: Arc::default(),
            },
        }
    }

    /// Waits until the audit log has written every line recorded so far (blocking): at
    /// shutdown.
    pub fn flush_audit(&self) {
        if let Some(audit) = &self.audit {
            audit.flush();
        }
    }

    /// The caller of `request`, an RPC of method `rpc`.
    pub fn caller<T>(&self, request: &Request<T>, rpc: &'static str) -> Caller {
        let peer = request
            .extensions()
            .get::<Peer>()
            .cloned()
            .unwrap_or_default();
        let (access, identity) = match &self.policy {
            None => (
                Access::Unrestricted,
                peer.identities.first().map(String::as_str),
            ),
            Some(policy) => policy.load().access(&peer.identities),
        };
        let identity = identity.map(str::to_owned);
        Caller {
            access,
            identity,
            peer,
            rpc,
            audit: self.audit.clone(),
        }
    }

    /// Whether a watch `caller` opened for `node` (empty: every node) is still allowed by the
    /// current policy: a reload that narrows a caller's access ends its open watches too.
    pub fn still_allows_watch(&self, caller: &Caller, node: &str) -> Result<(), Status> {
        let Some(policy) = &self.policy else {
            return Ok(());
        };
        let (access, _) = policy.load().access(&caller.peer.identities);
        let allowed = match &access {
            Access::Unrestricted | Access::Admin | Access::Reader => true,
            Access::Node(own) => own == node,
            Access::Denied => false,
        };
        if allowed {
            return Ok(());
        }
        Err(caller.denied(
            status::permission_denied(format!(
                "the authorization policy changed: {} may no longer watch {}",
                caller.identity.as_deref().unwrap_or("this client"),
                if node.is_empty() {
                    "every node".to_owned()
                } else {
                    format!("node '{node}'")
                }
            )),
            "",
            node,
        ))
    }

    /// Counts a new watch of `caller` against its identity's limit.
    pub fn open_watch(&self, caller: &Caller, node: &str) -> Result<WatchPermit, Status> {
        let Some(identity) = caller.identity.clone().filter(|_| self.policy.is_some()) else {
            return Ok(WatchPermit {
                identity: None,
                open: Arc::clone(&self.watches.open),
            });
        };
        let mut open = lock(&self.watches.open);
        let count = open.entry(identity.clone()).or_default();
        if *count >= self.watches.max {
            drop(open);
            return Err(caller.denied(
                status::too_many_watches(format!(
                    "{identity} already has {} open watches, the most one identity may have \
                     (--max-watches-per-identity)",
                    self.watches.max
                )),
                "",
                node,
            ));
        }
        *count += 1;
        Ok(WatchPermit {
            identity: Some(identity),
            open: Arc::clone(&self.watches.open),
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// === impl Caller ===

impl Caller {
    /// Allows a write of `name` only to admins (or everyone, without client certificates).
    pub fn may_write(&self, name: &str) -> Result<(), Status> {
        match self.access {
            Access::Unrestricted | Access::Admin => Ok(()),
            _ => Err(self.denied(
                status::permission_denied(format!(
                    "{}: writes need the admin role",
                    self.described()
                )),
                name,
                "",
            )),
        }
    }

    /// The host endpoints this caller may read, or PERMISSION_DENIED.
    pub fn may_read(&self) -> Result<ReadScope, Status> {
        match &self.access {
            Access::Unrestricted | Access::Admin | Access::Reader => Ok(ReadScope::All),
            Access::Node(node) => Ok(ReadScope::Node(node.clone())),
            Access::Denied => Err(self.denied(self.no_role(), "", "")),
        }
    }

    /// The node a listing or watch that asked for `requested` (empty: every node) is served
    /// for: a node's own when it asked for none, PERMISSION_DENIED for another's.
    pub fn narrow(&self, requested: &str) -> Result<String, Status> {
        match self.may_read()? {
            ReadScope::All => Ok(requested.to_owned()),
            ReadScope::Node(own) if requested.is_empty() || requested == own => Ok(own),
            ReadScope::Node(own) => Err(self.denied(self.other_node(&own), "", requested)),
        }
    }

    /// Allows reading `name` when the caller may read its node. Answered the same whether the
    /// object exists (on another node) or not (`node` is `None`), so existence does not leak.
    pub fn may_read_object(&self, name: &str, node: Option<&str>) -> Result<(), Status> {
        match self.may_read()? {
            ReadScope::All => Ok(()),
            ReadScope::Node(own) if node == Some(own.as_str()) => Ok(()),
            ReadScope::Node(own) => Err(self.denied(self.other_node(&own), name, "")),
        }
    }

    /// Allows IP-set members to every role: what a node needs to program policy.
    pub fn may_read_ip_sets(&self) -> Result<(), Status> {
        self.may_read().map(drop)
    }

    /// Whether calls are audited.
    pub fn audits(&self) -> bool {
        self.audit.is_some()
    }

    fn denied(&self, status: Status, name: &str, node: &str) -> Status {
        self.audit_write(name, node, None, None, status.code());
        status
    }

    /// Records a call's outcome in the audit log: a write's, or a denial's.
    pub fn audit_write(
        &self,
        name: &str,
        node: &str,
        before: Option<u64>,
        after: Option<u64>,
        code: tonic::Code,
    ) {
        let Some(audit) = &self.audit else { return };
        audit.record(AuditRecord {
            identity: self.identity.clone(),
            peer: audit::peer_text(self.peer.addr),
            rpc: self.rpc,
            name: name.to_owned(),
            node: node.to_owned(),
            resource_version_before: before,
            resource_version_after: after,
            code: audit::code_name(code),
            ..AuditRecord::default()
        });
    }

    fn described(&self) -> String {
        let who = self
            .identity
            .as_deref()
            .unwrap_or("a client without identities");
        match &self.access {
            Access::Node(node) => format!("{who} is the identity of node '{node}'"),
            Access::Reader => format!("{who} has the reader role"),
            _ => format!("{who} has no role in the authorization policy"),
        }
    }

    fn no_role(&self) -> Status {
        status::permission_denied(self.described())
    }

    fn other_node(&self, own: &str) -> Status {
        status::permission_denied(format!(
            "{}: it may read only host endpoints whose spec.node is '{own}'",
            self.described()
        ))
    }
}

// === impl WatchPermit ===

impl Drop for WatchPermit {
    fn drop(&mut self) {
        let Some(identity) = &self.identity else {
            return;
        };
        let mut open = lock(&self.open);
        if let Some(count) = open.get_mut(identity) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(identity);
            }
        }
    }
}
