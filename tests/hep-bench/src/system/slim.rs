//! The answers to a get by name, decoded only as far as the load generator checks them: the
//! object's name (etcd: its key) and its revision, on every system alike. prost skips the
//! fields these messages do not declare (the object's labels, spec and the rest; etcd's value),
//! so neither side pays for decoding an object that nobody looks at, and the load generator,
//! which shares the machine's cores with the servers, leaves them more CPU. Listings still
//! decode every object (protobuf, Calico's JSON), as a client that builds its cache does.
//!
//! The names and keys are `Bytes`: shared slices of the received buffer, with no copy.

use prost::bytes::Bytes;

/// `hostendpoint.v1.GetHostEndpointResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct GetResponse {
    #[prost(message, optional, tag = "1")]
    pub(super) host_endpoint: Option<HostEndpoint>,
}

/// `hostendpoint.v1.HostEndpoint` without its spec (field 2).
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct HostEndpoint {
    #[prost(message, optional, tag = "1")]
    pub(super) metadata: Option<ObjectMeta>,
}

/// `hostendpoint.v1.ObjectMeta`: the name and the resource version, nothing else.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct ObjectMeta {
    /// A `string` on the wire; read as bytes, which only skips the UTF-8 check.
    #[prost(bytes = "bytes", tag = "1")]
    pub(super) name: Bytes,
    #[prost(uint64, tag = "5")]
    pub(super) resource_version: u64,
}

/// `etcdserverpb.RangeResponse` without its header and flags.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct RangeResponse {
    #[prost(message, repeated, tag = "2")]
    pub(super) kvs: Vec<KeyValue>,
}

/// `mvccpb.KeyValue`: the key and its mod revision, without the value (field 5).
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct KeyValue {
    #[prost(bytes = "bytes", tag = "1")]
    pub(super) key: Bytes,
    #[prost(int64, tag = "3")]
    pub(super) mod_revision: i64,
}

#[cfg(test)]
mod tests {
    use hostendpointd::store::etcd::proto::{etcdserverpb, mvccpb};
    use prost::Message as _;

    use super::*;
    use crate::workload::{Version, Workload};

    #[test]
    fn a_get_answer_decodes_to_its_name_and_revision() {
        let object = Workload::new(10).pb(Version::new(7, 1), 42);
        // The server writes this answer from a cached encoding: field 1, the object.
        let mut answer = Vec::new();
        prost::encoding::message::encode(1, &object, &mut answer);
        let slim = GetResponse::decode(answer.as_slice()).expect("decodes");
        let meta = slim
            .host_endpoint
            .and_then(|h| h.metadata)
            .expect("has metadata");
        assert_eq!(meta.name, Workload::name(7).as_bytes());
        assert_eq!(meta.resource_version, 42);
    }

    #[test]
    fn a_range_answer_decodes_to_its_keys_and_revisions() {
        let answer = etcdserverpb::RangeResponse {
            kvs: vec![mvccpb::KeyValue {
                key: Workload::etcd_key(7).into_bytes(),
                mod_revision: 42,
                value: Workload::new(10).calico_json(Version::new(7, 1)),
                ..Default::default()
            }],
            count: 1,
            ..Default::default()
        };
        let slim = RangeResponse::decode(answer.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(slim.kvs.len(), 1);
        assert_eq!(slim.kvs[0].key, Workload::etcd_key(7).as_bytes());
        assert_eq!(slim.kvs[0].mod_revision, 42);
    }
}
