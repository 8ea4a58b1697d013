//! [`SmallCodec`]: tonic's prost codec with buffers sized for a small unary call.
//!
//! tonic gives every call a fresh encoding buffer and every answer a fresh decoding buffer,
//! 8 KiB each by default: two large allocations per get, which glibc serves from its slower
//! paths (a get's request is about 20 bytes, its answer a few hundred). Sized to fit, they
//! come from its per-thread cache. A buffer still grows when a message needs more.

use std::marker::PhantomData;

use prost::Message;
use tonic::codec::{BufferSettings, Codec};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// The buffers' size: a get's request and its answer fit, decoded slim or not.
const BUFFER_BYTES: usize = 1024;
/// When a long stream yields to the runtime; tonic's default (a unary call never reaches it).
const YIELD_THRESHOLD: usize = 32 * 1024;

/// [`ProstCodec`] with [`BUFFER_BYTES`] buffers, for gets on every system alike.
#[derive(Debug)]
pub(super) struct SmallCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for SmallCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for SmallCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ProstDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(settings())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstCodec::<T, U>::raw_decoder(settings())
    }
}

fn settings() -> BufferSettings {
    BufferSettings::new(BUFFER_BYTES, YIELD_THRESHOLD)
}
