//! The sled store's private on-disk encoding.
//!
//! sled's keys live in one tree under two prefixes: `meta/…` (format version, store uid,
//! revision) and `obj/<name>` (the current objects). The write-ahead log's records, which are
//! also the change history, are encoded changes. Values are protobuf messages defined here,
//! not the API's, so the API can evolve without touching stored data; [`FORMAT_VERSION`] names
//! this layout and a store written with any other version is refused at start-up.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hostendpoint_api::model::{
    self, EndpointPort, HostEndpoint, HostEndpointSpec, ObjectMeta, PortProtocol, Revision,
    StringMap,
};
use prost::Message;

use crate::store::{Change, Object};

/// The version of this on-disk layout: the keys below, and the write-ahead log in `wal/`
/// holding the history.
pub(super) const FORMAT_VERSION: u32 = 3;
/// Earlier layouts with the history in sled under `log/` (2 also with a write-ahead log);
/// upgraded in place.
pub(super) const FORMAT_VERSIONS_TO_UPGRADE: [u32; 2] = [1, 2];

pub(super) const KEY_FORMAT: &[u8] = b"meta/format";
pub(super) const KEY_STORE_UID: &[u8] = b"meta/store_uid";
pub(super) const KEY_REVISION: &[u8] = b"meta/revision";
pub(super) const OBJECT_PREFIX: &[u8] = b"obj/";

/// Why stored bytes could not be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum DecodeError {
    #[error("malformed record: {cause}")]
    Protobuf { cause: prost::DecodeError },
    #[error("malformed {what}: expected {expected} bytes, found {found}")]
    Length {
        what: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("unknown port protocol number {0}")]
    Protocol(u32),
    #[error("port {0} out of range")]
    Port(u32),
    #[error("creation time {seconds}.{nanos:09} s after the epoch out of range")]
    Time { seconds: u64, nanos: u32 },
}

impl From<prost::DecodeError> for DecodeError {
    fn from(cause: prost::DecodeError) -> Self {
        Self::Protobuf { cause }
    }
}

#[derive(Clone, PartialEq, Message)]
struct DiskHostEndpoint {
    #[prost(string, tag = "1")]
    name: String,
    /// A protobuf `map<string, string>`, whose wire form is a repeated key-value message;
    /// decoded as that list so that no map is built only to be turned into a `StringMap`.
    #[prost(message, repeated, tag = "2")]
    labels: Vec<DiskEntry>,
    #[prost(message, repeated, tag = "3")]
    annotations: Vec<DiskEntry>,
    #[prost(string, tag = "4")]
    uid: String,
    #[prost(uint64, tag = "5")]
    resource_version: u64,
    /// Seconds and nanoseconds since the epoch; absent before creation.
    #[prost(message, optional, tag = "6")]
    created: Option<DiskTime>,
    #[prost(string, tag = "7")]
    node: String,
    #[prost(string, tag = "8")]
    interface_name: String,
    #[prost(string, repeated, tag = "9")]
    expected_ips: Vec<String>,
    #[prost(string, repeated, tag = "10")]
    profiles: Vec<String>,
    #[prost(message, repeated, tag = "11")]
    ports: Vec<DiskPort>,
}

/// One entry of a protobuf `map<string, string>`.
#[derive(Clone, PartialEq, Message)]
struct DiskEntry {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, Message)]
struct DiskTime {
    #[prost(uint64, tag = "1")]
    seconds: u64,
    #[prost(uint32, tag = "2")]
    nanos: u32,
}

#[derive(Clone, PartialEq, Message)]
struct DiskPort {
    #[prost(string, tag = "1")]
    name: String,
    /// The IANA protocol number.
    #[prost(uint32, tag = "2")]
    protocol: u32,
    /// Whether the user wrote the protocol as a number.
    #[prost(bool, tag = "3")]
    numeric: bool,
    #[prost(uint32, tag = "4")]
    port: u32,
}

#[derive(Clone, PartialEq, Message)]
struct DiskChange {
    #[prost(uint64, tag = "1")]
    revision: u64,
    #[prost(message, optional, tag = "2")]
    prev: Option<DiskHostEndpoint>,
    #[prost(message, optional, tag = "3")]
    next: Option<DiskHostEndpoint>,
}

