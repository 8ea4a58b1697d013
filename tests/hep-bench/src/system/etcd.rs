//! etcd v3 used the way Calico's etcdv3 datastore (`libcalico-go/lib/backend/etcdv3`) uses it:
//! - create: `Txn(If(Version(key) == 0), Then(Put(key, json)), Else(Get(key)))`;
//! - update: `Txn(If(ModRevision(key) == rev), Then(Put(key, json)), Else(Get(key)))`;
//! - get: a linearizable `Range` of the key; the answer is checked to be that key at some
//!   revision, its value not parsed (nor is hostendpointd's object decoded: [`super::slim`]);
//! - list: a prefix `Range` (here in pages, at the first page's revision), every value parsed;
//!   a node's objects can only be found by reading them all;
//! - watch: a prefix watch from a revision with `prev_kv`, one gRPC stream per watcher.

use anyhow::{Context as _, bail};
use futures::StreamExt as _;
use hostendpointd::store::etcd::proto::{
    etcdserverpb::{
        Compare, PutRequest, RangeRequest, RequestOp, TxnRequest, WatchCreateRequest, WatchRequest,
        compare, kv_client::KvClient, request_op, watch_request,
    },
    prefix_end,
};
use prost::bytes::Bytes;
use serde::Deserialize;
use tokio::sync::oneshot;
use tonic::{Streaming, client::Grpc, codegen::http::uri::PathAndQuery, transport::Channel};
use tonic_prost::ProstCodec;

use super::{WatchSpec, slim};
use crate::workload::{CalicoHostEndpoint, ETCD_PREFIX, Version, Workload};

const WATCH_PATH: &str = "/etcdserverpb.Watch/Watch";
const RANGE_PATH: &str = "/etcdserverpb.KV/Range";

/// The KV client on one connection, and a plain one for the gets, whose answers are decoded
/// as [`slim::RangeResponse`].
#[derive(Clone, Debug)]
pub(crate) struct EtcdClient {
    kv: KvClient<Channel>,
    grpc: Grpc<Channel>,
    /// The key of the object the last get asked for, reused from call to call.
    key: String,
}

/// One watcher: its own gRPC `Watch` stream, as each Calico client has.
#[derive(Debug)]
pub(crate) struct EtcdWatch {
    stream: Streaming<WatchResponse>,
    node: Option<String>,
    /// Ends the request side of the stream when the watcher is dropped. Without it the
    /// request side stays open for good (hyper keeps sending a request body that never ends),
    /// the HTTP/2 stream is never reset, and the connection outlives the watcher.
    _close: oneshot::Sender<()>,
}

/// `etcdserverpb.WatchResponse` with what the watchers need; the values are shared slices of
/// the received buffer, and `prev_kv` is skipped.
#[derive(Clone, PartialEq, prost::Message)]
struct WatchResponse {
    #[prost(bool, tag = "3")]
    created: bool,
    #[prost(bool, tag = "4")]
    canceled: bool,
    #[prost(string, tag = "6")]
    cancel_reason: String,
    #[prost(message, repeated, tag = "11")]
    events: Vec<Event>,
}

/// `mvccpb.Event` without `prev_kv`.
#[derive(Clone, PartialEq, prost::Message)]
struct Event {
    #[prost(message, optional, tag = "2")]
    kv: Option<KeyValue>,
}

/// `mvccpb.KeyValue`: the revision and the value.
#[derive(Clone, PartialEq, prost::Message)]
struct KeyValue {
    #[prost(int64, tag = "3")]
    mod_revision: i64,
    #[prost(bytes = "bytes", tag = "5")]
    value: Bytes,
}

/// Just the node of a Calico HostEndpoint's JSON.
#[derive(Deserialize)]
struct NodeOnly {
    spec: NodeSpec,
}

#[derive(Deserialize)]
struct NodeSpec {
    node: String,
}

impl EtcdClient {
    pub(super) fn new(channel: Channel) -> Self {
        Self {
            kv: KvClient::new(channel.clone()).max_decoding_message_size(64 << 20),
            grpc: Grpc::new(channel),
            key: String::new(),
        }
    }

    pub(super) async fn create(
        &mut self,
        workload: &Workload,
        version: Version,
    ) -> anyhow::Result<u64> {
        let key = Workload::etcd_key(version.index).into_bytes();
        let condition = compare::TargetUnion::Version(0);
        self.guarded_put(key, workload.calico_json(version), condition)
            .await
    }

