//! `watch KIND`: a line (or a document) per change until Ctrl-C, printed by
//! [`EventPrinter`].
//!
//! The library's watcher lists, then follows changes, and lists again after losing its
//! place; the library's reflector keeps what was printed. A [`Tracker`] turns each event into
//! ADDED, MODIFIED and DELETED by comparing it with the reflector's store before the event
//! goes in, so a relisting prints only what changed meanwhile.

use std::pin::pin;

use futures::StreamExt as _;
use hostendpoint_api::model::HostEndpoint;
use hostendpoint_client::{
    reflector::{self, Store, Writer},
    watcher::{self, Event},
};

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

/// The host endpoints printed so far, in the library's reflector, to tell a change from a
/// repeat.
#[derive(Debug)]
pub(crate) struct Tracker {
    store: Store,
    writer: Writer,
}

impl Default for Tracker {
    fn default() -> Self {
        let (store, writer) = reflector::store();
        Self { store, writer }
    }
}

impl Tracker {
    /// The changes an event makes to what was printed. During a listing the store still
    /// holds what was printed before it, which is what each listed object is compared with;
    /// the objects the listing no longer has come from the reflector at its end.
    pub(crate) fn apply(&mut self, event: Event) -> Vec<(Change, HostEndpoint)> {
        let change = match &event {
            Event::Init | Event::InitDone(_) => None,
            Event::InitApply(hep) | Event::Apply(hep) => {
                let printed = self.store.get(&hep.metadata.name);
                let unchanged = printed.as_ref().is_some_and(|printed| {
                    printed.metadata.resource_version == hep.metadata.resource_version
                });
                match printed {
                    _ if unchanged && matches!(event, Event::InitApply(_)) => None,
                    Some(_) => Some((Change::Modified, hep.clone())),
                    None => Some((Change::Added, hep.clone())),
                }
            }
            Event::Delete(hep) => Some((Change::Deleted, hep.clone())),
        };
        let gone = self.writer.apply(&event);
        change
            .into_iter()
            .chain(gone.into_iter().filter_map(|event| match event {
                Event::Delete(hep) => Some((Change::Deleted, hep)),
                _ => None,
            }))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::mk_hep;

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
            changes(&mut t, Event::InitApply(mk_hep("a", "n1", 1))),
            [(Change::Added, "a".into())]
        );
        assert!(changes(&mut t, Event::InitDone(1)).is_empty());
        assert_eq!(
            changes(&mut t, Event::Apply(mk_hep("a", "n1", 2))),
            [(Change::Modified, "a".into())]
        );
        assert_eq!(
            changes(&mut t, Event::Apply(mk_hep("b", "n1", 3))),
            [(Change::Added, "b".into())]
        );
        assert_eq!(
            changes(&mut t, Event::Delete(mk_hep("a", "n1", 4))),
            [(Change::Deleted, "a".into())]
        );
    }

    #[test]
    fn a_relisting_prints_only_what_changed_meanwhile() {
        let mut t = Tracker::default();
        for event in [
            Event::Init,
            Event::InitApply(mk_hep("same", "n1", 1)),
            Event::InitApply(mk_hep("changed", "n1", 2)),
            Event::InitApply(mk_hep("gone", "n1", 3)),
            Event::InitDone(3),
        ] {
            t.apply(event);
        }
        let mut seen = Vec::new();
        for event in [
            Event::Init,
            Event::InitApply(mk_hep("changed", "n1", 5)),
            Event::InitApply(mk_hep("new", "n1", 6)),
            Event::InitApply(mk_hep("same", "n1", 1)),
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
            Event::InitApply(mk_hep("a", "n1", 1)),
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
