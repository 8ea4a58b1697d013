//! How the client reaches the server: the address forms every binary accepts, and the
//! timeouts and keepalive of [`ConnectOptions`]; the connections themselves are `dial`'s.

use std::{sync::Arc, time::Duration};

use tonic::transport::{Channel, Endpoint, Uri};

use crate::{
    Error, Result, TlsFiles,
    activity::Activity,
    diagnose::{self, Peer},
    dial::Dialer,
    tls::Tls,
};

/// How to reach the server: TLS files, timeouts, keepalive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectOptions {
    /// TLS files; any of them makes a bare `host:port` TLS.
    pub tls: TlsFiles,
    /// The longest a connection may take to open: name resolution, TCP and the TLS handshake.
    pub dial_timeout: Duration,
    /// The longest a call may wait for the server's answer; for a watch, for the stream to
    /// open (its events may take as long as they take). `None` waits forever.
    pub request_timeout: Option<Duration>,
    /// How often an HTTP/2 ping checks a connection with a call in flight (a watch), so that a
    /// server that vanished without closing the connection is noticed.
    pub keepalive_interval: Duration,
    /// How long a ping may go unanswered before the connection is given up.
    pub keepalive_timeout: Duration,
}

impl Default for ConnectOptions {
    /// No TLS files; 10 s to connect, 30 s for an answer; a ping every 30 s, answered within
    /// 20 s (the server's own keepalive).
    fn default() -> Self {
        Self {
            tls: TlsFiles::default(),
            dial_timeout: Duration::from_secs(10),
            request_timeout: Some(Duration::from_secs(30)),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(20),
        }
    }
}

impl From<&TlsFiles> for ConnectOptions {
    fn from(tls: &TlsFiles) -> Self {
        Self {
            tls: tls.clone(),
            ..Self::default()
        }
    }
}

/// A server address made ready to connect to.
#[derive(Debug)]
pub(crate) struct Target {
    peer: Arc<Peer>,
    endpoint: Endpoint,
    dialer: Dialer,
}

impl Target {
    /// Parses `server`: an `https://` URL is TLS, an `http://` URL plaintext, and a bare
    /// `host:port` TLS when TLS files are given, plaintext otherwise. Any other scheme, or TLS
    /// files with an `http://` URL, is an error rather than a surprise, and so is a TLS file
    /// that cannot be read or holds no PEM.
    pub(crate) fn new(server: &str, options: &ConnectOptions) -> Result<Self> {
        let tls_files = &options.tls;
        let url = match server.split_once("://") {
            None if tls_files.is_empty() => format!("http://{server}"),
            None => format!("https://{server}"),
            Some(("http" | "https", _)) => server.to_owned(),
            Some((scheme, _)) => {
                return Err(Error::Config(format!(
                    "{server}: unknown scheme '{scheme}': use http:// or https://"
                )));
            }
        };
        let no_host = || Error::Config(format!("invalid server address '{server}': no host"));
        if url.ends_with("://") {
            return Err(no_host());
        }
        let uri: Uri = url
            .parse()
            .map_err(|err| Error::Config(format!("invalid server address '{server}': {err}")))?;
        let (Some(authority), Some(host)) = (uri.authority(), uri.host()) else {
            return Err(no_host());
        };
        let is_tls = uri.scheme_str() == Some("https");
        if !is_tls && !tls_files.is_empty() {
            return Err(Error::Config(format!(
                "{server} is plaintext (http://) but TLS files are set: use https://"
            )));
        }
        let host = host.trim_matches(['[', ']']).to_owned();
        let port = port(authority.as_str(), is_tls).map_err(|reason| {
            Error::Config(format!("invalid server address '{server}': {reason}"))
        })?;
        let tls = is_tls.then(|| Tls::new(tls_files, &host)).transpose()?;
        let activity = Arc::new(Activity::default());
        let peer = Arc::new(Peer {
            name: authority.to_string(),
            plaintext: (!is_tls).then(|| (host.clone(), port)),
            dial_timeout: options.dial_timeout,
            request_timeout: options.request_timeout,
            keepalive_interval: options.keepalive_interval,
            keepalive_timeout: options.keepalive_timeout,
            activity: Arc::clone(&activity),
        });
        Ok(Self {
            endpoint: endpoint(uri, options)?,
            dialer: Dialer {
                host,
                port,
                timeout: options.dial_timeout,
                tls,
                activity,
            },
            peer,
        })
    }

