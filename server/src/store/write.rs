//! What a write does, decided from the request and the stored object alone, so that every
//! backend applies the same rules: preconditions, no-op detection, and the metadata the
//! server owns (uid, creation_timestamp; the backend stamps resource_version).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hostendpoint_api::model::{HostEndpoint, Revision};

use super::{Error, Result};

/// A write request, as the API hands it to a store.
#[derive(Clone, Debug)]
pub enum Write {
    /// Create a new object.
    Create(HostEndpoint),
    /// Replace an object's labels, annotations and spec.
    Update {
        /// The new state; a non-zero resource_version or non-empty uid is a precondition.
        hep: HostEndpoint,
        /// Create the object when it is missing.
        allow_missing: bool,
    },
    /// Delete an object.
    Delete {
        /// The object's name.
        name: String,
        /// Conditions the stored object must meet.
        preconditions: Preconditions,
    },
}

/// Conditions on the stored object; empty fields impose nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preconditions {
    /// When non-zero, the stored resource_version must equal it.
    pub resource_version: Revision,
    /// When non-empty, the stored uid must equal it.
    pub uid: String,
}

/// What a backend must do for a write.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Nothing changes; answer with the stored object.
    Unchanged(HostEndpoint),
    /// Store this object (its resource_version is stamped by the backend).
    Put(HostEndpoint),
    /// Remove the stored object, which is given.
    Delete(HostEndpoint),
}

// === impl Write ===

impl Write {
    /// The name of the object the write touches.
    pub fn name(&self) -> &str {
        match self {
            Self::Create(hep) | Self::Update { hep, .. } => hep.name(),
            Self::Delete { name, .. } => name,
        }
    }

    /// Decides the write against the stored object `current`.
    pub fn plan(self, current: Option<HostEndpoint>) -> Result<Plan> {
        match (self, current) {
            (Self::Create(hep), None) => Ok(Plan::Put(created(hep))),
            (Self::Create(hep), Some(_)) => Err(Error::AlreadyExists {
                name: hep.metadata.name,
            }),
            (Self::Update { hep, allow_missing }, None) if allow_missing => {
                Ok(Plan::Put(created(hep)))
            }
            (Self::Update { hep, .. }, None) => Err(Error::NotFound {
                name: hep.metadata.name,
            }),
            (Self::Update { hep, .. }, Some(stored)) => updated(hep, stored),
            (Self::Delete { name, .. }, None) => Err(Error::NotFound { name }),
            (Self::Delete { preconditions, .. }, Some(stored)) => {
                preconditions.check(&stored)?;
                Ok(Plan::Delete(stored))
            }
        }
    }
}

// === impl Preconditions ===

impl Preconditions {
    fn of(hep: &HostEndpoint) -> Self {
        Self {
            resource_version: hep.metadata.resource_version,
            uid: hep.metadata.uid.clone(),
        }
    }

    fn check(&self, stored: &HostEndpoint) -> Result<()> {
        let meta = &stored.metadata;
        if self.resource_version != 0 && self.resource_version != meta.resource_version {
            return Err(Error::RevisionConflict {
                name: meta.name.clone(),
                expected: self.resource_version,
                actual: meta.resource_version,
            });
        }
        if !self.uid.is_empty() && self.uid != meta.uid {
            return Err(Error::UidConflict {
                name: meta.name.clone(),
                expected: self.uid.clone(),
                actual: meta.uid.clone(),
            });
        }
        Ok(())
    }
}

/// A new object with the metadata the server owns: a random uid and the creation time in
/// whole seconds (Calico prints RFC 3339 seconds, so the stored value reads back exactly).
fn created(mut hep: HostEndpoint) -> HostEndpoint {
    hep.metadata.uid = uuid::Uuid::new_v4().to_string();
    hep.metadata.creation_timestamp = Some(now_in_seconds());
    hep.metadata.resource_version = 0;
    hep
}

/// The stored object with the user-owned parts (labels, annotations, spec) of `hep`.
fn updated(hep: HostEndpoint, stored: HostEndpoint) -> Result<Plan> {
    Preconditions::of(&hep).check(&stored)?;
    if stored.same_content(&hep) {
        return Ok(Plan::Unchanged(stored));
    }
    let mut next = stored;
    next.metadata.labels = hep.metadata.labels;
    next.metadata.annotations = hep.metadata.annotations;
    next.spec = hep.spec;
    Ok(Plan::Put(next))
}

fn now_in_seconds() -> SystemTime {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    UNIX_EPOCH + Duration::from_secs(since_epoch.as_secs())
}

#[cfg(test)]
mod tests {
    use hostendpoint_api::model::{HostEndpointSpec, ObjectMeta};

    use super::*;

    fn mk_hep(name: &str, rv: Revision) -> HostEndpoint {
        HostEndpoint {
            metadata: ObjectMeta {
                name: name.into(),
                uid: if rv == 0 { String::new() } else { "u1".into() },
                resource_version: rv,
                ..ObjectMeta::default()
            },
            spec: HostEndpointSpec {
                node: "node-1".into(),
                interface_name: "eth0".into(),
                ..HostEndpointSpec::default()
            },
        }
    }

    #[test]
    fn update_keeps_server_metadata_and_checks_revision() {
        let stored = mk_hep("a", 7);
        let mut input = mk_hep("a", 0);
        input.spec.interface_name = "eth1".into();
        let plan = Write::Update {
            hep: input.clone(),
            allow_missing: false,
        }
        .plan(Some(stored.clone()))
        .expect("no precondition, so the update applies");
        let Plan::Put(next) = plan else {
            panic!("expected a put, got {plan:?}")
        };
        assert_eq!(next.metadata.uid, "u1");
        assert_eq!(next.spec.interface_name, "eth1");

        input.metadata.resource_version = 6;
        let err = Write::Update {
            hep: input,
            allow_missing: false,
        }
        .plan(Some(stored))
        .expect_err("a stale revision conflicts");
        assert!(matches!(
            err,
            Error::RevisionConflict {
                expected: 6,
                actual: 7,
                ..
            }
        ));
    }

    #[test]
    fn same_content_is_unchanged() {
        let stored = mk_hep("a", 3);
        let plan = Write::Update {
            hep: mk_hep("a", 0),
            allow_missing: false,
        }
        .plan(Some(stored.clone()))
        .expect("no precondition");
        assert_eq!(plan, Plan::Unchanged(stored));
    }
}
