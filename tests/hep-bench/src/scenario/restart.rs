//! Scenario 7: SIGKILL, then the time until the server answers a read again.

use std::{
    sync::atomic::Ordering::Relaxed,
    time::{Duration, Instant},
};

use anyhow::bail;

use super::{
    Sut,
    drive::{mib, settle},
};
use crate::{
    config::{Settings, SystemKind},
    report::{Better, Figure, Report, Unit},
    server::Usage,
};

/// The longest a restart may take before the run gives up.
const RESTART_TIMEOUT: Duration = Duration::from_secs(300);
/// The pause between two attempts to reach the restarted server.
const POLL: Duration = Duration::from_millis(2);

/// Scenario 7: kills each server with SIGKILL, starts it again on the same data directory and
/// port, and measures the time from the start until a get by name succeeds. hostendpointd on
/// etcd restarts hostendpointd only, as a replica restarts: its etcd keeps running.
/// `histories` says, for each system in order, how its history was written; a system whose
/// history is `None` (a replica that did not catch up with it) is not restarted.
pub(crate) async fn restart(
    suts: &mut [Sut],
    histories: &[Option<String>],
    settings: &Settings,
    report: &mut Report,
) -> anyhow::Result<()> {
    for (sut, history) in suts.iter_mut().zip(histories) {
        let Some(history) = history else {
            eprintln!(
                "{}: no restart measurement: it had not caught up with its history",
                sut.kind.name()
            );
            continue;
        };
        let objects = sut.shared.objects();
        let entries = sut.shared.writes.load(Relaxed);
        let scenario = format!(
            "7 restart after SIGKILL, {objects} objects, {} log entries",
            settings.log_entries
        );
        let detail = restart_detail(sut.kind, entries, history);
        report.push(timed_restart(sut, settings, scenario, detail).await?);
    }
    Ok(())
}

/// Kills the server with SIGKILL once it is quiet, starts it again on the same data directory
/// and port, and times it from the start until a get by name succeeds: the figure `scenario`,
/// with the server's CPU and peak memory until then (of the new process, plus what a process
/// that kept running used from the kill). Scenarios 7 and 10.
pub(crate) async fn timed_restart(
    sut: &mut Sut,
    settings: &Settings,
    scenario: String,
    detail: String,
) -> anyhow::Result<Figure> {
    settle(&sut.server, settings).await?;
    // What the restart costs a process that keeps running (an etcd behind hostendpointd)
    // counts from here.
    sut.server.reset_peak()?;
    let lasting = sut.server.lasting_usage()?;
    let generator = Usage::of_self()?;
    sut.server.kill();
    let start = Instant::now();
    sut.server.start_again()?;
    let elapsed = until_answering(sut, start).await?;
    let usage = sut.server.usage()?;
    Ok(Figure {
        scenario,
        system: sut.kind,
        unit: Unit::Seconds,
        better: Better::Lower,
        value: elapsed.as_secs_f64(),
        latency: None,
        cpu_secs: usage.cpu_secs - lasting.cpu_secs,
        peak_rss_mib: mib(usage.peak_rss_bytes),
        generator_cpu_secs: Usage::of_self()?.cpu_secs - generator.cpu_secs,
        // One restart: its CPU per op is the whole restart's.
        ops: 1,
        errors: 0,
        detail,
    })
}

/// What was restarted, on how much history written how, and whose CPU and memory the figure
/// has.
pub(crate) fn restart_detail(kind: SystemKind, entries: u64, written: &str) -> String {
    let (history, measured) = match kind {
        SystemKind::Hostendpointd | SystemKind::HostendpointdMtls => {
            ("change-log entries", "the new process")
        }
        SystemKind::HostendpointdEtcd => (
            "key revisions in its etcd, which kept running",
            "the new hostendpointd process and of its etcd",
        ),
        SystemKind::Etcd => ("key revisions", "the new process"),
    };
    format!(
        "from spawn to the first successful get; {entries} {history}; CPU and peak RSS of \
         {measured} until then; {written}"
    )
}

/// Waits until a freshly started server answers.
pub(crate) async fn until_ready(sut: &mut Sut) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let attempt = async {
            let mut client = sut.client().await?;
            client.revision().await
        };
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), attempt).await {
            return Ok(());
        }
        check_alive(sut, start)?;
        tokio::time::sleep(POLL).await;
    }
}

fn check_alive(sut: &mut Sut, start: Instant) -> anyhow::Result<()> {
    if !sut.server.is_running() {
        bail!(
            "{} exited while starting:\n{}",
            sut.kind.name(),
            sut.server.log_tail()
        );
    }
    if start.elapsed() > RESTART_TIMEOUT {
        bail!(
            "{} did not answer within {RESTART_TIMEOUT:?}",
            sut.kind.name()
        );
    }
    Ok(())
}

/// Waits until the server answers a get of object 0; returns the time since `start`.
pub(crate) async fn until_answering(sut: &mut Sut, start: Instant) -> anyhow::Result<Duration> {
    loop {
        let attempt = async {
            let mut client = sut.client().await?;
            client.get(0).await
        };
        if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(1), attempt).await {
            return Ok(start.elapsed());
        }
        check_alive(sut, start)?;
        tokio::time::sleep(POLL).await;
    }
}
