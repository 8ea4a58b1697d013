//! Calico's validation rules for a HostEndpoint (spec sections 1 and 2), applied while turning
//! a [`pb::HostEndpoint`] into a [`model::HostEndpoint`].
//!
//! All violations are collected, not just the first, as Calico's validator does. Field paths
//! are relative to the object and use the JSON names users see in YAML and in grpcurl output:
//! `metadata.name`, `spec.expectedIPs[0]`, `spec.ports[1].name`, `metadata.labels["key"]`.

use std::{
    collections::BTreeMap,
    fmt,
    net::IpAddr,
    sync::LazyLock,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use regex::Regex;

use crate::{model, pb};

/// The longest name, node name or label-key prefix: a DNS-1123 subdomain.
pub const MAX_NAME_LEN: usize = 253;
/// The longest label value and label-key name part.
pub const MAX_LABEL_PART_LEN: usize = 63;
/// The most bytes all annotation keys and values may total (Kubernetes' limit).
pub const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;
/// The longest Linux interface name (IFNAMSIZ - 1).
pub const MAX_INTERFACE_NAME_LEN: usize = 15;
/// The longest port name (IANA service names).
pub const MAX_PORT_NAME_LEN: usize = 15;

const DNS1123_SUBDOMAIN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
const NAME_REASON: &str = "must consist of lower case alphanumeric characters, '-' or '.', and \
    must start and end with an alphanumeric character (regex: \
    [a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)";

static SUBDOMAIN_RE: LazyLock<Regex> = LazyLock::new(|| compile(DNS1123_SUBDOMAIN));
static QUALIFIED_NAME_PART_RE: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"));
static LABEL_VALUE_RE: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"));
static INTERFACE_RE: LazyLock<Regex> = LazyLock::new(|| compile(r"^[a-zA-Z0-9_.-]{1,15}$"));
static PORT_NAME_RE: LazyLock<Regex> = LazyLock::new(|| compile(r"^[-a-z0-9]+$"));

fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the validation patterns are constant and valid")
}

/// One broken rule: which field, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's path within the object, such as `spec.ports[1].name`.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// Every rule an object broke, in field order. Never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violations(pub Vec<FieldViolation>);

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(
                f,
                "invalid host endpoint: {}: {}",
                one.field, one.description
            ),
            many => {
                write!(f, "invalid host endpoint ({} fields):", many.len())?;
                for (i, v) in many.iter().enumerate() {
                    let sep = if i == 0 { " " } else { "; " };
                    write!(f, "{sep}{}: {}", v.field, v.description)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Violations {}

/// Collects violations while a conversion walks an object.
#[derive(Debug, Default)]
struct Collector(Vec<FieldViolation>);

impl Collector {
    fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    fn finish<T>(self, value: T) -> Result<T, Violations> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(Violations(self.0))
        }
    }
}

/// Validates a host endpoint from the API and converts it to the domain model.
///
/// Server-set metadata (uid, resource_version, creation_timestamp) is carried over unchecked:
/// whether it may be set depends on the operation, which the caller decides.
pub fn host_endpoint(input: pb::HostEndpoint) -> Result<model::HostEndpoint, Violations> {
    let mut errors = Collector::default();
    let metadata = object_meta(input.metadata.unwrap_or_default(), &mut errors);
    let spec = spec(input.spec.unwrap_or_default(), &mut errors);
    errors.finish(model::HostEndpoint { metadata, spec })
}

/// Validates the name of an object, as given to Get or Delete.
pub fn object_name(name: &str) -> Result<(), Violations> {
    let mut errors = Collector::default();
    check_name("name", name, &mut errors);
    errors.finish(())
}

fn object_meta(meta: pb::ObjectMeta, errors: &mut Collector) -> model::ObjectMeta {
    check_name("metadata.name", &meta.name, errors);
    // Sorted, so violations come in the same (field) order on every request; the wire map's
    // iteration order is random.
    let labels: BTreeMap<_, _> = meta.labels.iter().collect();
    for (key, value) in labels {
        check_label("metadata.labels", key, value, errors);
    }
    check_annotations(&meta.annotations, errors);
    let creation_timestamp = meta
        .creation_timestamp
        .and_then(|t| timestamp("metadata.creationTimestamp", t, errors));
    model::ObjectMeta {
        name: meta.name,
        labels: meta.labels.into_iter().collect(),
        annotations: meta.annotations.into_iter().collect(),
        uid: meta.uid,
        resource_version: meta.resource_version,
        creation_timestamp,
    }
}

