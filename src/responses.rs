//! `GetHostEndpointResponse` and `ListHostEndpointsResponse`, written by hand so that the
//! server sends each stored object as the bytes it encoded once for that object version,
//! instead of building and encoding a protobuf copy per request.
//!
//! The server builds them with `from_encoded`; clients decode into the public fields like
//! any generated message. On the wire they are the messages of `proto/`, field for field.

use bytes::{Buf, BufMut, Bytes};
use prost::{
    DecodeError, Message,
    encoding::{self, DecodeContext, WireType},
};

use crate::{encoded, pb};

const GET_HOST_ENDPOINT_TAG: u32 = 1;

const LIST_HOST_ENDPOINTS_TAG: u32 = 1;
const LIST_NEXT_PAGE_TOKEN_TAG: u32 = 2;
const LIST_RESOURCE_VERSION_TAG: u32 = 3;
const LIST_STORE_UID_TAG: u32 = 4;

/// The answer to a get (`hostendpoint.v1.GetHostEndpointResponse`).
#[derive(Clone, Default, PartialEq)]
pub struct GetHostEndpointResponse {
    /// The host endpoint as stored, decoded (on a client).
    pub host_endpoint: Option<pb::HostEndpoint>,
    /// The host endpoint encoded (on the server); sent only when `host_endpoint` is `None`.
    encoded: Option<Bytes>,
}

/// One page of a listing (`hostendpoint.v1.ListHostEndpointsResponse`).
#[derive(Clone, Default, PartialEq)]
pub struct ListHostEndpointsResponse {
    /// The host endpoints of this page, sorted by name, decoded (on a client).
    pub host_endpoints: Vec<pb::HostEndpoint>,
    /// Pass it as page_token to get the next page; empty on the last page.
    pub next_page_token: String,
    /// The store revision every page of this listing reflects.
    pub resource_version: u64,
    /// Identifies the store; it changes only when the store is wiped or replaced.
    pub store_uid: String,
    /// The host endpoints encoded (on the server), sent after `host_endpoints`.
    encoded: Vec<Bytes>,
}

// === impl GetHostEndpointResponse ===

impl GetHostEndpointResponse {
    /// The answer for an object already encoded as a `hostendpoint.v1.HostEndpoint`.
    pub fn from_encoded(host_endpoint: Bytes) -> Self {
        Self {
            host_endpoint: None,
            encoded: Some(host_endpoint),
        }
    }
}

impl std::fmt::Debug for GetHostEndpointResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetHostEndpointResponse")
            .field("host_endpoint", &self.host_endpoint)
            .field("encoded_len", &self.encoded.as_ref().map(Bytes::len))
            .finish()
    }
}

impl Message for GetHostEndpointResponse {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        encoded::encode_optional(
            GET_HOST_ENDPOINT_TAG,
            self.host_endpoint.as_ref(),
            self.encoded.as_ref(),
            buf,
        );
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        if tag == GET_HOST_ENDPOINT_TAG {
            let value = self.host_endpoint.get_or_insert_with(Default::default);
            encoding::message::merge(wire_type, value, buf, ctx)
        } else {
            encoding::skip_field(wire_type, tag, buf, ctx)
        }
    }

    fn encoded_len(&self) -> usize {
        encoded::encoded_len_optional(
            GET_HOST_ENDPOINT_TAG,
            self.host_endpoint.as_ref(),
            self.encoded.as_ref(),
        )
    }

    fn clear(&mut self) {
        self.host_endpoint = None;
        self.encoded = None;
    }
}

// === impl ListHostEndpointsResponse ===

impl ListHostEndpointsResponse {
    /// A page of objects already encoded as `hostendpoint.v1.HostEndpoint`s, in page order;
    /// the caller sets the other fields.
    pub fn from_encoded(host_endpoints: Vec<Bytes>) -> Self {
        Self {
            encoded: host_endpoints,
            ..Self::default()
        }
    }

