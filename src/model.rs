//! Plain domain types for a Calico HostEndpoint.
//!
//! A value of these types has passed [`crate::validation`]: the store, the watch code and the
//! clients never see an object that Calico would reject. Strings are kept as the user wrote
//! them (as Calico keeps them), so an object reads back exactly as it was written.

use std::{fmt, time::SystemTime};

mod string_map;

pub use string_map::{Iter as StringMapIter, StringMap};

/// A store revision: the value of the store's single counter after a write. Every object
/// carries the revision of its last change as its `resource_version`. Zero means "none".
pub type Revision = u64;

/// A Calico HostEndpoint: a network interface of a host that policy applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostEndpoint {
    /// Name, labels, annotations and the server-set fields.
    pub metadata: ObjectMeta,
    /// The node, interface, addresses, profiles and named ports.
    pub spec: HostEndpointSpec,
}

/// Object metadata of a cluster-scoped resource.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ObjectMeta {
    /// A lower-case DNS-1123 subdomain.
    pub name: String,
    /// Labels for Calico selectors.
    pub labels: StringMap,
    /// Free-form annotations.
    pub annotations: StringMap,
    /// Set by the store at creation; empty before.
    pub uid: String,
    /// The revision of the object's last change; zero before it is stored.
    pub resource_version: Revision,
    /// Set by the store at creation, in whole seconds as Calico prints it; `None` before.
    pub creation_timestamp: Option<SystemTime>,
}

/// What a host endpoint is.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct HostEndpointSpec {
    /// The node the endpoint lives on (never empty).
    pub node: String,
    /// `*`, an interface name, or empty (then `expected_ips` is not).
    pub interface_name: String,
    /// Bare IP addresses, as written; each parses as an [`std::net::IpAddr`].
    pub expected_ips: Vec<String>,
    /// Profile names, in the order they apply.
    pub profiles: Vec<String>,
    /// Named ports; names need not be unique (Calico does not enforce it).
    pub ports: Vec<EndpointPort>,
}

/// A named port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointPort {
    /// An IANA-style port name.
    pub name: String,
    /// A protocol that supports ports.
    pub protocol: Protocol,
    /// 1 to 65535.
    pub port: u16,
}

/// The layer-4 protocols that support ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortProtocol {
    /// TCP, protocol number 6.
    Tcp,
    /// UDP, protocol number 17.
    Udp,
    /// SCTP, protocol number 132.
    Sctp,
}

/// A port's protocol, remembering whether it was written as a name (`TCP`) or a number (`6`),
/// because Calico prints it back the way it was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Protocol {
    /// Which protocol.
    pub kind: PortProtocol,
    /// True when written as a protocol number.
    pub numeric: bool,
}

// === impl PortProtocol ===

impl PortProtocol {
    /// The IANA protocol number.
    pub fn number(self) -> u8 {
        match self {
            Self::Tcp => 6,
            Self::Udp => 17,
            Self::Sctp => 132,
        }
    }

    /// The canonical upper-case name Calico accepts (`TCP`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
            Self::Sctp => "SCTP",
        }
    }

    /// Parses Calico's accepted spellings: `TCP`, `UDP`, `SCTP` (case-sensitive) or 6, 17, 132.
    pub fn parse(text: &str) -> Option<Protocol> {
        let named = |kind| Protocol {
            kind,
            numeric: false,
        };
        let numbered = |kind| Protocol {
            kind,
            numeric: true,
        };
        match text {
            "TCP" => Some(named(Self::Tcp)),
            "UDP" => Some(named(Self::Udp)),
            "SCTP" => Some(named(Self::Sctp)),
            "6" => Some(numbered(Self::Tcp)),
            "17" => Some(numbered(Self::Udp)),
            "132" => Some(numbered(Self::Sctp)),
            _ => None,
        }
    }
}

// === impl Protocol ===

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.numeric {
            write!(f, "{}", self.kind.number())
        } else {
            f.write_str(self.kind.name())
        }
    }
}

// === impl HostEndpoint ===

impl HostEndpoint {
    /// The object's name.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// True when `other` has the same user-owned content (labels, annotations and spec), so
    /// that writing it would change nothing.
    pub fn same_content(&self, other: &HostEndpoint) -> bool {
        self.metadata.labels == other.metadata.labels
            && self.metadata.annotations == other.metadata.annotations
            && self.spec == other.spec
    }
}