    pub(super) async fn update(
        &mut self,
        workload: &Workload,
        version: Version,
        expected: u64,
    ) -> anyhow::Result<u64> {
        let key = Workload::etcd_key(version.index).into_bytes();
        let condition = compare::TargetUnion::ModRevision(i64::try_from(expected)?);
        self.guarded_put(key, workload.calico_json(version), condition)
            .await
    }

    /// Calico's write transaction: put if the condition holds, else read the current value.
    async fn guarded_put(
        &mut self,
        key: Vec<u8>,
        value: Vec<u8>,
        condition: compare::TargetUnion,
    ) -> anyhow::Result<u64> {
        let target = match condition {
            compare::TargetUnion::Version(_) => compare::CompareTarget::Version,
            _ => compare::CompareTarget::Mod,
        };
        let request = TxnRequest {
            compare: vec![Compare {
                result: compare::CompareResult::Equal.into(),
                target: target.into(),
                key: key.clone(),
                target_union: Some(condition),
                range_end: Vec::new(),
            }],
            success: vec![put_op(key.clone(), value)],
            failure: vec![RequestOp {
                request: Some(request_op::Request::RequestRange(RangeRequest {
                    key,
                    ..Default::default()
                })),
            }],
        };
        let response = self.kv.txn(request).await?.into_inner();
        if !response.succeeded {
            bail!("the transaction's condition failed (an existing object or a conflict)");
        }
        revision(response.header)
    }

    /// Puts of up to 128 keys (etcd's default `--max-txn-ops`) in one transaction.
    pub(super) async fn overwrite(
        &mut self,
        workload: &Workload,
        versions: &[Version],
    ) -> anyhow::Result<Vec<u64>> {
        let mut revisions = Vec::with_capacity(versions.len());
        for chunk in versions.chunks(128) {
            let request = TxnRequest {
                success: chunk
                    .iter()
                    .map(|&v| {
                        put_op(
                            Workload::etcd_key(v.index).into_bytes(),
                            workload.calico_json(v),
                        )
                    })
                    .collect(),
                ..Default::default()
            };
            let response = self.kv.txn(request).await?.into_inner();
            let rev = revision(response.header)?;
            revisions.extend(std::iter::repeat_n(rev, chunk.len()));
        }
        Ok(revisions)
    }

    /// A linearizable `Range` of object `index`'s key, checked to answer that key at some
    /// revision (see [`slim`]: the value is not decoded).
    pub(super) async fn get(&mut self, index: usize) -> anyhow::Result<()> {
        Workload::write_etcd_key(&mut self.key, index);
        let request = RangeRequest {
            key: self.key.as_bytes().to_vec(),
            ..Default::default()
        };
        self.grpc.ready().await?;
        let codec = ProstCodec::<RangeRequest, slim::RangeResponse>::default();
        let response = self
            .grpc
            .unary(
                tonic::Request::new(request),
                PathAndQuery::from_static(RANGE_PATH),
                codec,
            )
            .await?
            .into_inner();
        let kv = response.kvs.first().context("a stored object is missing")?;
        if kv.key != self.key.as_bytes() || kv.mod_revision <= 0 {
            bail!(
                "asked for {}, got {:?} at mod_revision {}",
                self.key,
                String::from_utf8_lossy(&kv.key),
                kv.mod_revision
            );
        }
        Ok(())
    }

    /// Pages of the prefix at one revision; with a node, every value is read to find the node's.
    pub(super) async fn list(
        &mut self,
        node: Option<&str>,
        page_size: u32,
    ) -> anyhow::Result<usize> {
        Ok(self.list_at(node, page_size).await?.0)
    }

