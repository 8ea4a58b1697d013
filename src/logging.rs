//! Log set-up shared by the server and the clients: tracing's filter syntax, text or JSON lines
//! on stderr, colours only on a terminal, and other crates' chatter kept out of `debug`.

use std::io::IsTerminal as _;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Checks a `--log-level` value (tracing's `EnvFilter` syntax), for clap's `value_parser`: a
/// mistake is a usage error that names the flag.
pub fn check_filter(text: &str) -> Result<String, String> {
    EnvFilter::try_new(text).map_err(|err| err.to_string())?;
    Ok(text.to_owned())
}

/// Installs the global subscriber, writing to stderr. `filter` is tracing's `EnvFilter`
/// syntax, checked by [`check_filter`]; a bare level above info (`debug`, `trace`) applies to
/// the crates in `ours` only, every other crate staying at info, so that the HTTP/2, TLS, gRPC
/// and storage libraries' debug lines (frames, pools, pages) appear only when named:
/// `debug,h2=debug`.
pub fn init(filter: &str, format: LogFormat, ours: &[&str]) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(ours_only(filter, ours)))
        .with_writer(std::io::stderr)
        // Its report of a failed write goes to stderr with eprintln!, which panics when stderr
        // is a closed pipe (a log reader that died): the panic would end the task that logged,
        // such as the one that starts the shutdown on SIGTERM.
        .log_internal_errors(false)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// `filter` with a bare level above info turned into that level for `ours` and info for the
/// rest (directives that name a crate are kept as they are).
fn ours_only(filter: &str, ours: &[&str]) -> String {
    let mut directives = Vec::new();
    let mut verbose = None;
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        match directive.parse::<LevelFilter>() {
            Ok(level) if level > LevelFilter::INFO => {
                directives.push("info".to_owned());
                verbose = Some(directive);
            }
            _ => directives.push(directive.to_owned()),
        }
    }
    if let Some(level) = verbose {
        for krate in ours {
            let named = directives
                .iter()
                .any(|d| d.split(['=', '[']).next() == Some(*krate));
            if !named {
                directives.push(format!("{krate}={level}"));
            }
        }
    }
    directives.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &[&str] = &["hep_agent", "hostendpoint_api"];

    #[test]
    fn debug_is_for_our_crates_unless_others_are_named() {
        assert_eq!(ours_only("info", OURS), "info");
        assert_eq!(
            ours_only("debug", OURS),
            "info,hep_agent=debug,hostendpoint_api=debug"
        );
        assert_eq!(
            ours_only("trace,h2=debug,hep_agent=info", OURS),
            "info,h2=debug,hep_agent=info,hostendpoint_api=trace"
        );
        assert_eq!(
            ours_only("warn,hep_agent=debug", OURS),
            "warn,hep_agent=debug"
        );
        assert!(check_filter("debug,=x=y").is_err());
    }
}
