//! A gRPC proxy in front of a real server that lets a test write between a client's read and
//! its update: the first update that reaches it waits until the test's own change is stored,
//! then goes on to the server. It makes a read-modify-write race happen every time, not by
//! luck.

use std::{
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use futures::{Stream, future::BoxFuture};
use hostendpoint_api::pb::{
    self,
    host_endpoint_service_server::{HostEndpointService, HostEndpointServiceServer},
};
use tokio::{net::TcpListener, sync::Mutex};
use tonic::{Request, Response, Status, transport::server::TcpIncoming};

use crate::ApiClient;

/// The change a test makes in the middle of the first update, with its own client.
pub type Intrusion = Box<dyn FnOnce(ApiClient) -> BoxFuture<'static, ()> + Send>;

/// A proxy that runs an [`Intrusion`] before the first update it forwards.
#[derive(Debug)]
pub struct RacingProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    updates: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

struct Proxy {
    upstream: ApiClient,
    intrusion: Mutex<Option<Intrusion>>,
    updates: Arc<AtomicUsize>,
}

impl RacingProxy {
    /// Starts a proxy on 127.0.0.1:0 in front of `upstream`.
    pub async fn start(upstream: ApiClient, intrusion: Intrusion) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port on 127.0.0.1");
        let addr = listener.local_addr().expect("a bound address");
        let updates = Arc::new(AtomicUsize::new(0));
        let proxy = Proxy {
            upstream,
            intrusion: Mutex::new(Some(intrusion)),
            updates: Arc::clone(&updates),
        };
        let task = tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_service(HostEndpointServiceServer::new(proxy))
                .serve_with_incoming(TcpIncoming::from(listener))
                .await;
            served.expect("the proxy serves until dropped");
        });
        Self {
            addr,
            updates,
            task,
        }
    }

    /// `http://` and the proxy's address.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many updates went through the proxy.
    pub fn updates(&self) -> usize {
        self.updates.load(Ordering::SeqCst)
    }
}

impl Drop for RacingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Answer<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl HostEndpointService for Proxy {
    async fn create_host_endpoint(
        &self,
        request: Request<pb::CreateHostEndpointRequest>,
    ) -> Answer<pb::CreateHostEndpointResponse> {
        self.upstream
            .clone()
            .create_host_endpoint(request.into_inner())
            .await
    }

    async fn get_host_endpoint(
        &self,
        request: Request<pb::GetHostEndpointRequest>,
    ) -> Answer<pb::GetHostEndpointResponse> {
        self.upstream
            .clone()
            .get_host_endpoint(request.into_inner())
            .await
    }

    async fn list_host_endpoints(
        &self,
        request: Request<pb::ListHostEndpointsRequest>,
    ) -> Answer<pb::ListHostEndpointsResponse> {
        self.upstream
            .clone()
            .list_host_endpoints(request.into_inner())
            .await
    }

    async fn update_host_endpoint(
        &self,
        request: Request<pb::UpdateHostEndpointRequest>,
    ) -> Answer<pb::UpdateHostEndpointResponse> {
        self.updates.fetch_add(1, Ordering::SeqCst);
        if let Some(intrusion) = self.intrusion.lock().await.take() {
            intrusion(self.upstream.clone()).await;
        }
        self.upstream
            .clone()
            .update_host_endpoint(request.into_inner())
            .await
    }

    async fn delete_host_endpoint(
        &self,
        request: Request<pb::DeleteHostEndpointRequest>,
    ) -> Answer<pb::DeleteHostEndpointResponse> {
        self.upstream
            .clone()
            .delete_host_endpoint(request.into_inner())
            .await
    }

    type WatchHostEndpointsStream =
        Pin<Box<dyn Stream<Item = Result<pb::WatchHostEndpointsResponse, Status>> + Send>>;

    async fn watch_host_endpoints(
        &self,
        _request: Request<pb::WatchHostEndpointsRequest>,
    ) -> Answer<Self::WatchHostEndpointsStream> {
        Err(Status::unimplemented("the racing proxy does not watch"))
    }

    async fn list_ip_set_members(
        &self,
        request: Request<pb::ListIpSetMembersRequest>,
    ) -> Answer<pb::ListIpSetMembersResponse> {
        self.upstream
            .clone()
            .list_ip_set_members(request.into_inner())
            .await
    }
}
