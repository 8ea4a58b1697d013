//! `watch KIND`: one document per change, `{"type": ..., "object": ...}`, until Ctrl-C.
//!
//! The library's watcher lists, then follows changes, and lists again after losing its
//! place. A [`Tracker`] turns that into ADDED, MODIFIED and DELETED by remembering what it
//! printed, so a relisting prints only what changed meanwhile.

use std::{
    collections::{BTreeMap, BTreeSet},
    pin::pin,
};

use futures::StreamExt as _;
use hostendpoint_api::model::HostEndpoint;
use hostendpoint_client::watcher::{self, Event};

use super::check_selector;
use crate::{
    args::{WatchArgs, WatchFormat},
    connect::{Server, connect},
    error::{self, Error, Result},
    kind,
    manifest::encode,
    output::{self, Node},
};

/// Prints events until interrupted.
pub(crate) async fn run(server: &Server, args: WatchArgs) -> Result<()> {
    let WatchArgs {
        kind,
        node,
        selector,
        output: format,
    } = args;
    kind::check(&kind).map_err(Error::Failed)?;
    check_selector(selector.as_deref())?;
    let client = connect(server).await?;
    let config = watcher::Config {
        node,
        selector,
        ..watcher::Config::default()
    };
    let mut events = pin!(watcher::watcher(client, config));
    let mut interrupted = pin!(tokio::signal::ctrl_c());
    let mut tracker = Tracker::default();
    loop {
        tokio::select! {
            _ = &mut interrupted => return Ok(()),
            event = events.next() => match event {
                // The watcher never ends; were it to, so does the watch.
                None => return Ok(()),
                // The watcher retries by itself after an error; say what happened meanwhile.
                Some(Err(err)) => eprintln!("watch error: {}", error::chain(&err)),
                Some(Ok(event)) => {
                    for (change, hep) in tracker.apply(event) {
                        output::print(&document(format, change, &hep))?;
                    }
                }
            },
        }
    }
}

/// What happened to a host endpoint, as Kubernetes watch events name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// It is new to the watch.
    Added,
    /// It changed.
    Modified,
    /// It is gone (or left the watched node); the object is its last state.
    Deleted,
}

impl Change {
    fn name(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One event document.
fn document(format: WatchFormat, change: Change, hep: &HostEndpoint) -> String {
    let event = Node::Map(vec![
        ("type".to_owned(), Node::str(change.name())),
        ("object".to_owned(), encode::host_endpoint(hep)),
    ]);
    match format {
        WatchFormat::Json => output::json::to_string(&event) + "\n",
        WatchFormat::Yaml => format!("---\n{}", output::yaml::to_string(&event)),
    }
}

/// The host endpoints printed so far, to tell a change from a repeat.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    known: BTreeMap<String, HostEndpoint>,
    /// The names a listing in progress has given, to find the ones it no longer has.
    listing: Option<BTreeSet<String>>,
}

impl Tracker {
    /// The changes an event makes to what was printed.
    pub(crate) fn apply(&mut self, event: Event) -> Vec<(Change, HostEndpoint)> {
        match event {
            Event::Init => {
                self.listing = Some(BTreeSet::new());
                Vec::new()
            }
            Event::InitApply(hep) => {
                if let Some(listed) = &mut self.listing {
                    listed.insert(hep.metadata.name.clone());
                }
                let unchanged = self.known.get(&hep.metadata.name).is_some_and(|known| {
                    known.metadata.resource_version == hep.metadata.resource_version
                });
                if unchanged {
                    return Vec::new();
                }
                vec![self.upsert(hep)]
            }
            Event::InitDone(_) => {
                let listed = self.listing.take().unwrap_or_default();
                let gone: Vec<String> = self
                    .known
                    .keys()
                    .filter(|name| !listed.contains(*name))
                    .cloned()
                    .collect();
                gone.iter()
                    .filter_map(|name| self.known.remove(name))
                    .map(|hep| (Change::Deleted, hep))
                    .collect()
            }
            Event::Apply(hep) => vec![self.upsert(hep)],
            Event::Delete(hep) => {
                self.known.remove(&hep.metadata.name);
                vec![(Change::Deleted, hep)]
            }
        }
    }

