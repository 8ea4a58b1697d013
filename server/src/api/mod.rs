//! The gRPC handlers of `hostendpoint.v1.HostEndpointService`.
//!
//! Each handler validates its request into domain types first, then calls the [`Store`] or
//! opens a watch; their errors become statuses in [`crate::status`]. Reads trace at debug
//! level: they log nothing of their own, and an info span per call cost a noticeable share of
//! a get.

mod ip_sets;
mod list;
mod page_token;
mod too_large;
mod until_open;

use std::sync::Arc;

use futures::StreamExt as _;
use hostendpoint_api::{
    model::HostEndpoint, pb, selector::Selector, validation, wire::STORE_UID_HEADER,
};
use tonic::{Request, Response, Status};
use tracing::instrument;

pub use self::{
    list::{DEFAULT_PAGE_SIZE, MAX_PAGE_BYTES, MAX_PAGE_SIZE},
    page_token::{PageTokens, SECRET_LEN, load_or_create_secret, random_secret},
    too_large::{MAX_REQUEST_BYTES, TooLarge, layer as too_large_layer},
    until_open::UntilOpen,
};
use crate::{
    security::authz::{Authorizer, Caller},
    status::{self, invalid},
    store::{Preconditions, Store, Write},
    watch::{WatchRequest, Watches},
};

/// The response stream of one watch.
pub type WatchStream = std::pin::Pin<
    Box<dyn futures::Stream<Item = Result<pb::WatchHostEndpointsResponse, Status>> + Send>,
>;

/// The HostEndpointService over a store.
#[derive(Debug)]
pub struct HostEndpointApi<S> {
    store: Arc<S>,
    watches: Arc<Watches<S>>,
    tokens: PageTokens,
    authz: Arc<Authorizer>,
}

impl<S> HostEndpointApi<S> {
    /// Serves `store`, watches of it through `watches`, and listings with page tokens
    /// signed by `tokens`, to the callers `authz` allows.
    pub fn new(
        store: Arc<S>,
        watches: Arc<Watches<S>>,
        tokens: PageTokens,
        authz: Arc<Authorizer>,
    ) -> Self {
        Self {
            store,
            watches,
            tokens,
            authz,
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
        let caller = self.authz.caller(&request, "WatchHostEndpoints");
        let mut request = request.into_inner();
        request.node = caller.narrow(&request.node)?;
        let span = tracing::Span::current();
        span.record("node", &request.node);
        span.record("resource_version", request.resource_version);
        let watch = watch_request(request)?;
        let node = watch.node.clone().unwrap_or_default();
        let permit = self.authz.open_watch(&caller, &node)?;
        let stream = self.watches.open(watch).await?;
        let authz = Arc::clone(&self.authz);
        // The permit lives as long as the stream: a closed watch frees its identity's slot.
        // Every message is checked against the current policy, so a reload that takes a
        // caller's access away ends its watches (bookmarks make that happen on quiet ones too).
        let stream: WatchStream = Box::pin(stream.map(move |item| {
            let _held = &permit;
            authz.still_allows_watch(&caller, &node)?;
            Ok(item?)
        }));
        let mut response = Response::new(stream);
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
        let caller = self.authz.caller(&request, "CreateHostEndpoint");
        caller.may_write(requested_name(request.get_ref().host_endpoint.as_ref()))?;
        let hep = required_object(request.into_inner().host_endpoint)?;
        tracing::Span::current().record("name", hep.name());
        if hep.metadata.resource_version != 0 {
            return Err(invalid(&violation(
                "metadata.resourceVersion",
                "field must not be set for a Create request",
            )));
        }
        let created = self.audited_write(&caller, Write::Create(hep)).await?;
        Ok(Response::new(pb::CreateHostEndpointResponse {
            host_endpoint: Some(created.into()),
        }))
    }

    #[instrument(level = "debug", skip_all, fields(name))]
    async fn get_host_endpoint(
        &self,
        request: Request<pb::GetHostEndpointRequest>,
    ) -> RpcResult<pb::GetHostEndpointResponse> {
        let caller = self.authz.caller(&request, "GetHostEndpoint");
        caller.may_read()?;
        let name = request.into_inner().name;
        tracing::Span::current().record("name", &name);
        validation::object_name(&name).map_err(|v| invalid(&v))?;
        let snapshot = self.serving_snapshot()?;
        let hep = snapshot.get(&name);
        caller.may_read_object(&name, hep.map(|h| h.spec.node.as_str()))?;
        let hep =
            hep.ok_or_else(|| Status::from(crate::store::Error::NotFound { name: name.clone() }))?;
        Ok(Response::new(pb::GetHostEndpointResponse::from_encoded(
            hep.encoded(),
        )))
    }

    #[instrument(level = "debug", skip_all, fields(node))]
    async fn list_host_endpoints(
        &self,
        request: Request<pb::ListHostEndpointsRequest>,
    ) -> RpcResult<pb::ListHostEndpointsResponse> {
        let caller = self.authz.caller(&request, "ListHostEndpoints");
        let mut request = request.into_inner();
        request.node = caller.narrow(&request.node)?;
        tracing::Span::current().record("node", &request.node);
        let response = list::list(&*self.store, &self.tokens, request).await?;
        Ok(Response::new(response))
    }

    #[instrument(level = "debug", skip_all, fields(selector))]
    async fn list_ip_set_members(
        &self,
        request: Request<pb::ListIpSetMembersRequest>,
    ) -> RpcResult<pb::ListIpSetMembersResponse> {
        self.authz
            .caller(&request, "ListIpSetMembers")
            .may_read_ip_sets()?;
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
        let caller = self.authz.caller(&request, "UpdateHostEndpoint");
        caller.may_write(requested_name(request.get_ref().host_endpoint.as_ref()))?;
        let request = request.into_inner();
        let hep = required_object(request.host_endpoint)?;
        tracing::Span::current().record("name", hep.name());
        let write = Write::Update {
            hep,
            allow_missing: request.allow_missing,
        };
        let updated = self.audited_write(&caller, write).await?;
        Ok(Response::new(pb::UpdateHostEndpointResponse {
            host_endpoint: Some(updated.into()),
        }))
    }

    #[instrument(skip_all, fields(name))]
    async fn delete_host_endpoint(
        &self,
        request: Request<pb::DeleteHostEndpointRequest>,
    ) -> RpcResult<pb::DeleteHostEndpointResponse> {
        let caller = self.authz.caller(&request, "DeleteHostEndpoint");
        caller.may_write(&request.get_ref().name)?;
        let request = request.into_inner();
        tracing::Span::current().record("name", &request.name);
        validation::object_name(&request.name).map_err(|v| invalid(&v))?;
        let write = Write::Delete {
            name: request.name,
            preconditions: Preconditions {
                resource_version: request.resource_version,
                uid: request.uid,
            },
        };
        let deleted = self.audited_write(&caller, write).await?;
        Ok(Response::new(pb::DeleteHostEndpointResponse {
            host_endpoint: Some(deleted.into()),
        }))
    }
}

impl<S: Store> HostEndpointApi<S> {
    /// Applies `write` and records its outcome in the audit log, with the object's
    /// resourceVersion before and after. The two run on a task of their own: a caller that
    /// goes away, or whose deadline passes, while the write is in flight must not take the
    /// write's audit record with it.
    async fn audited_write(&self, caller: &Caller, write: Write) -> Result<HostEndpoint, Status> {
        if !caller.audits() {
            return Ok(self.store.write(write).await?);
        }
        let task = write_and_audit(Arc::clone(&self.store), caller.clone(), write);
        tokio::spawn(task)
            .await
            .map_err(|err| status::write_task_failed(&err))?
    }

