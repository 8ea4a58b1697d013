//! Calico's etcdv3 layout: key `/calico/resources/v3/projectcalico.org/hostendpoints/<name>`,
//! value Calico's v3 JSON ([`calico::Document`] without resourceVersion). Objects written here
//! read back in calicoctl and Felix, and theirs read back here.
//!
//! Values are read leniently but validated: a value that breaks Calico's rules is reported,
//! and the caller skips it.

use hostendpoint_api::{
    calico::{self, Document, ResourceVersion},
    model::{HostEndpoint, Revision},
};

/// Where Calico's etcdv3 datastore keeps host endpoints.
pub const DEFAULT_PREFIX: &str = "/calico/resources/v3/projectcalico.org/hostendpoints/";

/// Why a stored value is not a usable HostEndpoint.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not a valid Calico v3 HostEndpoint document.
    #[error(transparent)]
    Document(#[from] calico::DecodeError),
    /// The key's name and the document's differ.
    #[error("the key names {key:?} but the document {document:?}")]
    Name {
        /// The name in the key.
        key: String,
        /// metadata.name.
        document: String,
    },
}

/// The etcd key of the object `name`.
pub fn key(prefix: &str, name: &str) -> Vec<u8> {
    format!("{prefix}{name}").into_bytes()
}

/// The object name of `key`, if it is under `prefix`.
pub fn name_of<'a>(prefix: &str, key: &'a [u8]) -> Option<&'a str> {
    std::str::from_utf8(key).ok()?.strip_prefix(prefix)
}

/// Calico's JSON for `hep`, without resourceVersion (etcd's mod_revision is the version).
pub fn encode(hep: &HostEndpoint) -> Vec<u8> {
    Document::from_host_endpoint(hep, ResourceVersion::Omit).to_json()
}

/// The object stored under `name` at `mod_revision`.
pub fn decode(
    name: &str,
    value: &[u8],
    mod_revision: Revision,
) -> Result<HostEndpoint, DecodeError> {
    let document = Document::from_json(value)?;
    if document.name() != name {
        return Err(DecodeError::Name {
            key: name.into(),
            document: document.name().into(),
        });
    }
    let mut hep = document.without_resource_version().into_host_endpoint()?;
    hep.metadata.resource_version = mod_revision;
    Ok(hep)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALICOCTL_VALUE: &str = r#"{"kind":"HostEndpoint","apiVersion":"projectcalico.org/v3","metadata":{"name":"endpoint1","uid":"6f1c2b9e-4d0a-4c8e-9a57-1f0e2d3c4b5a","creationTimestamp":"2024-05-01T10:00:00Z","labels":{"type":"database"}},"spec":{"node":"host1","interfaceName":"eth0","expectedIPs":["192.168.0.1"],"profiles":["prof1","prof2"],"ports":[{"name":"some-port","protocol":"TCP","port":1234},{"name":"num","protocol":6,"port":80}]}}"#;

    #[test]
    fn calico_values_round_trip_exactly() {
        let hep = decode("endpoint1", CALICOCTL_VALUE.as_bytes(), 42).expect("a valid value");
        assert_eq!(hep.metadata.resource_version, 42);
        assert_eq!(hep.spec.ports[1].protocol.to_string(), "6");
        assert_eq!(
            String::from_utf8(encode(&hep)).expect("utf-8"),
            CALICOCTL_VALUE
        );
    }

    #[test]
    fn the_mod_revision_is_the_version_even_where_a_value_carries_one() {
        let with_version = CALICOCTL_VALUE.replace(
            r#""creationTimestamp""#,
            r#""resourceVersion":"7","creationTimestamp""#,
        );
        let hep = decode("endpoint1", with_version.as_bytes(), 42).expect("a valid value");
        assert_eq!(hep.metadata.resource_version, 42);
        assert_eq!(encode(&hep), CALICOCTL_VALUE.as_bytes());
        // Whatever another writer put there is ignored, as Calico's client ignores it.
        let odd_version = CALICOCTL_VALUE.replace(
            r#""creationTimestamp""#,
            r#""resourceVersion":"not-a-number","creationTimestamp""#,
        );
        let hep = decode("endpoint1", odd_version.as_bytes(), 43).expect("a valid value");
        assert_eq!(hep.metadata.resource_version, 43);
    }

    #[test]
    fn foreign_values_that_break_the_rules_are_errors() {
        let bad_node = CALICOCTL_VALUE.replace("host1", "Host_1");
        assert!(matches!(
            decode("endpoint1", bad_node.as_bytes(), 1),
            Err(DecodeError::Document(calico::DecodeError::Invalid(_)))
        ));
        assert!(matches!(
            decode("other", CALICOCTL_VALUE.as_bytes(), 1),
            Err(DecodeError::Name { .. })
        ));
        assert!(matches!(
            decode("endpoint1", b"{", 1),
            Err(DecodeError::Document(calico::DecodeError::Json { .. }))
        ));
    }
}
