//! The objects of the workload, the same on every system: realistic host endpoints with five
//! labels, one or two expected IPs, two profiles and two named ports. Object `i` lives on node
//! `i % nodes`, so one node's objects are spread over the whole key range, as names and nodes
//! are unrelated in a real cluster.
//!
//! For hostendpointd (on either backend) an object is a `pb::HostEndpoint`; for etcd it is
//! Calico's v3 JSON (`kind`, `apiVersion`, `metadata` without `resourceVersion`, `spec`) at
//! `/calico/resources/v3/projectcalico.org/hostendpoints/<name>`, with the `uid` and
//! `creationTimestamp` that Calico's client sets.

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write as _,
    time::SystemTime,
};

use hostendpoint_api::pb;
use serde::{Deserialize, Serialize};

/// The etcd key prefix of Calico's v3 HostEndpoints.
pub(crate) const ETCD_PREFIX: &str = "/calico/resources/v3/projectcalico.org/hostendpoints/";

/// Generates the objects of a run.
#[derive(Clone, Debug)]
pub(crate) struct Workload {
    nodes: usize,
    created: String,
}

/// The key of the annotation that makes an object large (scenario 9).
const PADDING_ANNOTATION: &str = "hep-bench.example.com/padding";

/// An object's content at one moment: `generation` is a label that every update changes, so
/// that every update is a real change (a write that changes nothing makes no revision).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Version {
    /// The object's index.
    pub(crate) index: usize,
    /// The value of its `generation` label.
    pub(crate) generation: u64,
    /// Bytes of the [`PADDING_ANNOTATION`] value; 0: no annotation (the objects of every
    /// scenario but 9).
    pub(crate) padding: usize,
}

impl Version {
    /// Version `generation` of object `index`, without padding.
    pub(crate) fn new(index: usize, generation: u64) -> Self {
        Self {
            index,
            generation,
            padding: 0,
        }
    }
}

impl Workload {
    /// Objects spread over `nodes` nodes.
    pub(crate) fn new(nodes: usize) -> Self {
        Self {
            nodes: nodes.max(1),
            created: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        }
    }

    /// How many nodes there are.
    pub(crate) fn nodes(&self) -> usize {
        self.nodes
    }

    /// The name of object `index`.
    pub(crate) fn name(index: usize) -> String {
        let mut name = String::new();
        Self::write_name(&mut name, index);
        name
    }

    /// Puts the name of object `index` in `buf`, in place of what it held: a client reuses
    /// one buffer for every call.
    pub(crate) fn write_name(buf: &mut String, index: usize) {
        buf.clear();
        // Writing into a String cannot fail.
        let _ = write!(buf, "hep-{index:07}");
    }

    /// Puts the etcd key of object `index` in `buf`, in place of what it held.
    pub(crate) fn write_etcd_key(buf: &mut String, index: usize) {
        buf.clear();
        buf.push_str(ETCD_PREFIX);
        let _ = write!(buf, "hep-{index:07}");
    }

    /// The node of object `index`.
    pub(crate) fn node_of(&self, index: usize) -> usize {
        index % self.nodes
    }

    /// The name of node `node`.
    pub(crate) fn node_name(node: usize) -> String {
        format!("node-{node:05}")
    }

    /// The etcd key of object `index`.
    pub(crate) fn etcd_key(index: usize) -> String {
        let mut key = String::new();
        Self::write_etcd_key(&mut key, index);
        key
    }

    /// The object for hostendpointd; `resource_version` 0 for a create.
    pub(crate) fn pb(&self, version: Version, resource_version: u64) -> pb::HostEndpoint {
        let Spec {
            node,
            interface_name,
            expected_ips,
            profiles,
            ports,
        } = self.spec(version.index);
        pb::HostEndpoint {
            metadata: Some(pb::ObjectMeta {
                name: Self::name(version.index),
                labels: self.labels(version).into_iter().collect::<HashMap<_, _>>(),
                annotations: annotations(version).into_iter().collect::<HashMap<_, _>>(),
                resource_version,
                ..Default::default()
            }),
            spec: Some(pb::HostEndpointSpec {
                node,
                interface_name,
                expected_ips,
                profiles,
                ports: ports
                    .into_iter()
                    .map(|p| pb::EndpointPort {
                        name: p.name,
                        protocol: p.protocol,
                        port: p.port,
                    })
                    .collect(),
            }),
        }
    }

