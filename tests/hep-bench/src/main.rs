//! `hep-bench`: the same HostEndpoint workload against hostendpointd (on its embedded sled
//! store, and on its etcd backend with an etcd of its own) and against etcd v3 used the way
//! Calico's etcdv3 datastore uses it, in one run on one machine, with every system's figures
//! and each hostendpointd system's ratio to etcd. Named with `--systems`, hostendpointd over
//! mutual TLS runs the write and read scenarios too, reported against plaintext hostendpointd.
//!
//! Every server is started here, on loopback, on fresh data directories, with its default
//! durability (etcd syncs its WAL per raft batch; hostendpointd on sled `fdatasync`s per group
//! commit). Scenarios run one after the other, and within a scenario one system after the
//! other, so that a noisy neighbour on the machine hits them all alike.
//!
//! # Layout
//! - [`config`]: the command line and the scale it resolves to.
//! - [`mtls`]: hostendpointd (mTLS)'s certificates and policy.
//! - [`server`]: starting, killing and restarting the servers; their CPU time and memory.
//! - [`workload`]: the objects, and their Calico v3 JSON for etcd.
//! - [`system`]: one client type over every system: create, update, get, list, watch.
//! - [`scenario`]: the scenarios: nine by default, and the scale scenario (10) when named.
//! - [`histogram`]: latency histograms.
//! - [`report`]: the table and the JSON file.

mod config;
mod histogram;
mod mtls;
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
