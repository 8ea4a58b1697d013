//! Stored host endpoints in calicoctl's JSON shape: Go's field order and omitempty rules, which
//! the JSON printer keeps and the YAML printer sorts.

use std::{collections::BTreeMap, time::SystemTime};

use hostendpoint_api::{
    calico,
    model::{EndpointPort, HostEndpoint, HostEndpointSpec, ObjectMeta, Revision},
};

use crate::{
    kind::{API_VERSION, KIND, LIST_KIND},
    output::Node,
};

/// A `HostEndpoint` document.
pub(crate) fn host_endpoint(hep: &HostEndpoint) -> Node {
    Node::Map(vec![
        entry("kind", Node::str(KIND)),
        entry("apiVersion", Node::str(API_VERSION)),
        entry("metadata", object_meta(&hep.metadata)),
        entry("spec", spec(&hep.spec)),
    ])
}

/// A `HostEndpointList` document. `items` is never omitted, so an empty list is `[]`.
///
/// The resourceVersion is printed even when it is 0 (a store that was never written): an
/// etcd revision is never empty, so calicoctl's listings always carry one.
pub(crate) fn list(items: &[HostEndpoint], revision: Revision) -> Node {
    let metadata = vec![entry("resourceVersion", Node::Str(revision.to_string()))];
    Node::Map(vec![
        entry("kind", Node::str(LIST_KIND)),
        entry("apiVersion", Node::str(API_VERSION)),
        entry("metadata", Node::Map(metadata)),
        entry(
            "items",
            Node::Seq(items.iter().map(host_endpoint).collect()),
        ),
    ])
}

/// ObjectMeta in Go's order. creationTimestamp is a struct, which Go's omitempty never
/// omits: an unset one is `null`.
fn object_meta(meta: &ObjectMeta) -> Node {
    let mut fields = Vec::new();
    if !meta.name.is_empty() {
        fields.push(entry("name", Node::str(&meta.name)));
    }
    if !meta.uid.is_empty() {
        fields.push(entry("uid", Node::str(&meta.uid)));
    }
    if meta.resource_version != 0 {
        let rv = Node::Str(meta.resource_version.to_string());
        fields.push(entry("resourceVersion", rv));
    }
    let created = meta.creation_timestamp.map_or(Node::Null, timestamp);
    fields.push(entry("creationTimestamp", created));
    if !meta.labels.is_empty() {
        fields.push(entry("labels", string_map(&meta.labels)));
    }
    if !meta.annotations.is_empty() {
        fields.push(entry("annotations", string_map(&meta.annotations)));
    }
    Node::Map(fields)
}

/// HostEndpointSpec in Go's order; every field is omitempty.
fn spec(spec: &HostEndpointSpec) -> Node {
    let mut fields = Vec::new();
    if !spec.node.is_empty() {
        fields.push(entry("node", Node::str(&spec.node)));
    }
    if !spec.interface_name.is_empty() {
        fields.push(entry("interfaceName", Node::str(&spec.interface_name)));
    }
    if !spec.expected_ips.is_empty() {
        fields.push(entry("expectedIPs", string_list(&spec.expected_ips)));
    }
    if !spec.profiles.is_empty() {
        fields.push(entry("profiles", string_list(&spec.profiles)));
    }
    if !spec.ports.is_empty() {
        fields.push(entry(
            "ports",
            Node::Seq(spec.ports.iter().map(port).collect()),
        ));
    }
    Node::Map(fields)
}

/// EndpointPort: no field is omitempty. The protocol prints as it was written: a number or
/// a name.
fn port(port: &EndpointPort) -> Node {
    let protocol = if port.protocol.numeric {
        Node::Int(port.protocol.kind.number().into())
    } else {
        Node::str(port.protocol.kind.name())
    };
    Node::Map(vec![
        entry("name", Node::str(&port.name)),
        entry("protocol", protocol),
        entry("port", Node::Int(port.port.into())),
    ])
}

fn timestamp(time: SystemTime) -> Node {
    Node::Str(calico::rfc3339(time))
}

/// A Go map: encoding/json sorts its keys, as a BTreeMap iterates them.
fn string_map(map: &BTreeMap<String, String>) -> Node {
    Node::Map(map.iter().map(|(k, v)| (k.clone(), Node::str(v))).collect())
}

fn string_list(items: &[String]) -> Node {
    Node::Seq(items.iter().map(Node::str).collect())
}

fn entry(key: &str, value: Node) -> (String, Node) {
    (key.to_owned(), value)
}
