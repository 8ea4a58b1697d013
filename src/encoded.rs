//! Message fields whose values were encoded beforehand: the keys, lengths and bytes of such
//! fields, written exactly as prost writes a message field.
//!
//! The hand-written messages of [`crate::frames`] and [`crate::responses`] hold, next to the
//! decoded values a client reads, values the server encoded once and shares ([`Bytes`]);
//! these functions write both kinds of value into one field. Like prost's own encoding
//! functions they are `#[inline]`: they run for every object sent.

use bytes::{BufMut, Bytes};
use prost::{
    Message,
    encoding::{self, WireType},
};

/// The length of a length-delimited field `tag` whose value is `len` bytes.
#[inline]
pub(crate) fn delimited_len(tag: u32, len: usize) -> usize {
    encoding::key_len(tag) + encoding::encoded_len_varint(len as u64) + len
}

/// Writes the key and length of a length-delimited field `tag`; its `len` bytes must follow.
#[inline]
pub(crate) fn encode_delimited_header(tag: u32, len: usize, buf: &mut impl BufMut) {
    encoding::encode_key(tag, WireType::LengthDelimited, buf);
    encoding::encode_varint(len as u64, buf);
}

/// Writes a message field `tag` whose value is the already encoded message `value`.
#[inline]
pub(crate) fn encode_message(tag: u32, value: &[u8], buf: &mut impl BufMut) {
    encode_delimited_header(tag, value.len(), buf);
    buf.put_slice(value);
}

/// Writes a repeated message field: the decoded values, then the encoded ones.
#[inline]
pub(crate) fn encode_repeated<M: Message>(
    tag: u32,
    decoded: &[M],
    encoded: &[Bytes],
    buf: &mut impl BufMut,
) {
    encoding::message::encode_repeated(tag, decoded, buf);
    for value in encoded {
        encode_message(tag, value, buf);
    }
}

/// The length of what [`encode_repeated`] writes.
#[inline]
pub(crate) fn encoded_len_repeated<M: Message>(
    tag: u32,
    decoded: &[M],
    encoded: &[Bytes],
) -> usize {
    encoding::message::encoded_len_repeated(tag, decoded)
        + encoded
            .iter()
            .map(|value| delimited_len(tag, value.len()))
            .sum::<usize>()
}

/// Writes an optional message field: the decoded value when there is one, else the encoded
/// one. Writing both would make a decoder merge them into one value.
#[inline]
pub(crate) fn encode_optional<M: Message>(
    tag: u32,
    decoded: Option<&M>,
    encoded: Option<&Bytes>,
    buf: &mut impl BufMut,
) {
    match (decoded, encoded) {
        (Some(value), _) => encoding::message::encode(tag, value, buf),
        (None, Some(value)) => encode_message(tag, value, buf),
        (None, None) => {}
    }
}

/// The length of what [`encode_optional`] writes.
#[inline]
pub(crate) fn encoded_len_optional<M: Message>(
    tag: u32,
    decoded: Option<&M>,
    encoded: Option<&Bytes>,
) -> usize {
    match (decoded, encoded) {
        (Some(value), _) => encoding::message::encoded_len(tag, value),
        (None, Some(value)) => delimited_len(tag, value.len()),
        (None, None) => 0,
    }
}