fn spec(spec: pb::HostEndpointSpec, errors: &mut Collector) -> model::HostEndpointSpec {
    check_node(&spec.node, errors);
    check_interface(&spec.interface_name, errors);
    if spec.interface_name.is_empty() && spec.expected_ips.is_empty() {
        errors.add(
            "spec.interfaceName",
            "at least one of interfaceName or expectedIPs must be specified",
        );
    }
    for (i, ip) in spec.expected_ips.iter().enumerate() {
        check_ip(&format!("spec.expectedIPs[{i}]"), ip, errors);
    }
    for (i, profile) in spec.profiles.iter().enumerate() {
        check_subdomain(&format!("spec.profiles[{i}]"), profile, errors);
    }
    let ports = spec
        .ports
        .into_iter()
        .enumerate()
        .filter_map(|(i, port)| endpoint_port(&format!("spec.ports[{i}]"), port, errors))
        .collect();
    model::HostEndpointSpec {
        node: spec.node,
        interface_name: spec.interface_name,
        expected_ips: spec.expected_ips,
        profiles: spec.profiles,
        ports,
    }
}

fn check_name(field: &str, name: &str, errors: &mut Collector) {
    if name.is_empty() {
        errors.add(field, "name must be specified");
    } else if name.len() > MAX_NAME_LEN {
        let over = name.len() - MAX_NAME_LEN;
        errors.add(field, format!("name is too long by {over} bytes"));
    } else if !SUBDOMAIN_RE.is_match(name) {
        errors.add(field, format!("name {NAME_REASON}"));
    }
}

fn check_subdomain(field: &str, value: &str, errors: &mut Collector) {
    if !SUBDOMAIN_RE.is_match(value) {
        errors.add(field, format!("'{value}' {NAME_REASON}"));
    }
}

fn check_node(node: &str, errors: &mut Collector) {
    const FIELD: &str = "spec.node";
    if node.is_empty() {
        errors.add(FIELD, "node must be specified");
    } else if node.len() > MAX_NAME_LEN {
        errors.add(FIELD, format!("must be at most {MAX_NAME_LEN} characters"));
    } else {
        check_subdomain(FIELD, node, errors);
    }
}

fn check_interface(name: &str, errors: &mut Collector) {
    if !name.is_empty() && name != "*" && !INTERFACE_RE.is_match(name) {
        errors.add(
            "spec.interfaceName",
            format!(
                "'{name}' is not a valid interface name: use '*' or 1 to \
                 {MAX_INTERFACE_NAME_LEN} of the characters a-z, A-Z, 0-9, '_', '.', '-'"
            ),
        );
    }
}

fn check_ip(field: &str, ip: &str, errors: &mut Collector) {
    if ip.parse::<IpAddr>().is_err() {
        let hint = if ip.contains('/') {
            ": a bare address is expected, not a CIDR"
        } else {
            ""
        };
        errors.add(field, format!("'{ip}' is not a valid IP address{hint}"));
    }
}

fn endpoint_port(
    field: &str,
    port: pb::EndpointPort,
    errors: &mut Collector,
) -> Option<model::EndpointPort> {
    let name_ok = check_port_name(&format!("{field}.name"), &port.name, errors);
    // Calico decodes a protocol string that is a base-10 uint8 as that number, so "06" is
    // protocol 6 (TCP) and reads back as 6.
    let protocol = match protocol_number(&port.protocol) {
        Some(number) => model::PortProtocol::parse(&number.to_string()),
        None => model::PortProtocol::parse(&port.protocol),
    };
    if protocol.is_none() {
        errors.add(format!("{field}.protocol"), protocol_reason(&port.protocol));
    }
    let number = u16::try_from(port.port).ok().filter(|p| *p > 0);
    if number.is_none() {
        errors.add(
            format!("{field}.port"),
            format!("port {} is out of range: must be 1 to 65535", port.port),
        );
    }
    Some(model::EndpointPort {
        name: port.name,
        protocol: protocol?,
        port: number?,
    })
    .filter(|_| name_ok)
}

fn protocol_reason(protocol: &str) -> String {
    const SUPPORTED: &str = "TCP, UDP, SCTP, 6, 17 or 132";
    match protocol {
        "" => format!("protocol must be specified: {SUPPORTED}"),
        "ICMP" | "ICMPv6" | "UDPLite" => {
            format!("EndpointPort protocol does not support ports: use {SUPPORTED}")
        }
        other => match protocol_number(other) {
            Some(_) => format!("EndpointPort protocol does not support ports: use {SUPPORTED}"),
            None => format!("protocol name invalid: '{other}' (case-sensitive): use {SUPPORTED}"),
        },
    }
}

/// The protocol number a string stands for, as Go's `strconv.ParseUint(s, 10, 8)` reads it:
/// only ASCII digits (leading zeros allowed, no sign), at most 255. Rust's `u8::from_str` also
/// takes a leading '+', which Calico keeps as a (then invalid) protocol name.
fn protocol_number(text: &str) -> Option<u8> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Kubernetes' IANA service-name rule (`IsValidPortName`).
fn check_port_name(field: &str, name: &str, errors: &mut Collector) -> bool {
    let reason = if name.is_empty() {
        Some("port name must be specified".to_owned())
    } else if name.len() > MAX_PORT_NAME_LEN {
        Some(format!(
            "must be no more than {MAX_PORT_NAME_LEN} characters"
        ))
    } else if !PORT_NAME_RE.is_match(name) {
        Some("must contain only lower-case alphanumeric characters (a-z, 0-9), and '-'".into())
    } else if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        Some("must contain at least one letter (a-z)".into())
    } else if name.contains("--") {
        Some("must not contain consecutive hyphens".into())
    } else if name.starts_with('-') || name.ends_with('-') {
        Some("must not begin or end with a hyphen".into())
    } else {
        None
    };
    match reason {
        Some(reason) => {
            errors.add(
                field,
                format!("'{name}' is not a valid port name: {reason}"),
            );
            false
        }
        None => true,
    }
}

