//! The authorization policy: which client identities are admins, which are readers, and the
//! template that names a node's own identity. Read from YAML (`--authz-policy`).

use std::collections::HashSet;

use serde::Deserialize;

/// The node identity template when the policy names none: the Kubernetes Node authorizer's
/// `system:node:<name>` user, as the certificate's common name.
pub const DEFAULT_NODE_TEMPLATE: &str = "CN:system:node:{node}";

/// The placeholder of a node template.
const NODE_PLACEHOLDER: &str = "{node}";

/// Who may do what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    admin: HashSet<String>,
    reader: HashSet<String>,
    node: NodeTemplate,
}

/// What a caller may do, decided by the policy from its identities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// Client certificates are not required: there are no identities, and everything is
    /// allowed.
    Unrestricted,
    /// Every RPC.
    Admin,
    /// Every read.
    Reader,
    /// Reads of this node's host endpoints, and IP-set members.
    Node(String),
    /// Nothing but health and reflection.
    Denied,
}

/// Why a policy was rejected.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Not the policy's YAML shape.
    #[error(transparent)]
    Yaml(#[from] serde_yaml_ng::Error),
    /// An identity that no certificate can carry.
    #[error("{role}: '{identity}' is not an identity: write CN:<common name> or URI:<uri>")]
    Identity {
        /// The role that lists it.
        role: &'static str,
        /// The listed text.
        identity: String,
    },
    /// A node template without exactly one placeholder.
    #[error(
        "node: '{0}' must be an identity (CN:... or URI:...) holding {{node}} exactly once, \
         such as '{DEFAULT_NODE_TEMPLATE}'"
    )]
    NodeTemplate(String),
}

/// The file's shape.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    admin: Vec<String>,
    #[serde(default)]
    reader: Vec<String>,
    #[serde(default)]
    node: Option<String>,
}

/// A node identity template, split at its placeholder.
#[derive(Clone, Debug, PartialEq, Eq)]
struct NodeTemplate {
    prefix: String,
    suffix: String,
}

// === impl Policy ===

impl Policy {
    /// Parses a policy document. An empty document is the default policy.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let file: Option<PolicyFile> = serde_yaml_ng::from_str(text)?;
        let file = file.unwrap_or(PolicyFile {
            admin: Vec::new(),
            reader: Vec::new(),
            node: None,
        });
        Ok(Self {
            admin: identities("admin", file.admin)?,
            reader: identities("reader", file.reader)?,
            node: NodeTemplate::parse(file.node.as_deref().unwrap_or(DEFAULT_NODE_TEMPLATE))?,
        })
    }

    /// No admins, no readers, nodes by the default template.
    pub fn nodes_only() -> Self {
        Self {
            admin: HashSet::new(),
            reader: HashSet::new(),
            node: NodeTemplate::parse(DEFAULT_NODE_TEMPLATE)
                .unwrap_or_else(|_| unreachable!("the default node template is valid")),
        }
    }

    /// Whether any identity is an admin.
    pub fn has_admins(&self) -> bool {
        !self.admin.is_empty()
    }

    /// The access of a caller with `identities`, and the identity that grants it (the first
    /// one when none does). The widest role wins.
    pub fn access<'a>(&self, identities: &'a [String]) -> (Access, Option<&'a str>) {
        let find = |set: &HashSet<String>| identities.iter().find(|id| set.contains(*id));
        if let Some(id) = find(&self.admin) {
            return (Access::Admin, Some(id));
        }
        if let Some(id) = find(&self.reader) {
            return (Access::Reader, Some(id));
        }
        let node = identities
            .iter()
            .find_map(|id| self.node.node_of(id).map(|node| (node, id)));
        match node {
            Some((node, id)) => (Access::Node(node.to_owned()), Some(id)),
            None => (Access::Denied, identities.first().map(String::as_str)),
        }
    }
}

