//! Failures of the connection in words, each cause said once: from the error chains of our
//! dialer, tonic and rustls; from the connection's silence, for a keepalive that gave up (see
//! `activity`); and, when a plaintext server's answer was no HTTP/2, from a probe that asks it
//! what it speaks.
//!
//! The chains themselves are not shown: "transport error: tcp connect error: tcp connect
//! error: Connection refused (os error 111)" says one thing four times.

use std::{error::Error as StdError, sync::Arc, time::Duration};

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};
use tonic::{Status, TimeoutExpired};

use crate::{Error, activity::Activity, dial::DialError};
use hostendpoint_api::words::{causes, innermost_words};

/// What errors say about the server, and what the probe needs.
#[derive(Debug)]
pub(crate) struct Peer {
    /// The server as `host:port`, as the user wrote it.
    pub(crate) name: String,
    /// Where to probe: the host and port of a plaintext server; `None` for TLS.
    pub(crate) plaintext: Option<(String, u16)>,
    pub(crate) dial_timeout: Duration,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) keepalive_interval: Duration,
    pub(crate) keepalive_timeout: Duration,
    /// When the server was last heard from.
    pub(crate) activity: Arc<Activity>,
}

impl Peer {
    /// A server known only by its channel.
    pub(crate) fn unknown() -> Self {
        Self {
            name: "the server".into(),
            plaintext: None,
            dial_timeout: Duration::ZERO,
            request_timeout: None,
            keepalive_interval: Duration::ZERO,
            keepalive_timeout: Duration::ZERO,
            activity: Arc::default(),
        }
    }

    /// Whether the keepalive gave up on the connection: nothing was heard for longer than it
    /// waits (see `activity`).
    fn keepalive_gave_up(&self) -> bool {
        let waits = self.keepalive_interval + self.keepalive_timeout;
        !waits.is_zero()
            && self
                .activity
                .silence()
                .is_some_and(|silence| silence >= waits)
    }

    fn keepalive_timed_out(&self) -> Error {
        Error::ConnectionLost {
            server: self.name.clone(),
            reason: format!(
                "no answer to keepalive pings within {} (keepalive timeout)",
                crate::duration_words(self.keepalive_timeout)
            ),
        }
    }
}

/// Whether an unexplained failure may be probed: only for a call that got no answer, never
/// for a stream that broke (the server restarting, where a probe would add a connection per
/// client to its busiest moment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Probe {
    /// Ask the server what it speaks.
    Allowed,
    /// Say what broke.
    Never,
}

/// The failure of an eager connect.
pub(crate) fn connect(peer: &Peer, err: &tonic::transport::Error) -> Error {
    match known(peer, err) {
        Some(error) => error,
        None => Error::Unreachable {
            server: peer.name.clone(),
            reason: innermost_words(err),
        },
    }
}

/// The error of a failed call: a server's status as it is, a transport failure in words.
pub(crate) async fn status(peer: &Peer, status: Status, probe: Probe) -> Error {
    // A status the server sent has no source; tonic gives one to the statuses it makes up.
    let Some(source) = status.source() else {
        return Error::from(status);
    };
    if let Some(error) = known(peer, source) {
        return error;
    }
    // Only a stream keeps the pings going: an idle connection may be silent for any time.
    if probe == Probe::Never && peer.keepalive_gave_up() {
        return peer.keepalive_timed_out();
    }
    // Said before the probe: the chain is not Sync, so it cannot be held across it.
    let reason = innermost_words(source);
    let answer = match (probe, &peer.plaintext) {
        (Probe::Allowed, Some((host, port))) => ask(host, *port, peer.dial_timeout).await,
        _ => None,
    };
    match answer {
        Some(Answer::Http(version)) => Error::NotGrpc {
            server: peer.name.clone(),
            answer: version,
        },
        Some(Answer::Tls) => Error::NeedsTls {
            server: peer.name.clone(),
        },
        Some(Answer::Http2) | None => Error::ConnectionLost {
            server: peer.name.clone(),
            reason,
        },
    }
}