fn check_label(map: &str, key: &str, value: &str, errors: &mut Collector) {
    let field = format!("{map}[{key:?}]");
    if let Err(reason) = qualified_name(key) {
        errors.add(&field, format!("key '{key}' {reason}"));
    }
    if value.len() > MAX_LABEL_PART_LEN {
        errors.add(
            &field,
            format!("value must be no more than {MAX_LABEL_PART_LEN} characters"),
        );
    } else if !LABEL_VALUE_RE.is_match(value) {
        errors.add(
            &field,
            format!(
                "value '{value}' must be empty or consist of alphanumeric characters, '-', '_' \
                 or '.', and must start and end with an alphanumeric character"
            ),
        );
    }
}

fn check_annotations(
    annotations: &std::collections::HashMap<String, String>,
    errors: &mut Collector,
) {
    let sorted: BTreeMap<_, _> = annotations.iter().collect();
    let mut total = 0usize;
    for (key, value) in sorted {
        total += key.len() + value.len();
        // Calico lower-cases annotation keys before this check, so a prefix may be upper case.
        if let Err(reason) = qualified_name(&key.to_lowercase()) {
            errors.add(
                format!("metadata.annotations[{key:?}]"),
                format!("key '{key}' {reason}"),
            );
        }
    }
    if total > MAX_ANNOTATIONS_BYTES {
        errors.add(
            "metadata.annotations",
            format!("may not have more than {MAX_ANNOTATIONS_BYTES} bytes in all (has {total})"),
        );
    }
}

/// Kubernetes' qualified-name rule: an optional DNS-1123 subdomain prefix and `/`, then a name
/// part of at most 63 alphanumerics, '-', '_' and '.' that starts and ends alphanumeric.
fn qualified_name(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            return Err("has an empty prefix".into());
        }
        if prefix.len() > MAX_NAME_LEN {
            return Err(format!(
                "prefix must be no more than {MAX_NAME_LEN} characters"
            ));
        }
        if !SUBDOMAIN_RE.is_match(prefix) {
            return Err(format!("prefix {NAME_REASON}"));
        }
    }
    if name.is_empty() {
        return Err("name part must be non-empty".into());
    }
    if name.len() > MAX_LABEL_PART_LEN {
        return Err(format!(
            "name part must be no more than {MAX_LABEL_PART_LEN} characters"
        ));
    }
    if !QUALIFIED_NAME_PART_RE.is_match(name) {
        return Err(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and \
                    must start and end with an alphanumeric character (at most one '/')"
                .into(),
        );
    }
    Ok(())
}

fn timestamp(field: &str, t: prost_types::Timestamp, errors: &mut Collector) -> Option<SystemTime> {
    let valid = t.seconds >= 0 && (0..1_000_000_000).contains(&t.nanos);
    if !valid {
        errors.add(field, "must be a timestamp after 1970 with nanos in 0..1e9");
        return None;
    }
    let since_epoch = Duration::new(t.seconds.unsigned_abs(), t.nanos.unsigned_abs());
    Some(UNIX_EPOCH + since_epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_errors(f: impl FnOnce(&mut Collector)) -> Vec<String> {
        let mut errors = Collector::default();
        f(&mut errors);
        errors.0.into_iter().map(|v| v.description).collect()
    }

    #[test]
    fn qualified_names_follow_kubernetes() {
        for ok in ["a", "A_b.c-d", "example.com/Key", "a/b", &"x".repeat(63)] {
            assert_eq!(qualified_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "/a",
            "a/",
            "a/b/c",
            "-a",
            "a-",
            "Example.com/a",
            &"x".repeat(64),
            "a b",
        ] {
            assert!(qualified_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn port_names_follow_iana() {
        for ok in ["http", "web-8080", "a", "a1-b2"] {
            assert!(
                field_errors(|e| {
                    check_port_name("p", ok, e);
                })
                .is_empty()
            );
        }
        for bad in [
            "",
            "HTTP",
            "8080",
            "a--b",
            "-http",
            "http-",
            "a_b",
            "a.b",
            "abcdefghijklmnop",
        ] {
            assert_eq!(
                field_errors(|e| {
                    check_port_name("p", bad, e);
                })
                .len(),
                1,
                "{bad}"
            );
        }
    }
}