fn identities(role: &'static str, list: Vec<String>) -> Result<HashSet<String>, PolicyError> {
    list.into_iter()
        .map(|identity| {
            if is_identity(&identity) {
                Ok(identity)
            } else {
                Err(PolicyError::Identity { role, identity })
            }
        })
        .collect()
}

/// Identities are written `CN:<name>` or `URI:<uri>`, as the server derives them.
fn is_identity(text: &str) -> bool {
    ["CN:", "URI:"]
        .iter()
        .any(|kind| text.len() > kind.len() && text.starts_with(kind))
}

// === impl NodeTemplate ===

impl NodeTemplate {
    fn parse(template: &str) -> Result<Self, PolicyError> {
        let invalid = || PolicyError::NodeTemplate(template.to_owned());
        let (prefix, suffix) = template.split_once(NODE_PLACEHOLDER).ok_or_else(invalid)?;
        if suffix.contains(NODE_PLACEHOLDER)
            || !["CN:", "URI:"].iter().any(|k| prefix.starts_with(k))
        {
            return Err(invalid());
        }
        Ok(Self {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
        })
    }

    /// The node an identity names, when it fits the template with a non-empty node.
    fn node_of<'a>(&self, identity: &'a str) -> Option<&'a str> {
        let node = identity
            .strip_prefix(&self.prefix)?
            .strip_suffix(&self.suffix)?;
        Some(node).filter(|n| !n.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    const SAMPLE: &str = r#"
admin:  ["CN:calico-admin", "URI:spiffe://cluster.local/ns/calico-system/sa/calico-kube-controllers"]
reader: ["URI:spiffe://cluster.local/ns/monitoring/sa/prometheus"]
node:   "CN:system:node:{node}"
"#;

    #[test]
    fn the_widest_role_wins() {
        let policy = Policy::parse(SAMPLE).expect("valid");
        let both = ids(&["CN:system:node:a", "CN:calico-admin"]);
        assert_eq!(
            policy.access(&both),
            (Access::Admin, Some("CN:calico-admin"))
        );
        let reader = ids(&["URI:spiffe://cluster.local/ns/monitoring/sa/prometheus"]);
        assert_eq!(policy.access(&reader).0, Access::Reader);
        let node = ids(&["CN:system:node:host-1"]);
        assert_eq!(policy.access(&node).0, Access::Node("host-1".into()));
        assert_eq!(policy.access(&ids(&["CN:system:node:"])).0, Access::Denied);
        assert_eq!(
            policy.access(&ids(&["CN:stranger"])),
            (Access::Denied, Some("CN:stranger"))
        );
        assert_eq!(policy.access(&[]), (Access::Denied, None));
    }

    #[test]
    fn uri_templates_match_in_the_middle() {
        let policy = Policy::parse(r#"node: "URI:spiffe://cluster.local/node/{node}/agent""#)
            .expect("valid");
        let id = ids(&["URI:spiffe://cluster.local/node/n7/agent"]);
        assert_eq!(policy.access(&id).0, Access::Node("n7".into()));
        let other = ids(&["URI:spiffe://cluster.local/node/n7/other"]);
        assert_eq!(policy.access(&other).0, Access::Denied);
    }

    #[test]
    fn an_empty_document_is_the_default() {
        assert_eq!(Policy::parse("").expect("valid"), Policy::nodes_only());
        assert!(!Policy::nodes_only().has_admins());
    }

    #[test]
    fn mistakes_are_named() {
        for (text, expected) in [
            (
                "admin: [calico-admin]",
                "admin: 'calico-admin' is not an identity",
            ),
            (
                "node: 'CN:system:node'",
                "node: 'CN:system:node' must be an identity",
            ),
            ("node: 'CN:{node}{node}'", "holding {node} exactly once"),
            ("node: 'system:{node}'", "must be an identity"),
            ("admins: []", "unknown field `admins`"),
            ("admin: CN:x", "invalid type"),
        ] {
            let err = Policy::parse(text).expect_err(text).to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
