//! hostendpointd over its gRPC API, on either backend.

use anyhow::{Context as _, bail};
use futures::future::try_join_all;
use hostendpoint_api::pb::{self, host_endpoint_service_client::HostEndpointServiceClient};
use tonic::{Streaming, client::Grpc, codegen::http::uri::PathAndQuery, transport::Channel};
use tonic_prost::ProstCodec;

use super::{WatchSpec, slim};
use crate::workload::{Version, Workload};

const WATCH_PATH: &str = "/hostendpoint.v1.HostEndpointService/WatchHostEndpoints";
const GET_PATH: &str = "/hostendpoint.v1.HostEndpointService/GetHostEndpoint";

/// The generated client on one connection, and a plain one for the gets, whose answers are
/// decoded as [`slim::GetResponse`].
#[derive(Clone, Debug)]
pub(crate) struct HepClient {
    api: HostEndpointServiceClient<Channel>,
    grpc: Grpc<Channel>,
    /// The name of the object the last get asked for, reused from call to call.
    name: String,
}

/// A `WatchHostEndpoints` stream, decoded only as far as event types and revisions.
#[derive(Debug)]
pub(crate) struct HepWatch {
    stream: Streaming<WatchResponse>,
}

/// `hostendpoint.v1.WatchHostEndpointsResponse` without the objects: the watchers count
/// deliveries and read revisions, and decoding objects they never look at would only load the
/// machine that the servers share with them.
#[derive(Clone, PartialEq, prost::Message)]
struct WatchResponse {
    #[prost(message, repeated, tag = "1")]
    events: Vec<WatchEvent>,
}

/// `hostendpoint.v1.WatchEvent` without `host_endpoint` (field 2, skipped when decoding).
#[derive(Clone, PartialEq, prost::Message)]
struct WatchEvent {
    #[prost(int32, tag = "1")]
    r#type: i32,
    #[prost(uint64, tag = "3")]
    resource_version: u64,
}

impl HepClient {
    pub(super) fn new(channel: Channel) -> Self {
        Self {
            api: HostEndpointServiceClient::new(channel.clone())
                .max_decoding_message_size(64 << 20),
            grpc: Grpc::new(channel),
            name: String::new(),
        }
    }

    pub(super) async fn create(
        &mut self,
        workload: &Workload,
        version: Version,
    ) -> anyhow::Result<u64> {
        let request = pb::CreateHostEndpointRequest {
            host_endpoint: Some(workload.pb(version, 0)),
        };
        let created = self.api.create_host_endpoint(request).await?.into_inner();
        resource_version(created.host_endpoint)
    }

    pub(super) async fn update(
        &mut self,
        workload: &Workload,
        version: Version,
        expected: u64,
    ) -> anyhow::Result<u64> {
        let request = pb::UpdateHostEndpointRequest {
            host_endpoint: Some(workload.pb(version, expected)),
            allow_missing: false,
        };
        let updated = self.api.update_host_endpoint(request).await?.into_inner();
        resource_version(updated.host_endpoint)
    }

    /// The API has no batch write: the versions are sent concurrently, and group commit makes
    /// them share syncs.
    pub(super) async fn overwrite(
        &mut self,
        workload: &Workload,
        versions: &[Version],
    ) -> anyhow::Result<Vec<u64>> {
        try_join_all(versions.iter().map(|&version| {
            let mut api = self.api.clone();
            async move {
                let request = pb::UpdateHostEndpointRequest {
                    host_endpoint: Some(workload.pb(version, 0)),
                    allow_missing: false,
                };
                resource_version(
                    api.update_host_endpoint(request)
                        .await?
                        .into_inner()
                        .host_endpoint,
                )
            }
        }))
        .await
    }

    /// Concurrent creates, as [`Self::overwrite`] sends updates.
    pub(super) async fn create_batch(
        &mut self,
        workload: &Workload,
        versions: &[Version],
    ) -> anyhow::Result<Vec<u64>> {
        try_join_all(versions.iter().map(|&version| {
            let mut client = self.clone();
            async move { client.create(workload, version).await }
        }))
        .await
    }

