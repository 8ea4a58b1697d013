//! The strings of the wire contract that the protobuf schema cannot type: the
//! `google.rpc.ErrorInfo` domain, reasons and metadata keys of the API's errors, and the
//! response header of a watch. The server sends them and clients act on them, so both take
//! them from here; the `.proto` documents each, and a test holds this module to it.

/// The `google.rpc.ErrorInfo` domain of every error of this API.
pub const ERROR_DOMAIN: &str = "hostendpoint.v1";

/// The response header of a watch that names the store its revisions belong to: a client
/// resumes with it as `store_uid`.
pub const STORE_UID_HEADER: &str = "store-uid";

/// The `reason` of each `google.rpc.ErrorInfo` the server sends.
pub mod reason {
    /// ABORTED: a write's resource_version precondition did not match the stored object.
    pub const REVISION_CONFLICT: &str = "REVISION_CONFLICT";
    /// OUT_OF_RANGE: the revision is older than the retained history; relist.
    pub const REVISION_COMPACTED: &str = "REVISION_COMPACTED";
    /// OUT_OF_RANGE: the server has not reached the revision (a replica that lags).
    pub const REVISION_NOT_YET_AVAILABLE: &str = "REVISION_NOT_YET_AVAILABLE";
    /// FAILED_PRECONDITION: the revision belongs to another store (wiped or replaced); relist.
    pub const STORE_UID_MISMATCH: &str = "STORE_UID_MISMATCH";
}

/// The `metadata` keys of those ErrorInfos; each value is a decimal revision or a store uid.
pub mod metadata {
    /// REVISION_CONFLICT: the resource_version the write expected.
    pub const EXPECTED_REVISION: &str = "expected_revision";
    /// REVISION_CONFLICT: the stored object's resource_version.
    pub const ACTUAL_REVISION: &str = "actual_revision";
    /// REVISION_COMPACTED, REVISION_NOT_YET_AVAILABLE: the revision asked for.
    pub const REQUESTED_REVISION: &str = "requested_revision";
    /// REVISION_COMPACTED, REVISION_NOT_YET_AVAILABLE: the store's latest revision.
    pub const CURRENT_REVISION: &str = "current_revision";
    /// REVISION_COMPACTED: the oldest revision a watch can resume from, when known.
    pub const OLDEST_RESUMABLE_REVISION: &str = "oldest_resumable_revision";
    /// STORE_UID_MISMATCH: this store's uid.
    pub const STORE_UID: &str = "store_uid";
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROTO: &str = include_str!("../proto/hostendpoint/v1/hostendpoint.proto");

    /// The `.proto`'s comments, where the contract is written for every client.
    fn documentation() -> String {
        PROTO
            .lines()
            .filter_map(|line| line.trim_start().strip_prefix("//"))
            .flat_map(str::split_whitespace)
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn every_string_is_the_one_the_proto_documents() {
        let documented = documentation();
        let strings = [
            format!("domain {ERROR_DOMAIN}"),
            format!("`{STORE_UID_HEADER}` header"),
            format!("reason {}", reason::REVISION_CONFLICT),
            format!("reason {}", reason::REVISION_COMPACTED),
            format!("reason {}", reason::REVISION_NOT_YET_AVAILABLE),
            format!("reason {}", reason::STORE_UID_MISMATCH),
            metadata::EXPECTED_REVISION.to_owned(),
            metadata::ACTUAL_REVISION.to_owned(),
            metadata::REQUESTED_REVISION.to_owned(),
            metadata::CURRENT_REVISION.to_owned(),
            metadata::OLDEST_RESUMABLE_REVISION.to_owned(),
            format!("metadata {}", metadata::STORE_UID),
        ];
        for string in strings {
            assert!(
                documented.contains(&string),
                "the .proto does not document {string:?}"
            );
        }
    }
}
