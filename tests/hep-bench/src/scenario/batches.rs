//! Writing many object versions fast, for the state that scenarios 7 and 10 measure on (not
//! measured itself): [`write_batches`], batches of versions from several connections at once,
//! and [`until_caught_up`], the wait for hostendpointd on etcd to apply what was written
//! straight into its etcd.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use anyhow::bail;

use super::{Shared, Sut};
use crate::{
    config::SystemKind,
    system::{Client, Target},
    workload::Version,
};

/// Connections writing at once, each with one batch of [`BATCH`] versions in flight.
pub(super) const TASKS: usize = 8;
/// Versions per batch: one etcd transaction (its default `--max-txn-ops`), or as many
/// concurrent calls on hostendpointd.
pub(super) const BATCH: usize = 128;
/// A line on stderr every this many versions, so that a long fill shows it is alive.
const PROGRESS_EVERY: u64 = 100_000;

/// How a batch is written.
#[derive(Clone, Copy, Debug)]
pub(super) enum Mode {
    /// Objects that do not exist yet: hostendpointd creates them; etcd puts them.
    Create,
    /// New versions of existing objects, without preconditions.
    Overwrite,
}

/// Where batches go: the system's own API, or for hostendpointd on etcd its etcd.
#[derive(Clone, Debug)]
pub(super) struct Sink {
    /// Whose client writes: hostendpointd's API, or etcd's.
    pub(super) kind: SystemKind,
    /// The server it writes to.
    pub(super) target: Target,
}

impl Sink {
    /// Straight into the store: hostendpointd on etcd's etcd, otherwise the system itself.
    pub(super) fn store_of(sut: &Sut) -> Self {
        match sut.server.backing_addr() {
            Some(etcd) => Self {
                kind: SystemKind::Etcd,
                target: Target::plain(etcd),
            },
            None => Self {
                kind: sut.kind,
                target: sut.server.target(),
            },
        }
    }
}

/// Writes batch after batch from [`TASKS`] connections until `next` has no more (`next(n)` is
/// batch `n`, or `None`), noting each version's revision in `shared`. `label` names the
/// progress lines. Returns when every batch was acknowledged: the moment the last one was.
pub(super) async fn write_batches<F>(
    sink: &Sink,
    mode: Mode,
    shared: &Arc<Shared>,
    label: &str,
    next: F,
) -> anyhow::Result<Instant>
where
    F: Fn(usize) -> Option<Vec<Version>> + Clone + Send + 'static,
{
    let written = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(TASKS);
    for task in 0..TASKS {
        let mut client = Client::connect(sink.kind, &sink.target).await?;
        let (shared, written, next) = (Arc::clone(shared), Arc::clone(&written), next.clone());
        let label = label.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut last_ack = Instant::now();
            let mut batch_no = task;
            while let Some(versions) = next(batch_no) {
                let revisions = match mode {
                    Mode::Create => client.create_batch(&shared.workload, &versions).await?,
                    Mode::Overwrite => client.overwrite(&shared.workload, &versions).await?,
                };
                last_ack = Instant::now();
                // etcd's revisions are hostendpointd-etcd's resource_versions, so later
                // preconditions through hostendpointd hold.
                for (version, revision) in versions.iter().zip(revisions) {
                    shared.wrote(version.index, revision);
                }
                let before = written.fetch_add(versions.len() as u64, Relaxed);
                let now = before + versions.len() as u64;
                if now / PROGRESS_EVERY > before / PROGRESS_EVERY {
                    eprintln!(
                        "  {label}: {} written",
                        now / PROGRESS_EVERY * PROGRESS_EVERY
                    );
                }
                batch_no += TASKS;
            }
            anyhow::Ok(last_ack)
        }));
    }
    let mut last_ack = Instant::now();
    for task in tasks {
        last_ack = last_ack.max(task.await??);
    }
    Ok(last_ack)
}

/// The longest hostendpointd on etcd may take to apply what was written into its etcd.
pub(super) const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(300);
/// The pause between two looks at hostendpointd's revision.
const CATCH_UP_POLL: Duration = Duration::from_millis(20);

/// How hostendpointd on etcd followed writes into its etcd.
#[derive(Clone, Copy, Debug)]
pub(super) struct CatchUp {
    /// etcd's revision after the writes.
    pub(super) revision: u64,
    /// From the last write's acknowledgement until hostendpointd answered a listing at
    /// `revision`; `None` when it had not within [`CATCH_UP_TIMEOUT`].
    pub(super) after: Option<Duration>,
}

/// Waits until hostendpointd answers a listing at its etcd's current revision (at most
/// [`CATCH_UP_TIMEOUT`]). `last_ack` is when etcd acknowledged the last write. Missing the
/// deadline is a result, not an error; hostendpointd exiting is one.
pub(super) async fn until_caught_up(
    sut: &mut Sut,
    etcd: SocketAddr,
    last_ack: Instant,
) -> anyhow::Result<CatchUp> {
    let target = Client::connect(SystemKind::Etcd, &Target::plain(etcd))
        .await?
        .revision()
        .await?;
    let deadline = Instant::now() + CATCH_UP_TIMEOUT;
    let mut client = sut.client().await?;
    loop {
        // A failed or slow look (under load) is retried until the deadline.
        let look = tokio::time::timeout(Duration::from_secs(1), client.revision()).await;
        if let Ok(Ok(revision)) = look
            && revision >= target
        {
            return Ok(CatchUp {
                revision: target,
                after: Some(last_ack.elapsed()),
            });
        }
        if !sut.server.is_running() {
            bail!(
                "{} exited while following its etcd:\n{}",
                sut.kind.name(),
                sut.server.log_tail()
            );
        }
        if Instant::now() > deadline {
            return Ok(CatchUp {
                revision: target,
                after: None,
            });
        }
        tokio::time::sleep(CATCH_UP_POLL).await;
    }
}
