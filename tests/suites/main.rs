//! End-to-end suites: each drives the real binaries through their real interfaces.

mod agent;
mod bench_smoke;
mod client;
mod client_errors;
mod connections;
mod crash;
mod crud;
mod disk_faults;
mod etcd;
mod grpcurl;
mod hepctl;
mod hostile_clients;
mod metrics;
mod operator;
mod python;
mod security;
mod selectors;
mod tls_clients;
mod validation;
mod wal_damage;
mod watch;
mod watch_model;
