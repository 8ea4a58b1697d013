//! `watch KIND`: a line (or a document) per change until Ctrl-C, printed by
//! [`EventPrinter`].
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
    args::WatchArgs,
    connect::{Server, connect},
    error::{self, Error, Result},
    kind,
    output::{
        self,
        events::{Change, EventPrinter},
    },
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
    let mut printer = EventPrinter::new(format);
    loop {
        tokio::select! {
            _ = &mut interrupted => return Ok(()),
            event = events.next() => match event {
                // The watcher never ends; were it to, so does the watch.
                None => return Ok(()),
                // The watcher retries by itself after an error; say what happened meanwhile.
                Some(Err(err)) => eprintln!("watch error: {}", error::chain(&err)),
                Some(Ok(event)) => {
                    let text = text(&mut tracker, &mut printer, event);
                    if !text.is_empty() {
                        output::print(&text)?;
                    }
                }
            },
        }
    }
}

/// The text an event prints: the changes it makes to what was printed, then, at the end of
/// a listing, the printer's marker.
fn text(tracker: &mut Tracker, printer: &mut EventPrinter, event: Event) -> String {
    let synced = match event {
        Event::InitDone(revision) => Some(revision),
        _ => None,
    };
    let mut text: String = tracker
        .apply(event)
        .into_iter()
        .map(|(change, hep)| printer.change(change, &hep))
        .collect();
    if let Some(revision) = synced {
        text.push_str(&printer.synced(revision));
    }
    text
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
    fn the_table_marks_the_end_of_each_listing() {
        let mut t = Tracker::default();
        let mut printer = EventPrinter::new(crate::args::WatchFormat::Ps);
        let mut all = String::new();
        for event in [
            Event::Init,
            Event::InitApply(mk_hep("a", 1)),
            Event::InitDone(1),
            Event::Init,
            Event::InitDone(2),
        ] {
            all.push_str(&text(&mut t, &mut printer, event));
        }
        let events: Vec<&str> = all
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .collect();
        assert_eq!(
            events,
            ["EVENT", "ADDED", "SYNCED", "DELETED", "SYNCED"],
            "{all}"
        );
    }
}
