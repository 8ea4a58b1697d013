//! Closed-loop load: each client task issues its next call as soon as the previous one was
//! answered, for a fixed time or until its work runs out, and every call's latency is
//! recorded. Also the measurement of the server around a phase.

use std::{
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use crate::{
    config::{Settings, SystemKind},
    histogram::Histogram,
    report::{Better, Figure, Unit},
    server::{Server, Usage},
};

/// One client task's work.
pub(crate) trait Worker: Send + 'static {
    /// Makes one call. `Ok(false)` when there is no work left.
    fn step(&mut self) -> impl Future<Output = anyhow::Result<bool>> + Send;
}

/// What a phase of closed-loop calls measured.
#[derive(Debug, Default)]
pub(crate) struct Phase {
    /// Calls that succeeded.
    pub(crate) ops: u64,
    /// Calls that failed.
    pub(crate) errors: u64,
    /// The first failure, for the report.
    pub(crate) first_error: Option<String>,
    /// From the start until the last task stopped.
    pub(crate) elapsed: Duration,
    /// The latency of every successful call.
    pub(crate) latency: Histogram,
}

impl Phase {
    /// Successful calls per second.
    pub(crate) fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs `workers` concurrently for `duration` (each stops early when its work runs out).
pub(crate) async fn closed_loop<W: Worker>(workers: Vec<W>, duration: Duration) -> Phase {
    let start = Instant::now();
    let deadline = start + duration;
    let latency = Arc::new(Histogram::default());
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(Mutex::new(None));
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut worker| {
            let latency = Arc::clone(&latency);
            let errors = Arc::clone(&errors);
            let first_error = Arc::clone(&first_error);
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let call = Instant::now();
                    match worker.step().await {
                        Ok(true) => latency.record(call.elapsed()),
                        Ok(false) => break,
                        Err(err) => {
                            errors.fetch_add(1, Relaxed);
                            let mut first = first_error.lock().unwrap_or_else(|e| e.into_inner());
                            first.get_or_insert_with(|| format!("{err:#}"));
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        // A task only ends by returning; a panic in one is a bug of this harness.
        task.await.expect("a client task panicked");
    }
    let elapsed = start.elapsed();
    let latency = Arc::into_inner(latency).expect("every task has ended");
    let first_error = first_error.lock().unwrap_or_else(|e| e.into_inner()).take();
    Phase {
        ops: latency.count(),
        errors: errors.load(Relaxed),
        first_error,
        elapsed,
        latency,
    }
}

/// The server's CPU time and peak memory over a phase.
#[derive(Debug)]
pub(crate) struct Meter {
    before: Usage,
    generator_before: Usage,
}

/// What a [`Meter`] measured.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cost {
    /// CPU seconds the server used.
    pub(crate) cpu_secs: f64,
    /// The server's peak resident memory, in bytes.
    pub(crate) peak_rss_bytes: u64,
    /// CPU seconds the load generator used: the servers share the machine with it.
    pub(crate) generator_cpu_secs: f64,
}

impl Meter {
    /// Starts measuring: resets the server's peak memory.
    pub(crate) fn start(server: &Server) -> anyhow::Result<Self> {
        server.reset_peak()?;
        Ok(Self {
            before: server.usage()?,
            generator_before: Usage::of_self()?,
        })
    }

    /// What the server used since [`Meter::start`].
    pub(crate) fn stop(self, server: &Server) -> anyhow::Result<Cost> {
        let after = server.usage()?;
        Ok(Cost {
            cpu_secs: after.cpu_secs - self.before.cpu_secs,
            peak_rss_bytes: after.peak_rss_bytes,
            generator_cpu_secs: Usage::of_self()?.cpu_secs - self.generator_before.cpu_secs,
        })
    }
}

/// The longest wait for a server to go quiet.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A server is quiet when it used less CPU than this share of one core over a tenth of a
/// phase (at least 100 ms, at most 500 ms).
const QUIET_SHARE: f64 = 0.05;

/// Waits until the server has worked off what earlier scenarios left it (at most
/// [`SETTLE_TIMEOUT`]), so that it does not load the next measurement.
pub(crate) async fn settle(server: &Server, settings: &Settings) -> anyhow::Result<()> {
    let window =
        (settings.phase / 10).clamp(Duration::from_millis(100), Duration::from_millis(500));
    let start = Instant::now();
    let mut cpu = server.usage()?.cpu_secs;
    loop {
        tokio::time::sleep(window).await;
        let now = server.usage()?.cpu_secs;
        if now - cpu < QUIET_SHARE * window.as_secs_f64() {
            return Ok(());
        }
        if start.elapsed() > SETTLE_TIMEOUT {
            eprintln!("  (the server still works after {SETTLE_TIMEOUT:?}: measuring anyway)");
            return Ok(());
        }
        cpu = now;
    }
}

/// The figure of a closed-loop phase: calls per second and their latency.
pub(crate) fn rate_figure(
    scenario: &str,
    system: SystemKind,
    phase: &Phase,
    cost: Cost,
    what: &str,
) -> Figure {
    let mut detail = format!(
        "{} {what} in {:.1} s; the load generator used {:.2} CPU s",
        phase.ops,
        phase.elapsed.as_secs_f64(),
        cost.generator_cpu_secs
    );
    if phase.errors > 0 {
        detail.push_str(&format!(
            "; {} failed, first: {}",
            phase.errors,
            phase.first_error.as_deref().unwrap_or("?")
        ));
    }
    Figure {
        scenario: scenario.to_owned(),
        system,
        unit: Unit::OpsPerSec,
        better: Better::Higher,
        value: phase.rate(),
        ops: phase.ops,
        latency: Some(phase.latency.latency()),
        cpu_secs: cost.cpu_secs,
        peak_rss_mib: mib(cost.peak_rss_bytes),
        generator_cpu_secs: cost.generator_cpu_secs,
        errors: phase.errors,
        detail,
    }
}

/// Bytes in MiB.
pub(crate) fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