    /// [`Self::list`], and the revision the pages reflect.
    async fn list_at(
        &mut self,
        node: Option<&str>,
        page_size: u32,
    ) -> anyhow::Result<(usize, u64)> {
        let end = prefix_end(ETCD_PREFIX.as_bytes());
        let mut start = ETCD_PREFIX.as_bytes().to_vec();
        let mut at_revision = 0;
        let mut count = 0;
        loop {
            let request = RangeRequest {
                key: start,
                range_end: end.clone(),
                limit: i64::from(page_size),
                revision: at_revision,
                ..Default::default()
            };
            let page = self.kv.range(request).await?.into_inner();
            at_revision = page.header.as_ref().map_or(0, |h| h.revision);
            for kv in &page.kvs {
                let object = CalicoHostEndpoint::parse(&kv.value)?;
                if node.is_none_or(|n| object.node() == n) {
                    count += 1;
                }
            }
            match page.kvs.last() {
                Some(last) if page.more => start = [last.key.as_slice(), &[0]].concat(),
                _ => return Ok((count, u64::try_from(at_revision)?)),
            }
        }
    }

    pub(super) async fn revision(&mut self) -> anyhow::Result<u64> {
        let request = RangeRequest {
            key: ETCD_PREFIX.as_bytes().to_vec(),
            count_only: true,
            ..Default::default()
        };
        revision(self.kv.range(request).await?.into_inner().header)
    }
}

fn put_op(key: Vec<u8>, value: Vec<u8>) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(PutRequest {
            key,
            value,
            ..Default::default()
        })),
    }
}

fn revision(
    header: Option<hostendpointd::store::etcd::proto::etcdserverpb::ResponseHeader>,
) -> anyhow::Result<u64> {
    let revision = header.context("an answer without a header")?.revision;
    Ok(u64::try_from(revision)?)
}

/// The initial state the way Calico's syncer gets it: a prefix listing in pages (every value
/// parsed), then a watch from the listing's revision + 1, which etcd has created when this
/// returns; returns how many objects the listing had.
pub(super) async fn snapshot(
    channel: Channel,
    page_size: u32,
    prev_kv: bool,
) -> anyhow::Result<usize> {
    let (objects, revision) = EtcdClient::new(channel.clone())
        .list_at(None, page_size)
        .await?;
    let spec = WatchSpec {
        after_revision: revision,
        node: None,
        prev_kv,
    };
    EtcdWatch::open(channel, spec).await?;
    Ok(objects)
}

impl EtcdWatch {
    /// Opens a `Watch` stream, asks for a prefix watch from `spec.after_revision + 1` (with
    /// `prev_kv` unless told otherwise), and waits for etcd's `created` answer. The request side
    /// stays open for the watcher's life.
    pub(super) async fn open(channel: Channel, spec: WatchSpec) -> anyhow::Result<Self> {
        let create = WatchRequest {
            request_union: Some(watch_request::RequestUnion::CreateRequest(
                WatchCreateRequest {
                    key: ETCD_PREFIX.as_bytes().to_vec(),
                    range_end: prefix_end(ETCD_PREFIX.as_bytes()),
                    start_revision: i64::try_from(spec.after_revision)? + 1,
                    prev_kv: spec.prev_kv,
                    ..Default::default()
                },
            )),
        };
        let (close, closed) = oneshot::channel::<()>();
        let requests = futures::stream::once(async { create })
            .chain(futures::stream::once(closed).filter_map(|_| async { None }));
        let mut grpc = Grpc::new(channel);
        grpc.ready().await?;
        let codec = ProstCodec::<WatchRequest, WatchResponse>::default();
        let mut stream = grpc
            .streaming(
                tonic::Request::new(requests),
                PathAndQuery::from_static(WATCH_PATH),
                codec,
            )
            .await?
            .into_inner();
        let first = stream
            .message()
            .await?
            .context("the watch stream ended before etcd created the watch")?;
        if !first.created || first.canceled {
            bail!("etcd did not create the watch: {}", first.cancel_reason);
        }
        Ok(Self {
            stream,
            node: spec.node,
            _close: close,
        })
    }

    pub(super) async fn next_batch(&mut self, revisions: &mut Vec<u64>) -> anyhow::Result<bool> {
        let Some(response) = self.stream.message().await? else {
            return Ok(false);
        };
        if response.canceled {
            bail!("etcd cancelled the watch: {}", response.cancel_reason);
        }
        for kv in response.events.into_iter().filter_map(|e| e.kv) {
            if let Some(node) = &self.node {
                // Calico's key has no node in it: the client reads the value to filter.
                let object: NodeOnly = serde_json::from_slice(&kv.value)?;
                if object.spec.node != *node {
                    continue;
                }
            }
            revisions.push(u64::try_from(kv.mod_revision)?);
        }
        Ok(true)
    }
}
