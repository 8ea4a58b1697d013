//! `WatchHostEndpointsResponse`, written by hand so that a watch event's object can be
//! encoded once and shared by every watcher that receives it.
//!
//! The server builds responses from [`EventFrame`]s whose object part is already protobuf
//! bytes ([`bytes::Bytes`], shared by reference count); clients decode into
//! [`WatchHostEndpointsResponse::events`] like any generated message. On the wire the two are
//! the same message, `hostendpoint.v1.WatchHostEndpointsResponse`.

use bytes::{Buf, BufMut, Bytes};
use prost::{
    DecodeError, Message,
    encoding::{self, DecodeContext, WireType},
};

use crate::{encoded, pb};

const EVENTS_TAG: u32 = 1;
const EVENT_TYPE_TAG: u32 = 1;
const EVENT_OBJECT_TAG: u32 = 2;
const EVENT_REVISION_TAG: u32 = 3;

/// A batch of watch events (`hostendpoint.v1.WatchHostEndpointsResponse`).
#[derive(Clone, Default, PartialEq)]
pub struct WatchHostEndpointsResponse {
    /// The events, decoded (on a client) or built (in tests).
    pub events: Vec<pb::WatchEvent>,
    /// Pre-encoded events, written after `events` (on the server).
    frames: Vec<EventFrame>,
}

/// One pre-encoded watch event: its type and revision, and its object as protobuf bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct EventFrame {
    kind: pb::EventType,
    object: Option<Bytes>,
    revision: u64,
}

// === impl EventFrame ===

impl EventFrame {
    /// An ADDED, MODIFIED or DELETED event for an object already encoded as a
    /// `hostendpoint.v1.HostEndpoint`.
    pub fn object(kind: pb::EventType, encoded_object: Bytes, revision: u64) -> Self {
        Self {
            kind,
            object: Some(encoded_object),
            revision,
        }
    }

    /// A SYNCED or BOOKMARK event.
    pub fn marker(kind: pb::EventType, revision: u64) -> Self {
        Self {
            kind,
            object: None,
            revision,
        }
    }

    /// What the event reports.
    pub fn kind(&self) -> pb::EventType {
        self.kind
    }

    /// The event's revision.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The size of the encoded object, 0 for a marker.
    pub fn object_len(&self) -> usize {
        self.object.as_ref().map_or(0, Bytes::len)
    }

    /// The length of the encoded `WatchEvent`.
    fn body_len(&self) -> usize {
        let kind = self.kind as i32;
        let kind_len = if kind == 0 {
            0
        } else {
            encoding::int32::encoded_len(EVENT_TYPE_TAG, &kind)
        };
        let object_len = self.object.as_ref().map_or(0, |bytes| {
            encoded::delimited_len(EVENT_OBJECT_TAG, bytes.len())
        });
        let revision_len = if self.revision == 0 {
            0
        } else {
            encoding::uint64::encoded_len(EVENT_REVISION_TAG, &self.revision)
        };
        kind_len + object_len + revision_len
    }

    /// The length of this event as one entry of the `events` field.
    fn field_len(&self) -> usize {
        encoded::delimited_len(EVENTS_TAG, self.body_len())
    }

    fn encode_field(&self, buf: &mut impl BufMut) {
        encoded::encode_delimited_header(EVENTS_TAG, self.body_len(), buf);
        let kind = self.kind as i32;
        if kind != 0 {
            encoding::int32::encode(EVENT_TYPE_TAG, &kind, buf);
        }
        if let Some(bytes) = &self.object {
            encoded::encode_message(EVENT_OBJECT_TAG, bytes, buf);
        }
        if self.revision != 0 {
            encoding::uint64::encode(EVENT_REVISION_TAG, &self.revision, buf);
        }
    }
}

// === impl WatchHostEndpointsResponse ===

impl WatchHostEndpointsResponse {
    /// A batch of pre-encoded events.
    pub fn from_frames(frames: Vec<EventFrame>) -> Self {
        Self {
            events: Vec::new(),
            frames,
        }
    }

    /// The pre-encoded events of this batch.
    pub fn frames(&self) -> &[EventFrame] {
        &self.frames
    }
}

impl std::fmt::Debug for WatchHostEndpointsResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchHostEndpointsResponse")
            .field("events", &self.events)
            .field("frames", &self.frames.len())
            .finish()
    }
}

impl Message for WatchHostEndpointsResponse {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        encoding::message::encode_repeated(EVENTS_TAG, &self.events, buf);
        for frame in &self.frames {
            frame.encode_field(buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        if tag == EVENTS_TAG {
            encoding::message::merge_repeated(wire_type, &mut self.events, buf, ctx)
        } else {
            encoding::skip_field(wire_type, tag, buf, ctx)
        }
    }

    fn encoded_len(&self) -> usize {
        encoding::message::encoded_len_repeated(EVENTS_TAG, &self.events)
            + self.frames.iter().map(EventFrame::field_len).sum::<usize>()
    }

    fn clear(&mut self) {
        self.events.clear();
        self.frames.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_object(name: &str, revision: u64) -> pb::HostEndpoint {
        pb::HostEndpoint {
            metadata: Some(pb::ObjectMeta {
                name: name.into(),
                resource_version: revision,
                ..Default::default()
            }),
            spec: Some(pb::HostEndpointSpec {
                node: "n".into(),
                interface_name: "eth0".into(),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn frames_encode_exactly_like_decoded_events() {
        let object = mk_object("a", 300);
        let events = vec![
            pb::WatchEvent {
                r#type: pb::EventType::Added as i32,
                host_endpoint: Some(object.clone()),
                resource_version: 300,
            },
            pb::WatchEvent {
                r#type: pb::EventType::Synced as i32,
                host_endpoint: None,
                resource_version: 300,
            },
        ];
        let frames = vec![
            EventFrame::object(pb::EventType::Added, object.encode_to_vec().into(), 300),
            EventFrame::marker(pb::EventType::Synced, 300),
        ];
        let from_frames = WatchHostEndpointsResponse::from_frames(frames);
        let from_events = WatchHostEndpointsResponse {
            events: events.clone(),
            frames: Vec::new(),
        };
        let bytes = from_frames.encode_to_vec();
        assert_eq!(bytes, from_events.encode_to_vec());
        assert_eq!(bytes.len(), from_frames.encoded_len());
        let decoded = WatchHostEndpointsResponse::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(decoded.events, events);
    }
}
