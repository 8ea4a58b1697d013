//! Log set-up shared by the server and the agent: tracing's filter syntax, text or JSON lines
//! on stderr, colours only on a terminal, and other crates' chatter kept out of `debug`.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// Crates whose debug and trace lines describe their own internals (frames, pages, buffers):
/// `--log-level debug` means our debug lines; these stay at info unless a directive names them.
const CHATTY_CRATES: &[&str] = &[
    "sled",
    "h2",
    "hyper",
    "hyper_util",
    "tower",
    "tonic",
    "rustls",
    "tokio_rustls",
    "axum",
];

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("bad log filter '{filter}': {cause}")]
pub struct FilterError {
    filter: String,
    cause: tracing_subscriber::filter::ParseError,
}

/// Installs the global subscriber: `filter` in tracing's `EnvFilter` syntax (`info`,
/// `debug`, `hostendpointd=debug,info`, `sled=debug`), lines written to stderr.
pub fn init(filter: &str, format: LogFormat) -> Result<(), FilterError> {
    let filter = with_quiet_crates(filter);
    let env_filter = EnvFilter::try_new(&filter).map_err(|cause| FilterError {
        filter: filter.clone(),
        cause,
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

/// `filter` with an `info` directive for each chatty crate it does not name.
fn with_quiet_crates(filter: &str) -> String {
    let named = |krate: &str| {
        filter
            .split(',')
            .any(|directive| directive.trim().split(['=', '[', ':']).next() == Some(krate))
    };
    let quiet = CHATTY_CRATES
        .iter()
        .filter(|krate| !named(krate))
        .map(|krate| format!("{krate}=info"));
    std::iter::once(filter.to_owned())
        .chain(quiet)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatty_crates_stay_at_info_unless_named() {
        let filter = with_quiet_crates("debug,sled=trace");
        assert!(filter.starts_with("debug,sled=trace,h2=info,"), "{filter}");
        assert!(!filter.contains("sled=info"), "{filter}");
        EnvFilter::try_new(&filter).expect("a valid filter");
    }
}