    /// Gets object `index` and checks that the answer is that object at some revision (see
    /// [`slim`]: its other fields are not decoded).
    pub(super) async fn get(&mut self, index: usize) -> anyhow::Result<()> {
        Workload::write_name(&mut self.name, index);
        let request = pb::GetHostEndpointRequest {
            name: self.name.clone(),
        };
        self.grpc.ready().await?;
        let codec = ProstCodec::<pb::GetHostEndpointRequest, slim::GetResponse>::default();
        let got = self
            .grpc
            .unary(
                tonic::Request::new(request),
                PathAndQuery::from_static(GET_PATH),
                codec,
            )
            .await?
            .into_inner();
        let meta = got
            .host_endpoint
            .and_then(|h| h.metadata)
            .context("a Get answer without the object")?;
        if meta.name != self.name.as_bytes() || meta.resource_version == 0 {
            bail!(
                "asked for {}, got {:?} at resource_version {}",
                self.name,
                String::from_utf8_lossy(&meta.name),
                meta.resource_version
            );
        }
        Ok(())
    }

    pub(super) async fn list(
        &mut self,
        node: Option<&str>,
        page_size: u32,
    ) -> anyhow::Result<usize> {
        let mut count = 0;
        let mut page_token = String::new();
        loop {
            let request = pb::ListHostEndpointsRequest {
                node: node.unwrap_or_default().to_owned(),
                page_size: i32::try_from(page_size)?,
                page_token,
                ..Default::default()
            };
            let page = self.api.list_host_endpoints(request).await?.into_inner();
            count += page.host_endpoints.len();
            if page.next_page_token.is_empty() {
                return Ok(count);
            }
            page_token = page.next_page_token;
        }
    }

    pub(super) async fn revision(&mut self) -> anyhow::Result<u64> {
        let request = pb::ListHostEndpointsRequest {
            page_size: 1,
            ..Default::default()
        };
        Ok(self
            .api
            .list_host_endpoints(request)
            .await?
            .into_inner()
            .resource_version)
    }
}

fn resource_version(hep: Option<pb::HostEndpoint>) -> anyhow::Result<u64> {
    hep.and_then(|h| h.metadata)
        .map(|m| m.resource_version)
        .filter(|&rv| rv > 0)
        .context("a write answer without the stored object's resource_version")
}

/// Opens a watch of every object from no revision, so with the snapshot, and reads it until
/// SYNCED, decoding every object as a client that builds its cache does; returns how many
/// objects the snapshot had.
pub(super) async fn snapshot(channel: Channel) -> anyhow::Result<usize> {
    let mut grpc = Grpc::new(channel).max_decoding_message_size(64 << 20);
    grpc.ready().await?;
    let codec =
        ProstCodec::<pb::WatchHostEndpointsRequest, pb::WatchHostEndpointsResponse>::default();
    // resource_version 0: the snapshot first.
    let request = pb::WatchHostEndpointsRequest::default();
    let mut stream = grpc
        .server_streaming(
            tonic::Request::new(request),
            PathAndQuery::from_static(WATCH_PATH),
            codec,
        )
        .await?
        .into_inner();
    let mut objects = 0;
    while let Some(response) = stream.message().await? {
        for event in response.events {
            match pb::EventType::try_from(event.r#type) {
                Ok(pb::EventType::Added) if event.host_endpoint.is_some() => objects += 1,
                Ok(pb::EventType::Synced) => return Ok(objects),
                _ => bail!("an event of type {} in the snapshot", event.r#type),
            }
        }
    }
    bail!("the watch ended before SYNCED, after {objects} objects")
}

impl HepWatch {
    /// Starts a watch after `spec.after_revision`: the call returns once the server answered
    /// with the stream's headers.
    pub(super) async fn open(channel: Channel, spec: WatchSpec) -> anyhow::Result<Self> {
        let request = pb::WatchHostEndpointsRequest {
            node: spec.node.unwrap_or_default(),
            resource_version: spec.after_revision,
            ..Default::default()
        };
        let mut grpc = Grpc::new(channel);
        grpc.ready().await?;
        let codec = ProstCodec::<pb::WatchHostEndpointsRequest, WatchResponse>::default();
        let stream = grpc
            .server_streaming(
                tonic::Request::new(request),
                PathAndQuery::from_static(WATCH_PATH),
                codec,
            )
            .await?
            .into_inner();
        Ok(Self { stream })
    }

    pub(super) async fn next_batch(&mut self, revisions: &mut Vec<u64>) -> anyhow::Result<bool> {
        let Some(response) = self.stream.message().await? else {
            return Ok(false);
        };
        for event in response.events {
            match pb::EventType::try_from(event.r#type) {
                Ok(pb::EventType::Added | pb::EventType::Modified | pb::EventType::Deleted) => {
                    revisions.push(event.resource_version);
                }
                Ok(_) => {}
                Err(_) => bail!("an event of unknown type {}", event.r#type),
            }
        }
        Ok(true)
    }
}
