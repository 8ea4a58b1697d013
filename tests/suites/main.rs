//! End-to-end suites: each drives the real binaries through their real interfaces.

mod agent;
mod bench_smoke;
mod client;
mod crash;
mod crud;
mod disk_faults;
mod etcd;
mod grpcurl;
mod hepctl;
mod python;
mod selectors;
mod validation;
mod wal_damage;
mod watch;
mod watch_model;