/// The failures recognised in a chain: the dialer's, the request timeout, TLS.
fn known(peer: &Peer, err: &(dyn StdError + 'static)) -> Option<Error> {
    let server = peer.name.clone();
    for cause in causes(err) {
        if let Some(dial) = cause.downcast_ref::<DialError>() {
            return Some(match dial {
                DialError::Timeout => Error::DialTimeout {
                    server,
                    after: peer.dial_timeout,
                },
                other => Error::Unreachable {
                    server,
                    reason: other.to_string(),
                },
            });
        }
        if cause.is::<TimeoutExpired>() {
            return Some(Error::RequestTimeout {
                server,
                after: peer.request_timeout.unwrap_or_default(),
            });
        }
        if let Some(tls) = rustls_error(cause) {
            // A server that refuses the client's certificate says so after the handshake.
            return Some(Error::Unreachable {
                server,
                reason: format!("TLS handshake failed: {tls}"),
            });
        }
    }
    None
}

/// rustls's error, which reaches us inside an I/O error (whose `source()` skips it).
fn rustls_error<'a>(cause: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    cause.downcast_ref::<rustls::Error>().or_else(|| {
        cause
            .downcast_ref::<std::io::Error>()?
            .get_ref()?
            .downcast_ref::<rustls::Error>()
    })
}

/// What a server answered to an HTTP/2 connection preface.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Answer {
    /// An HTTP/1 status line, with its version (`HTTP/1.1`).
    Http(String),
    /// A TLS record: it expects a TLS handshake.
    Tls,
    /// An HTTP/2 frame: it does speak HTTP/2.
    Http2,
}

/// The client's HTTP/2 connection preface followed by an empty SETTINGS frame.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Opens a connection of its own to `host:port`, sends the HTTP/2 preface, and reads what
/// comes back within `timeout`.
async fn ask(host: &str, port: u16, timeout: Duration) -> Option<Answer> {
    let asking = async {
        let mut tcp = TcpStream::connect((host, port)).await.ok()?;
        tcp.write_all(PREFACE).await.ok()?;
        let mut bytes = Vec::new();
        let mut buffer = [0u8; 64];
        loop {
            let read = tcp.read(&mut buffer).await.ok()?;
            bytes.extend_from_slice(&buffer[..read]);
            if read == 0 || bytes.len() >= 16 {
                return answer(&bytes);
            }
        }
    };
    tokio::time::timeout(timeout, asking).await.ok().flatten()
}

/// What the first bytes of an answer are.
fn answer(bytes: &[u8]) -> Option<Answer> {
    if let Some(rest) = bytes.strip_prefix(b"HTTP/") {
        let version: String = rest
            .iter()
            .take_while(|b| b.is_ascii_digit() || **b == b'.')
            .map(|b| char::from(*b))
            .collect();
        return Some(Answer::Http(format!("HTTP/{version}")));
    }
    match bytes {
        // A TLS record (alert or handshake) of version 3.x.
        [0x15 | 0x16, 0x03, ..] => Some(Answer::Tls),
        // A frame header: 3 bytes of length, then the type; the first is SETTINGS (0x4).
        [_, _, _, 0x04, ..] => Some(Answer::Http2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_told_apart_by_their_first_bytes() {
        assert_eq!(
            answer(b"HTTP/1.1 400 Bad Request\r\n"),
            Some(Answer::Http("HTTP/1.1".into()))
        );
        assert_eq!(
            answer(b"HTTP/1.0 400"),
            Some(Answer::Http("HTTP/1.0".into()))
        );
        assert_eq!(answer(&[0x15, 0x03, 0x03, 0x00, 0x02]), Some(Answer::Tls));
        assert_eq!(
            answer(&[0, 0, 0x12, 0x04, 0, 0, 0, 0, 0]),
            Some(Answer::Http2)
        );
        assert_eq!(answer(b""), None);
        assert_eq!(answer(b"SSH-2.0-OpenSSH"), None);
    }
}
