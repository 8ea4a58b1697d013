//! A set of open watch streams, each read by a task of its own.

use std::sync::{Arc, atomic::Ordering::Relaxed};

use futures::StreamExt as _;
use tokio::{sync::watch, task::JoinHandle};

use super::record::Record;
use crate::{
    config::Settings,
    scenario::Sut,
    system::{WatchSpec, WatchStream, connect},
    workload::Workload,
};

/// Watches being opened at once.
const OPEN_CONCURRENCY: usize = 256;

/// Which objects a watcher selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Selection {
    /// Every object.
    All,
    /// One node's objects; watcher `j` takes node `j % nodes`.
    OneNode,
}

/// How a watcher reads its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reading {
    /// Every message, until the stream ends.
    All,
    /// Its first message of events, then nothing: the stream stays open, unpolled.
    FirstMessage,
}

/// The watchers to open: how many, how they share connections, what they select and how they
/// read.
#[derive(Clone, Copy, Debug)]
pub(super) struct Plan {
    /// How many watchers.
    pub(super) count: usize,
    /// Watch streams per HTTP/2 connection.
    pub(super) per_connection: usize,
    /// What each selects.
    pub(super) selection: Selection,
    /// How each reads.
    pub(super) reading: Reading,
}

impl Plan {
    /// `count` watchers that read everything, `--watchers-per-connection` to a connection.
    pub(super) fn reading_all(settings: &Settings, count: usize, selection: Selection) -> Self {
        Self {
            count,
            per_connection: settings.watchers_per_connection,
            selection,
            reading: Reading::All,
        }
    }
}

/// Open watch streams; closed when dropped.
#[derive(Debug)]
pub(super) struct Watchers {
    tasks: Vec<JoinHandle<()>>,
    /// How many.
    pub(super) count: usize,
    /// Over how many HTTP/2 connections.
    pub(super) connections: usize,
    /// What each selects.
    pub(super) selection: Selection,
    /// How many watchers each node has.
    per_node: Vec<u64>,
}

impl Watchers {
    /// Opens the plan's watchers, resuming after the record's base revision, and waits until
    /// the server has set up every one.
    pub(super) async fn open(
        sut: &Sut,
        settings: &Settings,
        plan: Plan,
        record: &Arc<Record>,
    ) -> anyhow::Result<Self> {
        let Plan {
            count,
            per_connection,
            selection,
            reading,
        } = plan;
        let connections = count.div_ceil(per_connection);
        let mut channels = Vec::with_capacity(connections);
        for _ in 0..connections {
            channels.push(connect(&sut.server.target()).await?);
        }
        let nodes = sut.shared.workload.nodes();
        let mut per_node = vec![0; nodes];
        let specs: Vec<_> = (0..count)
            .map(|j| {
                let node = (selection == Selection::OneNode).then(|| {
                    per_node[j % nodes] += 1;
                    Workload::node_name(j % nodes)
                });
                let spec = WatchSpec {
                    after_revision: record.base,
                    node,
                    prev_kv: settings.etcd_prev_kv,
                };
                (channels[j / per_connection].clone(), spec)
            })
            .collect();
        let kind = sut.kind;
        let mut opened = futures::stream::iter(specs)
            .map(|(channel, spec)| WatchStream::open(kind, channel, spec))
            .buffer_unordered(OPEN_CONCURRENCY);
        let mut tasks = Vec::with_capacity(count);
        while let Some(stream) = opened.next().await {
            let stop = match reading {
                Reading::All => Stop::Never,
                Reading::FirstMessage => Stop::AfterFirstMessage,
            };
            tasks.push(tokio::spawn(read(stream?, Arc::clone(record), stop)));
        }
        Ok(Self {
            tasks,
            count,
            connections,
            selection,
            per_node,
        })
    }

    /// How many watchers receive a write of object `index`.
    pub(super) fn receivers(&self, workload: &Workload, index: usize) -> u64 {
        match self.selection {
            Selection::All => self.count as u64,
            Selection::OneNode => self.per_node[workload.node_of(index)],
        }
    }
}

impl Drop for Watchers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// When a reader stops reading (and holds its stream open, unpolled, until it is aborted).
#[derive(Debug)]
pub(super) enum Stop {
    /// It reads until the stream ends.
    Never,
    /// When this turns true.
    When(watch::Receiver<bool>),
    /// After its first message of events.
    AfterFirstMessage,
}

/// Reads a watch stream until it ends, or until `stop` says so: then it holds the stream open
/// without reading, until the task is aborted.
pub(super) async fn read(mut stream: WatchStream, record: Arc<Record>, mut stop: Stop) {
    let mut revisions = Vec::new();
    loop {
        revisions.clear();
        let next = match &mut stop {
            Stop::When(stall) => tokio::select! {
                next = stream.next_batch(&mut revisions) => next,
                _ = async { stall.wait_for(|stalled| *stalled).await.is_ok() } => break,
            },
            Stop::Never | Stop::AfterFirstMessage => stream.next_batch(&mut revisions).await,
        };
        match next {
            Ok(true) => record.delivered(&revisions),
            Ok(false) | Err(_) => {
                record.broken.fetch_add(1, Relaxed);
                return;
            }
        }
        // etcd's progress notifications and hostendpointd's bookmarks carry no revision of a
        // write: only a message with events counts as the first.
        if matches!(stop, Stop::AfterFirstMessage) && !revisions.is_empty() {
            record.stalled.fetch_add(1, Relaxed);
            break;
        }
    }
    // The stream stays open, unread, until the task is aborted.
    std::future::pending::<()>().await;
}
