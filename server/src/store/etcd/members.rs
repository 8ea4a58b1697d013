//! Connections to the members of an etcd cluster, with failover: a call that cannot reach one
//! member is tried on the next, and the member that answered is tried first next time.

use std::{
    future::Future,
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use hostendpoint_api::words::innermost_words;
use tonic::{
    Code, Status,
    transport::{Channel, ClientTlsConfig, Endpoint},
};

use super::proto::etcdserverpb::{kv_client::KvClient, watch_client::WatchClient};

/// How long connecting to one member may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one unary call may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Listings of 100 000 objects come in pages, but a page of large objects can still exceed
/// gRPC's 4 MiB default.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// The members of one etcd cluster.
#[derive(Debug)]
pub(super) struct Members {
    endpoints: Vec<String>,
    channels: Vec<Channel>,
    preferred: AtomicUsize,
}

impl Members {
    /// Lazy connections to every endpoint (with its TLS settings, for https); nothing is
    /// dialled until first use.
    pub(super) fn new(
        endpoints: &[String],
        tls: Vec<Option<ClientTlsConfig>>,
    ) -> Result<Self, tonic::transport::Error> {
        let channels = endpoints
            .iter()
            .zip(tls)
            .map(|(url, tls)| {
                let endpoint = Endpoint::from_shared(url.clone())?;
                let endpoint = match tls {
                    Some(tls) => endpoint.tls_config(tls)?,
                    None => endpoint,
                };
                Ok(endpoint
                    .connect_timeout(CONNECT_TIMEOUT)
                    .tcp_keepalive(Some(Duration::from_secs(10)))
                    .http2_keep_alive_interval(Duration::from_secs(5))
                    .keep_alive_timeout(Duration::from_secs(5))
                    .connect_lazy())
            })
            .collect::<Result<_, tonic::transport::Error>>()?;
        Ok(Self {
            endpoints: endpoints.to_vec(),
            channels,
            preferred: AtomicUsize::new(0),
        })
    }

    /// The endpoints, for messages.
    pub(super) fn endpoints(&self) -> String {
        self.endpoints.join(",")
    }

    /// Runs a unary KV call on the preferred member, failing over to the others when one is
    /// unreachable. Only for calls that are safe to repeat (reads).
    pub(super) async fn kv<T, F, Fut>(&self, call: F) -> Result<T, Status>
    where
        F: Fn(KvClient<Channel>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let count = self.channels.len();
        let first = self.preferred.load(Ordering::Relaxed);
        let mut last = Status::unavailable("no etcd endpoint configured");
        for offset in 0..count {
            let index = (first + offset) % count;
            match call(self.kv_client(index)).await {
                Ok(response) => {
                    self.preferred.store(index, Ordering::Relaxed);
                    return Ok(response.into_inner());
                }
                Err(status) if unreachable(&status) => last = status,
                Err(status) => return Err(status),
            }
        }
        Err(last)
    }

    /// Runs a unary KV call once, on the preferred member: for writes, whose outcome is
    /// ambiguous after a transport error and must be re-read rather than repeated.
    pub(super) async fn kv_once<T, Fut>(
        &self,
        call: impl FnOnce(KvClient<Channel>) -> Fut,
    ) -> Result<T, Status>
    where
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let index = self.preferred.load(Ordering::Relaxed);
        match call(self.kv_client(index)).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => {
                if unreachable(&status) {
                    // Next time, start with another member.
                    self.preferred
                        .store((index + 1) % self.channels.len().max(1), Ordering::Relaxed);
                }
                Err(status)
            }
        }
    }

    /// A watch client on the preferred member; `rotate` moves to the next one first.
    pub(super) fn watch_client(&self, rotate: bool) -> WatchClient<Channel> {
        let count = self.channels.len().max(1);
        let mut index = self.preferred.load(Ordering::Relaxed) % count;
        if rotate {
            index = (index + 1) % count;
            self.preferred.store(index, Ordering::Relaxed);
        }
        WatchClient::new(self.channels[index].clone()).max_decoding_message_size(MAX_MESSAGE)
    }

    fn kv_client(&self, index: usize) -> KvClient<Channel> {
        let mut request = KvClient::new(self.channels[index % self.channels.len()].clone())
            .max_decoding_message_size(MAX_MESSAGE);
        request = request.max_encoding_message_size(MAX_MESSAGE);
        request
    }
}

/// Whether a status means the member could not be reached (so another may answer).
pub(super) fn unreachable(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded
    )
}

/// What went wrong in `status`, in words: tonic's transport errors say "tcp connect error"
/// and keep the cause ("connection refused") in their source chain.
pub(super) fn describe(status: &Status) -> String {
    let cause = std::error::Error::source(status).map(innermost_words);
    let message = status.message();
    match (message, cause) {
        ("tcp connect error", Some(cause)) => format!("cannot connect: {cause}"),
        ("" | "transport error", Some(cause)) => cause,
        (_, Some(cause)) if !message.contains(&cause) => format!("{message}: {cause}"),
        _ => message.to_owned(),
    }
}

/// A request with the unary call timeout.
pub(super) fn request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(REQUEST_TIMEOUT);
    request
}

/// Whether the client refused an answer for its size (over [`MAX_MESSAGE`]). etcd says
/// `OUT_OF_RANGE` for a compacted revision too, hence the message.
pub(super) fn too_large(status: &Status) -> bool {
    status.code() == Code::OutOfRange && status.message().contains("message length too large")
}
