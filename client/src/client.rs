//! [`Client`]: typed calls over the domain model.

use std::{future::Future, sync::Arc};

use futures::{Stream, TryStreamExt as _};
use hostendpoint_api::{
    build_info::VERSION_HEADER,
    model::{HostEndpoint, Revision},
    pb::{self, host_endpoint_service_client::HostEndpointServiceClient},
    validation,
};
use tonic::{Response, Status, transport::Channel};

use crate::{
    ConnectOptions, Error, Result,
    connect::Target,
    diagnose::{self, Peer, Probe},
};

/// A connection to hostendpointd. Cheap to clone: clones share the connection.
#[derive(Clone, Debug)]
pub struct Client {
    inner: HostEndpointServiceClient<Channel>,
    /// The server, for errors in words.
    peer: Arc<Peer>,
}

/// Conditions a delete imposes on the stored object; empty fields impose nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preconditions {
    /// When non-zero, the stored resource_version must equal it.
    pub resource_version: Revision,
    /// When non-empty, the stored uid must equal it.
    pub uid: String,
}

/// What to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListParams {
    /// Only this node's host endpoints; `None` for all.
    pub node: Option<String>,
    /// A Calico label selector; `None` for all.
    pub selector: Option<String>,
    /// Objects per page; 0 for the server's default.
    pub page_size: u32,
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq)]
pub struct ListPage {
    /// The page's objects, sorted by name.
    pub items: Vec<HostEndpoint>,
    /// The token of the next page; `None` on the last.
    pub next_page_token: Option<String>,
    /// The revision every page of the listing reflects.
    pub revision: Revision,
    /// The store's identity.
    pub store_uid: String,
}

impl Client {
    /// Connects to `server`, such as `http://127.0.0.1:50051`, or `host:port` (plaintext
    /// here; TLS with [`Self::connect_with`] and TLS files), with the default timeouts.
    pub async fn connect(server: impl Into<String>) -> Result<Self> {
        Self::connect_with(&server.into(), ConnectOptions::default()).await
    }

    /// Connects to `server`: an `https://` URL, an `http://` one, or `host:port` (TLS when
    /// TLS files are given). `options` are [`ConnectOptions`], or just [`TlsFiles`]
    /// (`&tls`) with the default timeouts. The TLS files are read again for every new
    /// connection, so a rotated certificate is presented from the next reconnect on.
    ///
    /// [`TlsFiles`]: crate::TlsFiles
    pub async fn connect_with(server: &str, options: impl Into<ConnectOptions>) -> Result<Self> {
        let target = Target::new(server, &options.into())?;
        let peer = target.peer();
        Ok(Self::with_peer(target.connect().await?, peer))
    }

    /// A client that connects on first use and reconnects by itself: for daemons that must
    /// start while the server is down. An address or TLS file that can never work is an
    /// error here already.
    pub fn connect_lazy(server: impl Into<String>) -> Result<Self> {
        Self::connect_lazy_with(&server.into(), ConnectOptions::default())
    }

    /// [`Self::connect_lazy`] with [`ConnectOptions`] (or TLS files).
    pub fn connect_lazy_with(server: &str, options: impl Into<ConnectOptions>) -> Result<Self> {
        let target = Target::new(server, &options.into())?;
        let peer = target.peer();
        Ok(Self::with_peer(target.connect_lazy(), peer))
    }

    /// A client over an existing channel; its errors call the server "the server".
    pub fn new(channel: Channel) -> Self {
        Self::with_peer(channel, Arc::new(Peer::unknown()))
    }

    fn with_peer(channel: Channel, peer: Arc<Peer>) -> Self {
        Self {
            inner: HostEndpointServiceClient::new(channel),
            peer,
        }
    }

    /// The generated gRPC client, for calls this type does not wrap.
    pub fn raw(&self) -> HostEndpointServiceClient<Channel> {
        self.inner.clone()
    }

    /// The typed error for a status of a call made with [`Self::raw`]: the server's status
    /// decoded, or a failure of the connection in words (for a call that got no answer, after
    /// asking the server what it speaks).
    pub async fn explain(&self, status: Status) -> Error {
        diagnose::status(&self.peer, status, Probe::Allowed).await
    }

    /// [`Self::explain`] for a stream that broke: says what broke, without asking the server.
    pub(crate) async fn explain_broken(&self, status: Status) -> Error {
        diagnose::status(&self.peer, status, Probe::Never).await
    }