    /// What errors say about the server.
    pub(crate) fn peer(&self) -> Arc<Peer> {
        Arc::clone(&self.peer)
    }

    /// The URL requests are sent to.
    #[cfg(test)]
    fn origin(&self) -> String {
        let scheme = if self.dialer.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let authority = self.endpoint.uri().authority().map(|a| a.as_str());
        format!("{scheme}://{}/", authority.unwrap_or_default())
    }

    /// Connects now.
    pub(crate) async fn connect(self) -> Result<Channel> {
        match self.endpoint.connect_with_connector(self.dialer).await {
            Ok(channel) => Ok(channel),
            Err(err) => Err(diagnose::connect(&self.peer, &err)),
        }
    }

    /// A channel that connects on first use and reconnects by itself.
    pub(crate) fn connect_lazy(self) -> Channel {
        self.endpoint.connect_with_connector_lazy(self.dialer)
    }
}

/// The port of `authority` (`host:port`, `[v6]:port`), or the scheme's.
fn port(authority: &str, is_tls: bool) -> Result<u16, String> {
    let text = authority
        .rsplit_once(':')
        .map(|(_, port)| port)
        .filter(|port| !port.contains(']'));
    match text.map(str::parse::<u16>) {
        None => Ok(if is_tls { 443 } else { 80 }),
        Some(Ok(port)) if port != 0 => Ok(port),
        Some(_) => Err(format!(
            "'{}' is not a port (1 to 65535)",
            text.unwrap_or_default()
        )),
    }
}

/// The endpoint, with the request timeout and keepalive of `options`. tonic would wrap an
/// `https://` endpoint in its own TLS: the endpoint is `http://` (our dialer ignores it and
/// does the TLS), while requests still name the `https://` origin.
fn endpoint(uri: Uri, options: &ConnectOptions) -> Result<Endpoint> {
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    let plain: Uri = format!("http://{authority}")
        .parse()
        .map_err(|err| Error::Config(format!("invalid server address '{uri}': {err}")))?;
    let endpoint = Endpoint::from(plain)
        .origin(uri)
        .http2_keep_alive_interval(options.keepalive_interval)
        .keep_alive_timeout(options.keepalive_timeout);
    Ok(match options.request_timeout {
        Some(timeout) => endpoint.timeout(timeout),
        None => endpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(server: &str, tls: &TlsFiles) -> String {
        Target::new(server, &tls.into())
            .map(|t| t.origin())
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn schemes_mean_what_they_say() {
        let none = TlsFiles::default();
        let missing_ca = TlsFiles {
            ca_cert: Some("/nonexistent/ca.pem".into()),
            ..TlsFiles::default()
        };
        assert_eq!(origin("127.0.0.1:50051", &none), "http://127.0.0.1:50051/");
        assert_eq!(origin("http://h:1", &none), "http://h:1/");
        assert_eq!(origin("https://h:1", &none), "https://h:1/");
        assert_eq!(
            origin("grpc://h:1", &none),
            "grpc://h:1: unknown scheme 'grpc': use http:// or https://"
        );
        assert_eq!(
            origin("http://h:1", &missing_ca),
            "http://h:1 is plaintext (http://) but TLS files are set: use https://"
        );
        assert_eq!(
            origin("h:1", &missing_ca),
            "cannot read /nonexistent/ca.pem: no such file or directory"
        );
    }

    #[test]
    fn addresses_that_cannot_work_are_refused_in_words() {
        let none = TlsFiles::default();
        assert_eq!(
            origin("not an address", &none),
            "invalid server address 'not an address': invalid uri character"
        );
        assert_eq!(
            origin("http://", &none),
            "invalid server address 'http://': no host"
        );
        assert_eq!(
            origin("h:99999", &none),
            "invalid server address 'h:99999': '99999' is not a port (1 to 65535)"
        );
    }

    #[test]
    fn tls_files_without_pem_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let garbage = dir.path().join("ca.pem");
        std::fs::write(&garbage, "not PEM\n").expect("written");
        let files = TlsFiles {
            ca_cert: Some(garbage.clone()),
            ..TlsFiles::default()
        };
        assert_eq!(
            origin("h:1", &files),
            format!("{} holds no PEM certificate", garbage.display())
        );
    }
}