/// [`DiskChange`] read for its revision alone; protobuf skips the objects.
#[derive(Clone, PartialEq, Message)]
struct DiskChangeRevision {
    #[prost(uint64, tag = "1")]
    revision: u64,
}

pub(super) fn object_key(name: &str) -> Vec<u8> {
    [OBJECT_PREFIX, name.as_bytes()].concat()
}

pub(super) fn encode_u64(value: u64) -> [u8; 8] {
    value.to_be_bytes()
}

pub(super) fn decode_u64(what: &'static str, bytes: &[u8]) -> Result<u64, DecodeError> {
    let array: [u8; 8] = bytes.try_into().map_err(|_| DecodeError::Length {
        what,
        expected: 8,
        found: bytes.len(),
    })?;
    Ok(u64::from_be_bytes(array))
}

pub(super) fn decode_u32(what: &'static str, bytes: &[u8]) -> Result<u32, DecodeError> {
    let array: [u8; 4] = bytes.try_into().map_err(|_| DecodeError::Length {
        what,
        expected: 4,
        found: bytes.len(),
    })?;
    Ok(u32::from_be_bytes(array))
}

pub(super) fn encode_object(hep: &HostEndpoint) -> Vec<u8> {
    to_disk(hep).encode_to_vec()
}

pub(super) fn decode_object(bytes: &[u8]) -> Result<HostEndpoint, DecodeError> {
    from_disk(DiskHostEndpoint::decode(bytes)?)
}

pub(super) fn encode_change(change: &Change) -> Vec<u8> {
    DiskChange {
        revision: change.revision,
        prev: change.prev.as_deref().map(|o| to_disk(o)),
        next: change.next.as_deref().map(|o| to_disk(o)),
    }
    .encode_to_vec()
}

/// The revision of an encoded change, without decoding its objects.
pub(super) fn change_revision(bytes: &[u8]) -> Result<Revision, DecodeError> {
    Ok(DiskChangeRevision::decode(bytes)?.revision)
}

pub(super) fn decode_change(bytes: &[u8]) -> Result<Change, DecodeError> {
    let disk = DiskChange::decode(bytes)?;
    let object =
        |d: Option<DiskHostEndpoint>| d.map(from_disk).transpose().map(|h| h.map(Object::new));
    Ok(Change::new(
        disk.revision,
        object(disk.prev)?,
        object(disk.next)?,
    ))
}

fn to_disk(hep: &HostEndpoint) -> DiskHostEndpoint {
    let meta = &hep.metadata;
    let spec = &hep.spec;
    DiskHostEndpoint {
        name: meta.name.clone(),
        labels: entries_to_disk(&meta.labels),
        annotations: entries_to_disk(&meta.annotations),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version,
        created: meta.creation_timestamp.map(|t| {
            let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
            DiskTime {
                seconds: since.as_secs(),
                nanos: since.subsec_nanos(),
            }
        }),
        node: spec.node.clone(),
        interface_name: spec.interface_name.clone(),
        expected_ips: spec.expected_ips.clone(),
        profiles: spec.profiles.clone(),
        ports: spec.ports.iter().map(port_to_disk).collect(),
    }
}

fn entries_to_disk(map: &StringMap) -> Vec<DiskEntry> {
    map.iter()
        .map(|(key, value)| DiskEntry {
            key: key.to_owned(),
            value: value.to_owned(),
        })
        .collect()
}

fn entries_from_disk(entries: Vec<DiskEntry>) -> StringMap {
    entries.into_iter().map(|e| (e.key, e.value)).collect()
}

fn port_to_disk(port: &EndpointPort) -> DiskPort {
    DiskPort {
        name: port.name.clone(),
        protocol: u32::from(port.protocol.kind.number()),
        numeric: port.protocol.numeric,
        port: u32::from(port.port),
    }
}

fn from_disk(disk: DiskHostEndpoint) -> Result<HostEndpoint, DecodeError> {
    let ports = disk
        .ports
        .into_iter()
        .map(port_from_disk)
        .collect::<Result<_, _>>()?;
    Ok(HostEndpoint {
        metadata: ObjectMeta {
            name: disk.name,
            labels: entries_from_disk(disk.labels),
            annotations: entries_from_disk(disk.annotations),
            uid: disk.uid,
            resource_version: disk.resource_version,
            creation_timestamp: disk.created.map(time_from_disk).transpose()?,
        },
        spec: HostEndpointSpec {
            node: disk.node,
            interface_name: disk.interface_name,
            expected_ips: disk.expected_ips,
            profiles: disk.profiles,
            ports,
        },
    })
}