    /// The object as Calico's v3 JSON, as Calico's etcdv3 datastore stores it.
    pub(crate) fn calico_json(&self, version: Version) -> Vec<u8> {
        let object = CalicoHostEndpoint {
            kind: "HostEndpoint".into(),
            api_version: "projectcalico.org/v3".into(),
            metadata: Metadata {
                name: Self::name(version.index),
                uid: uid(version.index),
                creation_timestamp: self.created.clone(),
                labels: self.labels(version),
                annotations: annotations(version),
            },
            spec: self.spec(version.index),
        };
        serde_json::to_vec(&object).expect("a struct of strings always serializes")
    }

    fn labels(&self, version: Version) -> BTreeMap<String, String> {
        let i = version.index;
        [
            ("environment", "production".to_owned()),
            ("role", ["worker", "ingress", "storage"][i % 3].to_owned()),
            ("topology.kubernetes.io/zone", format!("zone-{}", i % 3)),
            ("kubernetes.io/hostname", Self::node_name(self.node_of(i))),
            ("generation", version.generation.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    fn spec(&self, index: usize) -> Spec {
        let (a, b, c) = ((index >> 16) & 0xff, (index >> 8) & 0xff, index & 0xff);
        let mut expected_ips = vec![format!("10.{a}.{b}.{c}")];
        if index % 2 == 1 {
            expected_ips.push(format!("fd00::{a:x}:{b:x}:{c:x}"));
        }
        Spec {
            node: Self::node_name(self.node_of(index)),
            interface_name: "eth0".into(),
            expected_ips,
            profiles: vec!["kns.default".into(), "host-endpoints".into()],
            ports: vec![
                Port {
                    name: "http".into(),
                    protocol: "TCP".into(),
                    port: 8080,
                },
                Port {
                    name: "metrics".into(),
                    protocol: "TCP".into(),
                    port: 9100,
                },
            ],
        }
    }
}

/// The object's annotations: the padding, if it has any.
fn annotations(version: Version) -> BTreeMap<String, String> {
    (version.padding > 0)
        .then(|| (PADDING_ANNOTATION.to_owned(), "x".repeat(version.padding)))
        .into_iter()
        .collect()
}

/// A stable v4-shaped UUID for object `index`, as Calico sets one at creation.
fn uid(index: usize) -> String {
    let mut x = (index as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        x >> 32,
        (x >> 16) & 0xffff,
        x & 0xfff,
        (x >> 12) & 0xfff,
        index
    )
}

/// Calico's `projectcalico.org/v3` HostEndpoint, in its JSON field order.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CalicoHostEndpoint {
    kind: String,
    api_version: String,
    metadata: Metadata,
    spec: Spec,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    name: String,
    uid: String,
    creation_timestamp: String,
    labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    node: String,
    interface_name: String,
    #[serde(rename = "expectedIPs")]
    expected_ips: Vec<String>,
    profiles: Vec<String>,
    ports: Vec<Port>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Port {
    name: String,
    protocol: String,
    port: u32,
}

impl CalicoHostEndpoint {
    /// Parses a stored value, as Calico's client does for every object it reads.
    pub(crate) fn parse(json: &[u8]) -> anyhow::Result<Self> {
        Ok(serde_json::from_slice(json)?)
    }

    /// The node the object lives on.
    pub(crate) fn node(&self) -> &str {
        &self.spec.node
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calico_json_has_the_v3_shape_without_a_resource_version() {
        let workload = Workload::new(10);
        let json = workload.calico_json(Version::new(13, 2));
        let value: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
        assert_eq!(value["kind"], "HostEndpoint");
        assert_eq!(value["apiVersion"], "projectcalico.org/v3");
        assert_eq!(value["metadata"]["name"], "hep-0000013");
        assert!(value["metadata"].get("resourceVersion").is_none());
        assert_eq!(value["spec"]["node"], "node-00003");
        assert_eq!(
            value["spec"]["expectedIPs"].as_array().map(Vec::len),
            Some(2)
        );
        assert_eq!(value["spec"]["ports"][1]["port"], 9100);
        let parsed = CalicoHostEndpoint::parse(&json).expect("parses back");
        assert_eq!(parsed.node(), "node-00003");
    }

    #[test]
    fn objects_are_valid_host_endpoints() {
        let workload = Workload::new(10);
        for index in [0, 1, 70_000] {
            for padding in [0, 4096] {
                let version = Version {
                    padding,
                    ..Version::new(index, 0)
                };
                let hep = workload.pb(version, 0);
                hostendpoint_api::validation::host_endpoint(hep).expect("the workload is valid");
            }
        }
    }
}