    fn scalars_len(&self) -> usize {
        let token = if self.next_page_token.is_empty() {
            0
        } else {
            encoding::string::encoded_len(LIST_NEXT_PAGE_TOKEN_TAG, &self.next_page_token)
        };
        let revision = if self.resource_version == 0 {
            0
        } else {
            encoding::uint64::encoded_len(LIST_RESOURCE_VERSION_TAG, &self.resource_version)
        };
        let uid = if self.store_uid.is_empty() {
            0
        } else {
            encoding::string::encoded_len(LIST_STORE_UID_TAG, &self.store_uid)
        };
        token + revision + uid
    }

    // proto3 fields without presence: a default value is not written.
    fn encode_scalars(&self, buf: &mut impl BufMut) {
        if !self.next_page_token.is_empty() {
            encoding::string::encode(LIST_NEXT_PAGE_TOKEN_TAG, &self.next_page_token, buf);
        }
        if self.resource_version != 0 {
            encoding::uint64::encode(LIST_RESOURCE_VERSION_TAG, &self.resource_version, buf);
        }
        if !self.store_uid.is_empty() {
            encoding::string::encode(LIST_STORE_UID_TAG, &self.store_uid, buf);
        }
    }
}

impl std::fmt::Debug for ListHostEndpointsResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListHostEndpointsResponse")
            .field("host_endpoints", &self.host_endpoints)
            .field("encoded", &self.encoded.len())
            .field("next_page_token", &self.next_page_token)
            .field("resource_version", &self.resource_version)
            .field("store_uid", &self.store_uid)
            .finish()
    }
}

