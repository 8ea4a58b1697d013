//! [`Client`]: typed calls over the domain model.

use futures::{Stream, TryStreamExt as _};
use hostendpoint_api::{
    model::{HostEndpoint, Revision},
    pb::{self, host_endpoint_service_client::HostEndpointServiceClient},
    validation,
};
use tonic::transport::Channel;

use crate::{Error, Result, TlsFiles, tls::Target};

/// A connection to hostendpointd. Cheap to clone: clones share the connection.
#[derive(Clone, Debug)]
pub struct Client {
    inner: HostEndpointServiceClient<Channel>,
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
    /// here, TLS with [`Self::connect_with`] and TLS files).
    pub async fn connect(server: impl Into<String>) -> Result<Self> {
        Self::connect_with(&server.into(), &TlsFiles::default()).await
    }

    /// Connects to `server` with TLS files: an `https://` URL, or `host:port`. The files are
    /// read again for every new connection, so a rotated certificate is presented from the
    /// next reconnect on.
    pub async fn connect_with(server: &str, tls: &TlsFiles) -> Result<Self> {
        Ok(Self::new(Target::new(server, tls)?.connect().await?))
    }

    /// A client that connects on first use and reconnects by itself: for daemons that must
    /// start while the server is down.
    pub fn connect_lazy(server: impl Into<String>) -> Result<Self> {
        Self::connect_lazy_with(&server.into(), &TlsFiles::default())
    }

    /// [`Self::connect_lazy`] with TLS files.
    pub fn connect_lazy_with(server: &str, tls: &TlsFiles) -> Result<Self> {
        Ok(Self::new(Target::new(server, tls)?.connect_lazy()))
    }

    /// A client over an existing channel.
    pub fn new(channel: Channel) -> Self {
        Self {
            inner: HostEndpointServiceClient::new(channel),
        }
    }

    /// The generated gRPC client, for calls this type does not wrap.
    pub fn raw(&self) -> HostEndpointServiceClient<Channel> {
        self.inner.clone()
    }

    /// Creates a host endpoint; the server sets uid, creation time and resource_version.
    pub async fn create(&self, hep: &HostEndpoint) -> Result<HostEndpoint> {
        let request = pb::CreateHostEndpointRequest {
            host_endpoint: Some(hep.into()),
        };
        let response = self.inner.clone().create_host_endpoint(request).await?;
        object(response.into_inner().host_endpoint)
    }

    /// Gets a host endpoint by name.
    pub async fn get(&self, name: &str) -> Result<HostEndpoint> {
        let request = pb::GetHostEndpointRequest { name: name.into() };
        let response = self.inner.clone().get_host_endpoint(request).await?;
        object(response.into_inner().host_endpoint)
    }

    /// Replaces a host endpoint's labels, annotations and spec. A non-zero resource_version in
    /// `hep` must match the stored one ([`Error::Conflict`] otherwise). With `allow_missing`, a
    /// missing object is created.
    pub async fn update(&self, hep: &HostEndpoint, allow_missing: bool) -> Result<HostEndpoint> {
        let request = pb::UpdateHostEndpointRequest {
            host_endpoint: Some(hep.into()),
            allow_missing,
        };
        let response = self.inner.clone().update_host_endpoint(request).await?;
        object(response.into_inner().host_endpoint)
    }

    /// Deletes a host endpoint; returns its last state, stamped with the delete's revision.
    pub async fn delete(&self, name: &str, preconditions: Preconditions) -> Result<HostEndpoint> {
        let request = pb::DeleteHostEndpointRequest {
            name: name.into(),
            resource_version: preconditions.resource_version,
            uid: preconditions.uid,
        };
        let response = self.inner.clone().delete_host_endpoint(request).await?;
        object(response.into_inner().host_endpoint)
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
        let response = self
            .inner
            .clone()
            .list_host_endpoints(request)
            .await?
            .into_inner();
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
