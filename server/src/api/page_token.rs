//! Page tokens: where a listing stopped, at which revision of which store, for which filter.
//!
//! Opaque to clients and tamper-evident: base64url of a small protobuf message followed by
//! its HMAC-SHA256 under the store's page-token secret. The secret belongs to the store, not
//! to the process ([`load_or_create_secret`] for sled, a key in etcd shared by every replica),
//! so a token stays good across restarts and replicas of the same store. Only tokens the
//! server issued are served, which matters because a later page may be rebuilt from the
//! history: a forged revision cannot make the server replay the log at will.

use std::{io, path::Path};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac as _};
use hostendpoint_api::model::Revision;
use prost::Message;
use rand::RngCore as _;
use sha2::Sha256;
use tonic::Status;

use crate::status::invalid_field;

/// The length of a page-token secret, in bytes.
pub const SECRET_LEN: usize = 32;
/// The length of a token's MAC, in bytes.
const MAC_LEN: usize = 32;

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
    /// The store the revision belongs to.
    #[prost(string, tag = "5")]
    pub(crate) store_uid: String,
}

/// Signs and checks the page tokens of one store.
#[derive(Clone)]
pub struct PageTokens {
    mac: Hmac<Sha256>,
    store_uid: String,
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of logs.
        f.debug_struct("PageTokens")
            .field("store_uid", &self.store_uid)
            .finish_non_exhaustive()
    }
}

impl PageTokens {
    /// Tokens of the store `store_uid`, signed with `secret`.
    pub fn new(secret: &[u8; SECRET_LEN], store_uid: &str) -> Self {
        Self {
            mac: Hmac::new_from_slice(secret).expect("HMAC takes a key of any length"),
            store_uid: store_uid.to_owned(),
        }
    }

    /// The token for `token`'s listing, stamped with this store's uid.
    pub(crate) fn encode(&self, mut token: PageToken) -> String {
        token.store_uid.clone_from(&self.store_uid);
        let mut bytes = token.encode_to_vec();
        let mut mac = self.mac.clone();
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Checks a client's token and that the request repeats the listing's filter.
    pub(crate) fn decode(
        &self,
        text: &str,
        node: &str,
        selector: &str,
    ) -> Result<PageToken, Status> {
        let malformed = || invalid_field("page_token", "malformed page token");
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| malformed())?;
        let split = bytes.len().checked_sub(MAC_LEN).ok_or_else(malformed)?;
        let (payload, tag) = bytes.split_at(split);
        let token = PageToken::decode(payload).map_err(|_| malformed())?;
        // Named before the MAC is checked: another store's token fails both, and this says why.
        // The token's own uid is not echoed: it is client text, unchecked until the MAC is.
        if token.store_uid != self.store_uid {
            return Err(invalid_field(
                "page_token",
                &format!(
                    "the page token is from another store (this is '{}'); restart the listing \
                     without a page token",
                    self.store_uid
                ),
            ));
        }
        let mut mac = self.mac.clone();
        mac.update(payload);
        if mac.verify_slice(tag).is_err() || token.revision == 0 || token.after.is_empty() {
            return Err(invalid_field(
                "page_token",
                "the page token was not issued by this store or was altered; pass it back \
                 unchanged, or restart the listing without a page token",
            ));
        }
        same_filter(&token, node, selector)?;
        Ok(token)
    }
}

fn same_filter(token: &PageToken, node: &str, selector: &str) -> Result<(), Status> {
    let differs = |field| {
        invalid_field(
            field,
            "must be the same as in the request that returned the page token",
        )
    };
    if token.node != node {
        return Err(differs("node"));
    }
    if token.selector != selector {
        return Err(differs("selector"));
    }
    Ok(())
}

/// A fresh random secret.
pub fn random_secret() -> [u8; SECRET_LEN] {
    let mut secret = [0; SECRET_LEN];
    rand::rng().fill_bytes(&mut secret);
    secret
}

/// The secret kept in the file `path`, created (readable by the owner only) on first use:
/// tokens outlive the process, and a wiped store gets a new secret with its new data.
pub fn load_or_create_secret(path: &Path) -> io::Result<[u8; SECRET_LEN]> {
    match std::fs::read(path) {
        Ok(bytes) => bytes.try_into().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} must hold {SECRET_LEN} bytes", path.display()),
            )
        }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => create_secret(path),
        Err(err) => Err(err),
    }
}

fn create_secret(path: &Path) -> io::Result<[u8; SECRET_LEN]> {
    use std::{io::Write as _, os::unix::fs::OpenOptionsExt as _};
    let secret = random_secret();
    let partial = path.with_extension("partial");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    file.write_all(&secret)?;
    file.sync_all()?;
    // Renamed into place whole, so a crash never leaves a short secret behind.
    std::fs::rename(&partial, path)?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_token() -> PageToken {
        PageToken {
            revision: 7,
            after: "web-1".into(),
            node: "host1".into(),
            selector: String::new(),
            store_uid: String::new(),
        }
    }

    #[test]
    fn a_token_round_trips_with_the_store_uid() {
        let tokens = PageTokens::new(&[1; SECRET_LEN], "store-a");
        let text = tokens.encode(mk_token());
        let token = tokens.decode(&text, "host1", "").expect("own token");
        assert_eq!(token.store_uid, "store-a");
        assert_eq!((token.revision, token.after.as_str()), (7, "web-1"));
    }

    #[test]
    fn an_edited_token_is_refused() {
        let tokens = PageTokens::new(&[1; SECRET_LEN], "store-a");
        let mut bytes = URL_SAFE_NO_PAD
            .decode(tokens.encode(mk_token()))
            .expect("base64");
        bytes[1] ^= 1;
        let err = tokens
            .decode(&URL_SAFE_NO_PAD.encode(bytes), "host1", "")
            .expect_err("edited");
        assert!(err.message().contains("altered"), "{err:?}");
    }

    #[test]
    fn a_secret_file_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("page-token.key");
        let first = load_or_create_secret(&path).expect("created");
        assert_eq!(load_or_create_secret(&path).expect("read"), first);
    }
}
