//! ListIpSetMembers: the members a Calico node puts in the IP set of a policy rule, from the
//! expected IPs and named ports of the host endpoints its selector matches (spec 5.3, 5.5).
//!
//! Labels are the host endpoint's own: profiles' `labelsToApply` are not known to this service.

use std::{collections::BTreeSet, net::IpAddr};

use hostendpoint_api::{
    model::{HostEndpoint, PortProtocol},
    pb,
    selector::Selector,
};
use tonic::Status;

use super::parse_selector;
use crate::status::invalid_field;
use crate::store::Snapshot;

/// A validated ListIpSetMembers request.
#[derive(Debug)]
pub(super) struct Query {
    selector: Option<Selector>,
    /// With a port name: the name, and the protocol (`None` matches any).
    port: Option<(String, Option<PortProtocol>)>,
}

impl Query {
    pub(super) fn parse(request: &pb::ListIpSetMembersRequest) -> Result<Self, Status> {
        let selector = parse_selector(&request.selector)?;
        let protocol = match request.protocol.as_str() {
            "" => None,
            text => Some(PortProtocol::parse(text).map(|p| p.kind).ok_or_else(|| {
                invalid_field(
                    "protocol",
                    "must be TCP, UDP, SCTP, 6, 17 or 132, or empty for any",
                )
            })?),
        };
        let port = match request.port_name.as_str() {
            "" if protocol.is_some() => {
                return Err(invalid_field("protocol", "needs a port_name"));
            }
            "" => None,
            name => Some((name.to_owned(), protocol)),
        };
        Ok(Self { selector, port })
    }

    /// The members, sorted and without duplicates.
    pub(super) fn members(&self, snapshot: &Snapshot) -> Vec<String> {
        let mut members = BTreeSet::new();
        for object in snapshot.iter(None) {
            if self
                .selector
                .as_ref()
                .is_none_or(|s| s.matches(&object.metadata.labels))
            {
                self.add_members(&object, &mut members);
            }
        }
        members.into_iter().collect()
    }

    fn add_members(&self, hep: &HostEndpoint, members: &mut BTreeSet<String>) {
        let ips = hep.spec.expected_ips.iter().filter_map(|ip| felix_ip(ip));
        match &self.port {
            None => members.extend(ips.map(|ip| {
                let prefix = if ip.is_ipv4() { 32 } else { 128 };
                format!("{ip}/{prefix}")
            })),
            Some((name, protocol)) => {
                let ports: Vec<_> = hep
                    .spec
                    .ports
                    .iter()
                    .filter(|p| {
                        &p.name == name && protocol.is_none_or(|want| p.protocol.kind == want)
                    })
                    .collect();
                for ip in ips {
                    for port in &ports {
                        let proto = port.protocol.kind.name().to_ascii_lowercase();
                        members.insert(format!("{ip},{proto}:{}", port.port));
                    }
                }
            }
        }
    }
}

/// An expected IP as Felix reads it: IPv4-mapped IPv6 addresses count as IPv4, and the text is
/// canonical.
fn felix_ip(text: &str) -> Option<IpAddr> {
    match text.parse::<IpAddr>().ok()? {
        IpAddr::V6(v6) => Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)),
        v4 => Some(v4),
    }
}
