//! `hep-bench`: the same HostEndpoint workload against hostendpointd and against etcd v3 used
//! the way Calico's etcdv3 datastore uses it, in one run on one machine, with both systems'
//! figures and their ratio.
//!
//! Both servers are started here, on loopback, on fresh data directories, with their default
//! durability (etcd syncs its WAL per raft batch; hostendpointd `fdatasync`s per group commit).
//! Scenarios run one after the other, and within a scenario one system after the other, so
//! that a noisy neighbour on the machine hits both alike.
//!
//! # Layout
//! - [`config`]: the command line and the scale it resolves to.
//! - [`server`]: starting, killing and restarting the servers; their CPU time and memory.
//! - [`workload`]: the objects, and their Calico v3 JSON for etcd.
//! - [`system`]: one client type over both systems: create, update, get, list, watch.
//! - [`scenario`]: the eight scenarios.
//! - [`histogram`]: latency histograms.
//! - [`report`]: the table and the JSON file.

mod config;
mod histogram;
mod report;
mod scenario;
mod server;
mod system;
mod workload;

use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = config::Args::parse().resolve()?;
    let report = scenario::run_all(&settings).await?;
    report.print(&settings);
    if let Some(path) = &settings.json {
        report.write_json(path, &settings)?;
    }
    match report.errors() {
        0 => Ok(()),
        n => anyhow::bail!("{n} operations failed or watch streams broke: see the details"),
    }
}