    fn upsert(&mut self, hep: HostEndpoint) -> (Change, HostEndpoint) {
        let change = match self.known.insert(hep.metadata.name.clone(), hep.clone()) {
            Some(_) => Change::Modified,
            None => Change::Added,
        };
        (change, hep)
    }
}

#[cfg(test)]
mod tests {
    use hostendpoint_api::model::{HostEndpointSpec, ObjectMeta};

    use super::*;

    fn mk_hep(name: &str, resource_version: u64) -> HostEndpoint {
        HostEndpoint {
            metadata: ObjectMeta {
                name: name.into(),
                resource_version,
                ..ObjectMeta::default()
            },
            spec: HostEndpointSpec {
                node: "n1".into(),
                interface_name: "eth0".into(),
                ..HostEndpointSpec::default()
            },
        }
    }

    fn changes(tracker: &mut Tracker, event: Event) -> Vec<(Change, String)> {
        tracker
            .apply(event)
            .into_iter()
            .map(|(change, hep)| (change, hep.metadata.name))
            .collect()
    }

    #[test]
    fn the_first_listing_is_all_added_then_changes_follow() {
        let mut t = Tracker::default();
        assert!(changes(&mut t, Event::Init).is_empty());
        assert_eq!(
            changes(&mut t, Event::InitApply(mk_hep("a", 1))),
            [(Change::Added, "a".into())]
        );
        assert!(changes(&mut t, Event::InitDone(1)).is_empty());
        assert_eq!(
            changes(&mut t, Event::Apply(mk_hep("a", 2))),
            [(Change::Modified, "a".into())]
        );
        assert_eq!(
            changes(&mut t, Event::Apply(mk_hep("b", 3))),
            [(Change::Added, "b".into())]
        );
        assert_eq!(
            changes(&mut t, Event::Delete(mk_hep("a", 4))),
            [(Change::Deleted, "a".into())]
        );
    }

    #[test]
    fn a_relisting_prints_only_what_changed_meanwhile() {
        let mut t = Tracker::default();
        for event in [
            Event::Init,
            Event::InitApply(mk_hep("same", 1)),
            Event::InitApply(mk_hep("changed", 2)),
            Event::InitApply(mk_hep("gone", 3)),
            Event::InitDone(3),
        ] {
            t.apply(event);
        }
        let mut seen = Vec::new();
        for event in [
            Event::Init,
            Event::InitApply(mk_hep("changed", 5)),
            Event::InitApply(mk_hep("new", 6)),
            Event::InitApply(mk_hep("same", 1)),
            Event::InitDone(6),
        ] {
            seen.extend(changes(&mut t, event));
        }
        assert_eq!(
            seen,
            [
                (Change::Modified, "changed".into()),
                (Change::Added, "new".into()),
                (Change::Deleted, "gone".into()),
            ]
        );
    }

    #[test]
    fn events_print_as_type_and_object() {
        let json = document(WatchFormat::Json, Change::Added, &mk_hep("a", 1));
        assert!(
            json.starts_with(
                "{\n  \"type\": \"ADDED\",\n  \"object\": {\n    \"kind\": \"HostEndpoint\""
            ),
            "{json}"
        );
        assert!(json.ends_with("}\n"));
        let yaml = document(WatchFormat::Yaml, Change::Deleted, &mk_hep("a", 1));
        assert!(
            yaml.starts_with("---\nobject:\n  apiVersion: projectcalico.org/v3\n"),
            "{yaml}"
        );
        assert!(yaml.ends_with("type: DELETED\n"), "{yaml}");
    }
}