    /// The latest state, unless the store cannot vouch for it (its datastore is unreachable).
    fn serving_snapshot(&self) -> Result<Arc<crate::store::Snapshot>, Status> {
        list::serving_snapshot(&*self.store)
    }
}

/// A request's selector; `None` when it selects everything. A selector that does not parse
/// is INVALID_ARGUMENT naming the position and what was expected.
fn parse_selector(text: &str) -> Result<Option<Selector>, Status> {
    let selector =
        Selector::parse(text).map_err(|err| status::invalid_field("selector", &err.to_string()))?;
    Ok(Some(selector).filter(|s| !s.is_all()))
}

/// A watch request in the watch service's terms: empty fields are "any".
fn watch_request(request: pb::WatchHostEndpointsRequest) -> Result<WatchRequest, Status> {
    Ok(WatchRequest {
        selector: parse_selector(&request.selector)?,
        node: Some(request.node).filter(|n| !n.is_empty()),
        resource_version: request.resource_version,
        store_uid: Some(request.store_uid).filter(|uid| !uid.is_empty()),
    })
}

/// [`HostEndpointApi::audited_write`]'s task.
async fn write_and_audit<S: Store>(
    store: Arc<S>,
    caller: Caller,
    write: Write,
) -> Result<HostEndpoint, Status> {
    let name = write.name().to_owned();
    let (revision_before, stored) = {
        let snapshot = store.view().snapshot();
        let stored = snapshot
            .get(&name)
            .map(|h| (h.metadata.resource_version, h.spec.node.clone()));
        (snapshot.revision(), stored)
    };
    let outcome = store.write(write).await.map_err(Status::from);
    match &outcome {
        Ok(hep) => {
            let after = hep.metadata.resource_version;
            // A write that changed nothing made no revision: the object stayed as it was.
            let before = if after <= revision_before {
                Some(after)
            } else {
                version_replaced_by(&*store, after)
                    .await
                    .or(stored.map(|s| s.0))
            };
            caller.audit_write(&name, &hep.spec.node, before, Some(after), tonic::Code::Ok);
        }
        Err(err) => {
            let (before, node) = stored.map_or((None, String::new()), |(rv, n)| (Some(rv), n));
            caller.audit_write(&name, &node, before, None, err.code());
        }
    }
    outcome
}

/// The resourceVersion of the object the change at `revision` replaced, from the history
/// (exact, even when other writers raced this one); `None` for a create.
async fn version_replaced_by<S: Store>(store: &S, revision: u64) -> Option<u64> {
    let changes = store.history(revision - 1, 1).await.ok()?;
    let change = changes.first().filter(|c| c.revision == revision)?;
    change
        .prev
        .as_ref()
        .map(|prev| prev.metadata.resource_version)
}

/// The name a write request names, before validation: for the audit of a denied call.
fn requested_name(hep: Option<&pb::HostEndpoint>) -> &str {
    hep.and_then(|h| h.metadata.as_ref())
        .map_or("", |m| m.name.as_str())
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