    /// The answer of a call, or its error explained.
    async fn call<T>(&self, call: impl Future<Output = Result<Response<T>, Status>>) -> Result<T> {
        match call.await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => Err(self.explain(status).await),
        }
    }

    /// Creates a host endpoint; the server sets uid, creation time and resource_version.
    pub async fn create(&self, hep: &HostEndpoint) -> Result<HostEndpoint> {
        let request = pb::CreateHostEndpointRequest {
            host_endpoint: Some(hep.into()),
        };
        let response = self.call(self.raw().create_host_endpoint(request)).await?;
        object(response.host_endpoint)
    }

    /// Gets a host endpoint by name.
    pub async fn get(&self, name: &str) -> Result<HostEndpoint> {
        let request = pb::GetHostEndpointRequest { name: name.into() };
        let response = self.call(self.raw().get_host_endpoint(request)).await?;
        object(response.host_endpoint)
    }

    /// Replaces a host endpoint's labels, annotations and spec. A non-zero resource_version in
    /// `hep` must match the stored one ([`Error::Conflict`] otherwise). With `allow_missing`, a
    /// missing object is created.
    pub async fn update(&self, hep: &HostEndpoint, allow_missing: bool) -> Result<HostEndpoint> {
        let request = pb::UpdateHostEndpointRequest {
            host_endpoint: Some(hep.into()),
            allow_missing,
        };
        let response = self.call(self.raw().update_host_endpoint(request)).await?;
        object(response.host_endpoint)
    }

    /// Deletes a host endpoint; returns its last state, stamped with the delete's revision.
    pub async fn delete(&self, name: &str, preconditions: Preconditions) -> Result<HostEndpoint> {
        let request = pb::DeleteHostEndpointRequest {
            name: name.into(),
            resource_version: preconditions.resource_version,
            uid: preconditions.uid,
        };
        let response = self.call(self.raw().delete_host_endpoint(request)).await?;
        object(response.host_endpoint)
    }

    /// The server's version as it states it in every answer (`0.1.0 (commit abc1234)`, the
    /// `hostendpointd-version` header); `None` from a server that does not state it. It asks
    /// for a listing of one object; a refusal is an answer too.
    pub async fn server_version(&self) -> Result<Option<String>> {
        let request = pb::ListHostEndpointsRequest {
            page_size: 1,
            ..pb::ListHostEndpointsRequest::default()
        };
        let headers = match self.raw().list_host_endpoints(request).await {
            Ok(response) => response.metadata().clone(),
            Err(status) if status.metadata().contains_key(VERSION_HEADER) => {
                status.metadata().clone()
            }
            Err(status) => match self.explain(status).await {
                // Any status the server itself sent is an answer, from a server that does
                // not state its version.
                error if error.is_transient() => return Err(error),
                _ => return Ok(None),
            },
        };
        let version = headers.get(VERSION_HEADER).and_then(|v| v.to_str().ok());
        Ok(version.map(str::to_owned))
    }

    /// One page of a listing; pass the previous page's token for the next.
    pub async fn list_page(
        &self,
        params: &ListParams,
        page_token: Option<String>,
    ) -> Result<ListPage> {
        let request = pb::ListHostEndpointsRequest {
            node: params.node.clone().unwrap_or_default(),
            page_size: i32::try_from(params.page_size).unwrap_or(i32::MAX),
            page_token: page_token.unwrap_or_default(),
            selector: params.selector.clone().unwrap_or_default(),
        };
        let response = self.call(self.raw().list_host_endpoints(request)).await?;
        Ok(ListPage {
            items: response
                .host_endpoints
                .into_iter()
                .map(|h| object(Some(h)))
                .collect::<Result<_>>()?,
            next_page_token: Some(response.next_page_token).filter(|t| !t.is_empty()),
            revision: response.resource_version,
            store_uid: response.store_uid,
        })
    }

    /// Every matching host endpoint, page after page, all at one revision.
    pub fn list(
        &self,
        params: ListParams,
    ) -> impl Stream<Item = Result<HostEndpoint>> + Send + 'static {
        let client = self.clone();
        let pages =
            futures::stream::try_unfold(Some(None), move |token: Option<Option<String>>| {
                let (client, params) = (client.clone(), params.clone());
                async move {
                    let Some(token) = token else {
                        return Ok::<_, Error>(None);
                    };
                    let page = client.list_page(&params, token).await?;
                    let next = page.next_page_token.clone().map(Some);
                    Ok(Some((page.items, next)))
                }
            });
        pages
            .map_ok(|items| futures::stream::iter(items.into_iter().map(Ok)))
            .try_flatten()
    }
}

/// The object of a response, checked against the model.
pub(crate) fn object(hep: Option<pb::HostEndpoint>) -> Result<HostEndpoint> {
    let hep = hep.ok_or_else(|| Error::Protocol("a response without its host endpoint".into()))?;
    validation::host_endpoint(hep).map_err(|v| Error::Protocol(v.to_string()))
}