impl Message for ListHostEndpointsResponse {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        encoded::encode_repeated(
            LIST_HOST_ENDPOINTS_TAG,
            &self.host_endpoints,
            &self.encoded,
            buf,
        );
        self.encode_scalars(buf);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            LIST_HOST_ENDPOINTS_TAG => {
                encoding::message::merge_repeated(wire_type, &mut self.host_endpoints, buf, ctx)
            }
            LIST_NEXT_PAGE_TOKEN_TAG => {
                encoding::string::merge(wire_type, &mut self.next_page_token, buf, ctx)
            }
            LIST_RESOURCE_VERSION_TAG => {
                encoding::uint64::merge(wire_type, &mut self.resource_version, buf, ctx)
            }
            LIST_STORE_UID_TAG => encoding::string::merge(wire_type, &mut self.store_uid, buf, ctx),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        encoded::encoded_len_repeated(LIST_HOST_ENDPOINTS_TAG, &self.host_endpoints, &self.encoded)
            + self.scalars_len()
    }

    fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference;

    /// An object with every kind of field; one label, so that its encoding is the same
    /// however a decoder's hash map orders the labels.
    fn mk_object(name: &str, revision: u64) -> pb::HostEndpoint {
        pb::HostEndpoint {
            metadata: Some(pb::ObjectMeta {
                name: name.into(),
                labels: [("role".to_owned(), "db".to_owned())].into(),
                uid: format!("uid-{name}"),
                resource_version: revision,
                creation_timestamp: Some(prost_types::Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 5,
                }),
                ..Default::default()
            }),
            spec: Some(pb::HostEndpointSpec {
                node: "node-1".into(),
                interface_name: "eth0".into(),
                expected_ips: vec!["10.0.0.1".into(), "fd00::1".into()],
                profiles: vec!["kns.default".into()],
                ports: vec![pb::EndpointPort {
                    name: "http".into(),
                    protocol: "TCP".into(),
                    port: 8080,
                }],
            }),
        }
    }

    /// The same object as the generated type of the unmapped messages.
    fn to_reference(object: &pb::HostEndpoint) -> reference::HostEndpoint {
        reference::HostEndpoint::decode(object.encode_to_vec().as_slice()).expect("decodes")
    }

    /// A server-built page of `objects`, its bytes, and the bytes prost's generated code
    /// makes of the same page.
    fn list_cases() -> Vec<(ListHostEndpointsResponse, Vec<u8>, Vec<pb::HostEndpoint>)> {
        let pages: [(usize, &str, u64, &str); 5] = [
            (0, "", 0, ""),
            (0, "", 42, "store-1"),
            (0, "token-after-nothing", 7, "store-1"),
            (1, "", 300, "store-1"),
            (3, "eyJyZXZpc2lvbiI6MzAwfQ", 300, "store-1"),
        ];
        pages
            .into_iter()
            .map(|(count, token, revision, uid)| {
                let objects: Vec<_> = (0..count)
                    .map(|i| mk_object(&format!("hep-{i}"), 100 + i as u64))
                    .collect();
                let generated = reference::ListHostEndpointsResponse {
                    host_endpoints: objects.iter().map(to_reference).collect(),
                    next_page_token: token.into(),
                    resource_version: revision,
                    store_uid: uid.into(),
                };
                let mut built = ListHostEndpointsResponse::from_encoded(
                    objects.iter().map(|o| o.encode_to_vec().into()).collect(),
                );
                built.next_page_token = token.into();
                built.resource_version = revision;
                built.store_uid = uid.into();
                (built, generated.encode_to_vec(), objects)
            })
            .collect()
    }

    #[test]
    fn list_from_encoded_matches_the_generated_encoding() {
        for (built, generated, _) in list_cases() {
            let bytes = built.encode_to_vec();
            assert_eq!(bytes, generated, "{built:?}");
            assert_eq!(built.encoded_len(), bytes.len(), "{built:?}");
        }
    }

    #[test]
    fn list_from_encoded_decodes_to_the_objects() {
        for (built, _, objects) in list_cases() {
            let decoded =
                ListHostEndpointsResponse::decode(built.encode_to_vec().as_slice()).expect("ok");
            let expected = ListHostEndpointsResponse {
                host_endpoints: objects,
                encoded: Vec::new(),
                ..built.clone()
            };
            assert_eq!(decoded, expected);
        }
    }

    #[test]
    fn decoded_list_encodes_like_the_generated_type() {
        for (built, generated, _) in list_cases() {
            let decoded = ListHostEndpointsResponse::decode(generated.as_slice()).expect("ok");
            assert_eq!(decoded.encode_to_vec(), generated, "{built:?}");
            assert_eq!(decoded.encoded_len(), generated.len(), "{built:?}");
        }
    }

    #[test]
    fn list_decoding_skips_unknown_fields() {
        let (built, _, objects) = list_cases().pop().expect("a case");
        let mut bytes = built.encode_to_vec();
        encoding::string::encode(9, &"later".to_owned(), &mut bytes);
        let decoded = ListHostEndpointsResponse::decode(bytes.as_slice()).expect("ok");
        assert_eq!(decoded.host_endpoints, objects);
        assert_eq!(decoded.store_uid, built.store_uid);
    }

    #[test]
    fn get_from_encoded_matches_the_generated_encoding() {
        let object = mk_object("hep-0", 300);
        let built = GetHostEndpointResponse::from_encoded(object.encode_to_vec().into());
        let generated = reference::GetHostEndpointResponse {
            host_endpoint: Some(to_reference(&object)),
        }
        .encode_to_vec();
        let bytes = built.encode_to_vec();
        assert_eq!(bytes, generated);
        assert_eq!(built.encoded_len(), bytes.len());
        let decoded = GetHostEndpointResponse::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(decoded.host_endpoint, Some(object));
        assert_eq!(decoded.encode_to_vec(), generated);
    }

    #[test]
    fn get_of_an_empty_object_still_carries_the_field() {
        let built = GetHostEndpointResponse::from_encoded(Bytes::new());
        let generated = reference::GetHostEndpointResponse {
            host_endpoint: Some(reference::HostEndpoint::default()),
        }
        .encode_to_vec();
        assert_eq!(built.encode_to_vec(), generated);
        let decoded = GetHostEndpointResponse::decode(generated.as_slice()).expect("decodes");
        assert_eq!(decoded.host_endpoint, Some(pb::HostEndpoint::default()));
    }

    #[test]
    fn get_without_an_object_is_empty() {
        assert!(
            GetHostEndpointResponse::default()
                .encode_to_vec()
                .is_empty()
        );
        assert_eq!(GetHostEndpointResponse::default().encoded_len(), 0);
    }
}
