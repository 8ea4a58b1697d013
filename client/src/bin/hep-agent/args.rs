//! The command line, in clap's derive style: the doc comments below are the `--help` text.
#![deny(missing_docs)]

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Parser;
use hostendpoint_api::{
    flag_values::positive_duration,
    logging::{self, LogFormat},
};

/// Keeps the Calico host endpoints of one node in a local JSON file, following hostendpointd.
///
/// hep-agent lists the node's host endpoints, writes them to --state-file, and then follows
/// every change over one watch, rewriting the file atomically (and running --exec, if given)
/// after each. When the server goes away it keeps the last file, retries with a growing
/// delay (up to 30s), and resumes the watch where it stopped, so a restart of the server
/// costs no relisting.
///
/// Start-up mistakes (an address, TLS file or state directory that cannot work) are logged
/// and end the agent with exit code 2; a state file that cannot be written later ends it
/// with 1. SIGTERM and SIGINT end it with 0.
#[derive(Debug, Parser)]
#[command(name = "hep-agent", version = hostendpoint_api::build_info::long_version())]
pub(crate) struct Args {
    /// The node whose host endpoints to keep.
    #[arg(long, env = "HEP_AGENT_NODE")]
    pub(crate) node: String,

    /// The hostendpointd endpoint: an http:// or https:// URL, or host:port (TLS when a TLS
    /// file is given).
    #[arg(
        long,
        env = "HEP_AGENT_SERVER",
        default_value = "http://127.0.0.1:50051",
        value_name = "URL"
    )]
    pub(crate) server: String,

    /// The CA certificate (PEM) the server's certificate must chain to; without it, the
    /// system's roots.
    #[arg(long, env = "HEP_AGENT_CA_CERT_FILE", value_name = "FILE")]
    pub(crate) ca_cert_file: Option<PathBuf>,

    /// The node's client certificate (PEM), for a server that requires one: with the default
    /// policy, its common name is `system:node:<node>`.
    #[arg(
        long,
        env = "HEP_AGENT_CERT_FILE",
        requires = "key_file",
        value_name = "FILE"
    )]
    pub(crate) cert_file: Option<PathBuf>,

    /// The private key (PEM) of --cert-file.
    #[arg(
        long,
        env = "HEP_AGENT_KEY_FILE",
        requires = "cert_file",
        value_name = "FILE"
    )]
    pub(crate) key_file: Option<PathBuf>,

    /// The longest a connection to the server may take to open (TCP and TLS).
    #[arg(long, env = "HEP_AGENT_DIAL_TIMEOUT", default_value = "10s", value_parser = positive_duration, value_name = "DURATION")]
    pub(crate) dial_timeout: Duration,

    /// The longest the server may take to open the watch (its events may take as long as
    /// they take).
    #[arg(long, env = "HEP_AGENT_REQUEST_TIMEOUT", default_value = "10s", value_parser = positive_duration, value_name = "DURATION")]
    pub(crate) request_timeout: Duration,

    /// How often an HTTP/2 ping checks the connection, so that a server that vanished
    /// without closing it (a host gone, a firewall that drops) is noticed.
    #[arg(long, env = "HEP_AGENT_KEEPALIVE_INTERVAL", default_value = "30s", value_parser = positive_duration, value_name = "DURATION")]
    pub(crate) keepalive_interval: Duration,

    /// How long a ping may go unanswered before the connection is given up and opened again.
    #[arg(long, env = "HEP_AGENT_KEEPALIVE_TIMEOUT", default_value = "20s", value_parser = positive_duration, value_name = "DURATION")]
    pub(crate) keepalive_timeout: Duration,

    /// Where to write the current set (JSON, sorted by name, with the revision); replaced
    /// atomically on every change. Its directory must be writable at start.
    #[arg(long, env = "HEP_AGENT_STATE_FILE", value_name = "FILE")]
    pub(crate) state_file: PathBuf,

    /// The state file's permissions, in octal: 0640 lets the file's group read it.
    #[arg(long, env = "HEP_AGENT_STATE_FILE_MODE", default_value = "0600", value_parser = file_mode, value_name = "MODE")]
    pub(crate) state_file_mode: u32,

    /// A shell command to run after every write of the state file; it gets the path and the
    /// revision in HEP_AGENT_STATE_FILE and HEP_AGENT_REVISION. Its output is logged, one
    /// line per event starting with `exec: `, with the field output=stdout or output=stderr.
    #[arg(long, env = "HEP_AGENT_EXEC", value_name = "COMMAND")]
    pub(crate) exec: Option<String>,

    /// Serve Prometheus metrics at http://ADDR/metrics (`hep_agent_*`); off when not given.
    /// The bound address is logged (`metrics listening`), so port 0 picks a free one.
    #[arg(long, env = "HEP_AGENT_METRICS_LISTEN", value_name = "ADDR")]
    pub(crate) metrics_listen: Option<SocketAddr>,

    /// Log filter, in tracing's EnvFilter syntax: a level (error, warn, info, debug, trace)
    /// for the agent and its client library, with target=level pairs after it. At debug and
    /// trace, the HTTP/2, TLS and gRPC libraries stay at info unless named
    /// (`debug,h2=debug`).
    #[arg(long, env = "HEP_AGENT_LOG", default_value = "info", value_parser = logging::check_filter, value_name = "FILTER")]
    pub(crate) log_level: String,

    /// Log line format: text for people, json for log collectors (one object per line).
    #[arg(long, env = "HEP_AGENT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub(crate) log_format: LogFormat,
}

/// Permission bits in octal, as chmod takes them (`0640`, `640`).
fn file_mode(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o777 => Ok(mode),
        _ => Err("an octal mode from 0000 to 0777, such as 0640".into()),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn modes_are_octal() {
        assert_eq!(file_mode("0640"), Ok(0o640));
        assert_eq!(file_mode("600"), Ok(0o600));
        assert_eq!(file_mode("0o644"), Ok(0o644));
        assert!(file_mode("0800").is_err());
        assert!(file_mode("01777").is_err());
    }
}