/// A damaged record may hold any time: out of range is an error, not a panic.
fn time_from_disk(time: DiskTime) -> Result<SystemTime, DecodeError> {
    let since =
        Duration::from_secs(time.seconds).checked_add(Duration::from_nanos(u64::from(time.nanos)));
    since
        .and_then(|since| UNIX_EPOCH.checked_add(since))
        .ok_or(DecodeError::Time {
            seconds: time.seconds,
            nanos: time.nanos,
        })
}

fn port_from_disk(port: DiskPort) -> Result<EndpointPort, DecodeError> {
    let kind = match port.protocol {
        6 => PortProtocol::Tcp,
        17 => PortProtocol::Udp,
        132 => PortProtocol::Sctp,
        other => return Err(DecodeError::Protocol(other)),
    };
    Ok(EndpointPort {
        name: port.name,
        protocol: model::Protocol {
            kind,
            numeric: port.numeric,
        },
        port: u16::try_from(port.port).map_err(|_| DecodeError::Port(port.port))?,
    })
}

#[cfg(test)]
fn mk_time(seconds: u64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_and_changes_round_trip() {
        let hep = HostEndpoint {
            metadata: ObjectMeta {
                name: "a".into(),
                labels: [("k".to_owned(), "v".to_owned())].into(),
                uid: "u".into(),
                resource_version: 9,
                creation_timestamp: Some(mk_time(1_700_000_000)),
                ..ObjectMeta::default()
            },
            spec: HostEndpointSpec {
                node: "n".into(),
                expected_ips: vec!["10.0.0.1".into()],
                ports: vec![EndpointPort {
                    name: "http".into(),
                    protocol: model::Protocol {
                        kind: PortProtocol::Sctp,
                        numeric: true,
                    },
                    port: 80,
                }],
                ..HostEndpointSpec::default()
            },
        };
        let decoded = decode_object(&encode_object(&hep)).expect("round trip");
        assert_eq!(decoded, hep);
        let change = Change::new(10, Some(Object::new(hep)), None);
        let decoded = decode_change(&encode_change(&change)).expect("round trip");
        assert_eq!(decoded, change);
    }

    /// Labels and annotations were a `btree_map` field before they were decoded as a list of
    /// entries: the bytes on disk are the same either way, so older stores open unchanged.
    #[test]
    fn labels_keep_the_wire_form_of_a_protobuf_map() {
        #[derive(Clone, PartialEq, Message)]
        struct AsMaps {
            #[prost(btree_map = "string, string", tag = "2")]
            labels: std::collections::BTreeMap<String, String>,
            #[prost(btree_map = "string, string", tag = "3")]
            annotations: std::collections::BTreeMap<String, String>,
        }
        let maps = AsMaps {
            labels: [("b", "2"), ("a", ""), ("", "1")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into(),
            annotations: [("note".to_owned(), "x".to_owned())].into(),
        };
        let hep = HostEndpoint {
            metadata: ObjectMeta {
                labels: [("b", "2"), ("a", ""), ("", "1")].into(),
                annotations: [("note", "x")].into(),
                ..ObjectMeta::default()
            },
            spec: HostEndpointSpec::default(),
        };
        assert_eq!(encode_object(&hep), maps.encode_to_vec());
        let decoded = decode_object(&maps.encode_to_vec()).expect("a map's bytes decode");
        assert_eq!(decoded, hep);
    }

    #[test]
    fn a_creation_time_out_of_range_is_an_error_not_a_panic() {
        let disk = DiskHostEndpoint {
            name: "a".into(),
            created: Some(DiskTime {
                seconds: u64::MAX,
                nanos: 999_999_999,
            }),
            ..DiskHostEndpoint::default()
        };
        let err = decode_object(&disk.encode_to_vec()).expect_err("out of range");
        assert!(err.to_string().contains("creation time"), "{err}");
    }
}
