//! One-line API calls for tests: each unwraps the response envelope.

use hostendpoint_api::pb;

use crate::{ApiClient, meta};

/// Creates `hep`, which must succeed, and returns the stored object.
pub async fn create(client: &mut ApiClient, hep: pb::HostEndpoint) -> pb::HostEndpoint {
    client
        .create_host_endpoint(pb::CreateHostEndpointRequest {
            host_endpoint: Some(hep),
        })
        .await
        .expect("create succeeds")
        .into_inner()
        .host_endpoint
        .expect("create returns the object")
}

/// Gets an object by name.
pub async fn get(client: &mut ApiClient, name: &str) -> Result<pb::HostEndpoint, tonic::Status> {
    let response = client
        .get_host_endpoint(pb::GetHostEndpointRequest { name: name.into() })
        .await?;
    Ok(response
        .into_inner()
        .host_endpoint
        .expect("get returns the object"))
}

/// Updates an object (creating it with `allow_missing`).
pub async fn update(
    client: &mut ApiClient,
    hep: pb::HostEndpoint,
    allow_missing: bool,
) -> Result<pb::HostEndpoint, tonic::Status> {
    let response = client
        .update_host_endpoint(pb::UpdateHostEndpointRequest {
            host_endpoint: Some(hep),
            allow_missing,
        })
        .await?;
    Ok(response
        .into_inner()
        .host_endpoint
        .expect("update returns the object"))
}

/// Deletes an object with optional preconditions (0 and "" impose none).
pub async fn delete(
    client: &mut ApiClient,
    name: &str,
    resource_version: u64,
    uid: &str,
) -> Result<pb::HostEndpoint, tonic::Status> {
    let response = client
        .delete_host_endpoint(pb::DeleteHostEndpointRequest {
            name: name.into(),
            resource_version,
            uid: uid.into(),
        })
        .await?;
    Ok(response
        .into_inner()
        .host_endpoint
        .expect("delete returns the object"))
}

/// Lists one page, which must succeed.
pub async fn list(
    client: &mut ApiClient,
    node: &str,
    page_size: i32,
    token: &str,
) -> pb::ListHostEndpointsResponse {
    client
        .list_host_endpoints(pb::ListHostEndpointsRequest {
            node: node.into(),
            page_size,
            page_token: token.into(),
            ..Default::default()
        })
        .await
        .expect("list succeeds")
        .into_inner()
}

/// The names of a listing's objects.
pub fn names(heps: &[pb::HostEndpoint]) -> Vec<&str> {
    heps.iter().map(|h| meta(h).name.as_str()).collect()
}
