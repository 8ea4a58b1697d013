//! The agent's log on stderr: text for people or JSON for collectors, colours only on a
//! terminal, and a filter that keeps other crates' debug lines (h2, hyper, tower, rustls)
//! out of `--log-level debug` unless they are named.

use std::io::IsTerminal as _;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

use crate::args::LogFormat;

/// The crates of this project: a bare `debug` or `trace` is theirs.
const OURS: [&str; 3] = ["hep_agent", "hostendpoint_client", "hostendpoint_api"];

/// `--log-level`: checks the filter and turns a bare level above info (`debug`, `trace`) into
/// that level for [`OURS`] and info for everything else, so that the HTTP/2, TLS and gRPC
/// libraries' debug lines (frames, pools, handshakes) appear only when named: `debug,h2=debug`.
pub(crate) fn filter(text: &str) -> Result<String, String> {
    let mut directives = Vec::new();
    let mut verbose = None;
    for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        match directive.parse::<LevelFilter>() {
            Ok(level) if level > LevelFilter::INFO => {
                directives.push("info".to_owned());
                verbose = Some(directive);
            }
            _ => directives.push(directive.to_owned()),
        }
    }
    if let Some(level) = verbose {
        for crate_name in OURS {
            let named = directives
                .iter()
                .any(|d| d.split(['=', '[']).next() == Some(crate_name));
            if !named {
                directives.push(format!("{crate_name}={level}"));
            }
        }
    }
    let filter = directives.join(",");
    EnvFilter::try_new(&filter).map_err(|err| err.to_string())?;
    Ok(filter)
}

/// Installs the log; `filter` was checked by [`filter`].
pub(crate) fn init(filter: &str, format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_for_our_crates_unless_libraries_are_named() {
        assert_eq!(filter("info"), Ok("info".into()));
        assert_eq!(
            filter("debug"),
            Ok("info,hep_agent=debug,hostendpoint_client=debug,hostendpoint_api=debug".into())
        );
        assert_eq!(
            filter("trace,h2=debug,hep_agent=info"),
            Ok(
                "info,h2=debug,hep_agent=info,hostendpoint_client=trace,hostendpoint_api=trace"
                    .into()
            )
        );
        assert_eq!(
            filter("warn,hep_agent=debug"),
            Ok("warn,hep_agent=debug".into())
        );
        assert!(filter("debug,=x=y").is_err());
    }
}
