//! Page tokens: where a listing stopped, at which revision, and for which filter. Opaque to
//! clients (base64url of a small protobuf message).

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hostendpoint_api::model::Revision;
use prost::Message;
use tonic::Status;

use super::status::invalid_field;

/// The state of a listing between two pages.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct PageToken {
    /// The revision every page of the listing reflects.
    #[prost(uint64, tag = "1")]
    pub(crate) revision: Revision,
    /// The last name returned.
    #[prost(string, tag = "2")]
    pub(crate) after: String,
    /// The listing's node filter, which later pages must repeat.
    #[prost(string, tag = "3")]
    pub(crate) node: String,
    /// The listing's selector, which later pages must repeat.
    #[prost(string, tag = "4")]
    pub(crate) selector: String,
}

impl PageToken {
    pub(crate) fn encode_token(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.encode_to_vec())
    }

    /// Decodes a client's token and checks that the request repeats the listing's filter.
    pub(crate) fn decode_token(token: &str, node: &str, selector: &str) -> Result<Self, Status> {
        let malformed = || invalid_field("page_token", "malformed page token");
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| malformed())?;
        let token = Self::decode(bytes.as_slice()).map_err(|_| malformed())?;
        if token.revision == 0 || token.after.is_empty() {
            return Err(malformed());
        }
        if token.node != node {
            return Err(invalid_field(
                "node",
                "must be the same as in the request that returned the page token",
            ));
        }
        if token.selector != selector {
            return Err(invalid_field(
                "selector",
                "must be the same as in the request that returned the page token",
            ));
        }
        Ok(token)
    }
}
