//! The gRPC handlers of `hostendpoint.v1.HostEndpointService`.
//!
//! Each handler validates its request into domain types first, then calls the [`Store`]; the
//! store's errors become statuses in [`status`]. Reads trace at debug level: they log nothing
//! of their own, and an info span per call cost a noticeable share of a get.

mod ip_sets;
mod list;
mod page_token;
mod status;
mod too_large;

use std::sync::Arc;

use hostendpoint_api::{pb, selector::Selector, validation};
use tonic::{Request, Response, Status};
use tracing::instrument;

pub(crate) use self::status::DOMAIN;
use self::status::invalid;
pub use self::{
    list::{DEFAULT_PAGE_SIZE, MAX_PAGE_BYTES, MAX_PAGE_SIZE},
    page_token::{PageTokens, SECRET_LEN, load_or_create_secret, random_secret},
    too_large::{MAX_REQUEST_BYTES, TooLarge, layer as too_large_layer},
};
use crate::{
    store::{Preconditions, Store},
    watch::{WatchStream, Watches},
};

/// The response header of a watch that carries the store's uid.
pub const STORE_UID_HEADER: &str = "store-uid";

/// The HostEndpointService over a store.
#[derive(Debug)]
pub struct HostEndpointApi<S> {
    store: Arc<S>,
    watches: Arc<Watches<S>>,
    tokens: PageTokens,
}

impl<S> HostEndpointApi<S> {
    /// Serves `store`, watches of it through `watches`, and listings with page tokens
    /// signed by `tokens`.
    pub fn new(store: Arc<S>, watches: Arc<Watches<S>>, tokens: PageTokens) -> Self {
        Self {
            store,
            watches,
            tokens,
        }
    }
}

type RpcResult<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl<S: Store> pb::host_endpoint_service_server::HostEndpointService for HostEndpointApi<S> {
    type WatchHostEndpointsStream = WatchStream;

    #[instrument(skip_all, fields(node, resource_version))]
    async fn watch_host_endpoints(
        &self,
        request: Request<pb::WatchHostEndpointsRequest>,
    ) -> RpcResult<WatchStream> {
        let request = request.into_inner();
        let span = tracing::Span::current();
        span.record("node", &request.node);
        span.record("resource_version", request.resource_version);
        let mut response = Response::new(self.watches.open(request).await?);
        // The stream's revisions belong to this store: a client resumes with this uid.
        if let Ok(uid) = self.store.store_uid().parse() {
            response.metadata_mut().insert(STORE_UID_HEADER, uid);
        }
        Ok(response)
    }

    #[instrument(skip_all, fields(name))]
    async fn create_host_endpoint(
        &self,
        request: Request<pb::CreateHostEndpointRequest>,
    ) -> RpcResult<pb::CreateHostEndpointResponse> {
        let hep = required_object(request.into_inner().host_endpoint)?;
        tracing::Span::current().record("name", hep.name());
        if hep.metadata.resource_version != 0 {
            return Err(invalid(&violation(
                "metadata.resourceVersion",
                "field must not be set for a Create request",
            )));
        }
        let created = self.store.create(hep).await?;
        Ok(Response::new(pb::CreateHostEndpointResponse {
            host_endpoint: Some(created.into()),
        }))
    }

    #[instrument(level = "debug", skip_all, fields(name))]
    async fn get_host_endpoint(
        &self,
        request: Request<pb::GetHostEndpointRequest>,
    ) -> RpcResult<pb::GetHostEndpointResponse> {
        let name = request.into_inner().name;
        tracing::Span::current().record("name", &name);
        validation::object_name(&name).map_err(|v| invalid(&v))?;
        let snapshot = self.serving_snapshot()?;
        let hep = snapshot
            .get(&name)
            .ok_or_else(|| Status::from(crate::store::Error::NotFound { name: name.clone() }))?;
        Ok(Response::new(pb::GetHostEndpointResponse::from_encoded(
            hep.encoded(),
        )))
    }

    #[instrument(level = "debug", skip_all, fields(node))]
    async fn list_host_endpoints(
        &self,
        request: Request<pb::ListHostEndpointsRequest>,
    ) -> RpcResult<pb::ListHostEndpointsResponse> {
        let request = request.into_inner();
        tracing::Span::current().record("node", &request.node);
        let response = list::list(&*self.store, &self.tokens, request).await?;
        Ok(Response::new(response))
    }

    #[instrument(level = "debug", skip_all, fields(selector))]
    async fn list_ip_set_members(
        &self,
        request: Request<pb::ListIpSetMembersRequest>,
    ) -> RpcResult<pb::ListIpSetMembersResponse> {
        let request = request.into_inner();
        tracing::Span::current().record("selector", &request.selector);
        let query = ip_sets::Query::parse(&request)?;
        let snapshot = self.serving_snapshot()?;
        Ok(Response::new(pb::ListIpSetMembersResponse {
            members: query.members(&snapshot),
            resource_version: snapshot.revision(),
        }))
    }

    #[instrument(skip_all, fields(name))]
    async fn update_host_endpoint(
        &self,
        request: Request<pb::UpdateHostEndpointRequest>,
    ) -> RpcResult<pb::UpdateHostEndpointResponse> {
        let request = request.into_inner();
        let hep = required_object(request.host_endpoint)?;
        tracing::Span::current().record("name", hep.name());
        let updated = self.store.update(hep, request.allow_missing).await?;
        Ok(Response::new(pb::UpdateHostEndpointResponse {
            host_endpoint: Some(updated.into()),
        }))
    }

    #[instrument(skip_all, fields(name))]
    async fn delete_host_endpoint(
        &self,
        request: Request<pb::DeleteHostEndpointRequest>,
    ) -> RpcResult<pb::DeleteHostEndpointResponse> {
        let request = request.into_inner();
        tracing::Span::current().record("name", &request.name);
        validation::object_name(&request.name).map_err(|v| invalid(&v))?;
        let preconditions = Preconditions {
            resource_version: request.resource_version,
            uid: request.uid,
        };
        let deleted = self.store.delete(request.name, preconditions).await?;
        Ok(Response::new(pb::DeleteHostEndpointResponse {
            host_endpoint: Some(deleted.into()),
        }))
    }
}

impl<S: Store> HostEndpointApi<S> {
    /// The latest state, unless the store cannot vouch for it (its datastore is unreachable).
    fn serving_snapshot(&self) -> Result<Arc<crate::store::Snapshot>, Status> {
        list::serving_snapshot(&*self.store)
    }
}

/// A request's selector; `None` when it selects everything. A selector that does not parse
/// is INVALID_ARGUMENT naming the position and what was expected.
pub(crate) fn parse_selector(text: &str) -> Result<Option<Selector>, Status> {
    let selector =
        Selector::parse(text).map_err(|err| status::invalid_field("selector", &err.to_string()))?;
    Ok(Some(selector).filter(|s| !s.is_all()))
}

/// Validates the object of a create or update request.
fn required_object(
    hep: Option<pb::HostEndpoint>,
) -> Result<hostendpoint_api::model::HostEndpoint, Status> {
    let hep = hep.ok_or_else(|| status::invalid_field("host_endpoint", "must be specified"))?;
    validation::host_endpoint(hep).map_err(|v| invalid(&v))
}

fn violation(field: &str, description: &str) -> validation::Violations {
    validation::Violations(vec![validation::FieldViolation {
        field: field.into(),
        description: description.into(),
    }])
}
