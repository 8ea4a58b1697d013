//! The audit log: one JSON line per write and per denied call, appended to a file (reopened on
//! SIGHUP, for logrotate) or written to stdout.
//!
//! Lines are written by a thread of their own, from a bounded queue: a stalled disk or stdout
//! pipe must not stall the calls (or the runtime's threads) that record them. A full queue
//! drops lines, and says so in the server's log with the count, as the Kubernetes API server's
//! batching audit backend does.

use std::{
    fs::{File, OpenOptions},
    io::{self, LineWriter, Write as _},
    net::SocketAddr,
    os::unix::fs::OpenOptionsExt as _,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc::{self, RecvTimeoutError, SyncSender, TrySendError},
    },
    time::{Duration, SystemTime},
};

use serde::Serialize;
use tonic::Code;
use tracing::{error, info};

/// Lines waiting for the writer thread; beyond this, lines are dropped and counted.
const QUEUE_LINES: usize = 65_536;
/// How often the writer looks for a reopen request while no line comes.
const REOPEN_CHECK: Duration = Duration::from_millis(200);
/// How long shutdown waits for the queued lines to be written.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Where audit lines go.
#[derive(Debug)]
pub struct AuditLog {
    lines: SyncSender<Queued>,
    shared: Arc<Shared>,
}

/// What waits for the writer thread, in order.
#[derive(Debug)]
enum Queued {
    /// A line to write.
    Line(Vec<u8>),
    /// Every earlier line is written once this is answered.
    Flush(mpsc::SyncSender<()>),
}

/// What the recorders and the writer thread share.
#[derive(Debug, Default)]
struct Shared {
    reopen: AtomicBool,
    dropped: AtomicU64,
}

#[derive(Clone, Debug)]
enum Target {
    Stdout,
    File(PathBuf),
}

#[derive(Debug)]
enum Sink {
    Stdout,
    File(LineWriter<File>),
}

/// One audited call.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// When the call was answered (RFC 3339, UTC).
    pub time: String,
    /// The identity that granted the caller's role (or its first), when there are identities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The caller's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// The RPC's method name, such as `UpdateHostEndpoint`.
    pub rpc: &'static str,
    /// The host endpoint named.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The node concerned: the object's, or the node a listing or watch named.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node: String,
    /// The object's resourceVersion before the write, when it existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_version_before: Option<u64>,
    /// The revision the write created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_version_after: Option<u64>,
    /// The gRPC code answered, such as `OK` or `PERMISSION_DENIED`.
    pub code: &'static str,
}

impl AuditLog {
    /// Opens the log: `-` is stdout, anything else a file appended to (created 0600), and
    /// starts its writer thread.
    pub fn open(target: &str) -> io::Result<Self> {
        let target = match target {
            "-" => Target::Stdout,
            path => Target::File(PathBuf::from(path)),
        };
        let sink = open(&target)?;
        let (lines, queue) = mpsc::sync_channel(QUEUE_LINES);
        let shared = Arc::new(Shared::default());
        let writer = Writer {
            target,
            sink,
            shared: Arc::clone(&shared),
        };
        std::thread::Builder::new()
            .name("audit-log".into())
            .spawn(move || writer.run(&queue))?;
        Ok(Self { lines, shared })
    }

    /// Waits (blocking, up to a few seconds) until every line queued so far is written: at
    /// shutdown, so that the last calls' lines are not lost with the process.
    pub fn flush(&self) {
        let (done, written) = mpsc::sync_channel(1);
        if self.lines.send(Queued::Flush(done)).is_ok()
            && written.recv_timeout(FLUSH_TIMEOUT).is_err()
        {
            error!("the audit log's last lines were not written within {FLUSH_TIMEOUT:?}");
        }
    }

    /// Asks for the file to be opened again under its name, so that a rotated file is let go.
    pub fn reopen(&self) {
        self.shared.reopen.store(true, Ordering::Release);
    }

    /// Queues one record.
    pub fn record(&self, mut record: AuditRecord) {
        record.time = humantime::format_rfc3339_micros(SystemTime::now()).to_string();
        let mut line = match serde_json::to_vec(&record) {
            Ok(line) => line,
            Err(err) => return error!(error = %err, "cannot encode an audit record"),
        };
        line.push(b'\n');
        match self.lines.try_send(Queued::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(queued)) => {
                let dropped = self.shared.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                // Said once per thousand, so that the server's own log does not flood too.
                if dropped % 1000 == 1 {
                    error!(
                        dropped,
                        record = %queued.text(),
                        "the audit log cannot keep up; records are dropped"
                    );
                }
            }
            Err(TrySendError::Disconnected(queued)) => {
                error!(record = %queued.text(), "the audit log's writer is gone; record dropped");
            }
        }
    }
}

impl Queued {
    /// A line as the server's log quotes it.
    fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Self::Line(line) => String::from_utf8_lossy(line.trim_ascii_end()),
            Self::Flush(_) => "(flush)".into(),
        }
    }
}

/// The writer thread's state.
#[derive(Debug)]
struct Writer {
    target: Target,
    sink: Sink,
    shared: Arc<Shared>,
}

impl Writer {
    fn run(mut self, queue: &mpsc::Receiver<Queued>) {
        loop {
            let queued = match queue.recv_timeout(REOPEN_CHECK) {
                Ok(queued) => Some(queued),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            if self.shared.reopen.swap(false, Ordering::AcqRel) {
                self.reopen();
            }
            match queued {
                Some(Queued::Line(line)) => self.write(&line),
                // Lines are written through (a LineWriter, or stdout's lock): answering is all.
                Some(Queued::Flush(done)) => {
                    let _ = done.send(());
                }
                None => {}
            }
        }
    }

    fn reopen(&mut self) {
        match open(&self.target) {
            Ok(sink) => {
                self.sink = sink;
                info!("audit log reopened");
            }
            Err(err) => {
                error!(error = %err, "cannot reopen the audit log; writing to the old file")
            }
        }
    }

    /// A failed write is logged: the call it records has happened.
    fn write(&mut self, line: &[u8]) {
        let written = match &mut self.sink {
            Sink::Stdout => io::stdout().lock().write_all(line),
            Sink::File(file) => file.write_all(line),
        };
        if let Err(err) = written {
            error!(error = %err, line = %String::from_utf8_lossy(line), "cannot write the audit log");
        }
    }
}

fn open(target: &Target) -> io::Result<Sink> {
    match target {
        Target::Stdout => Ok(Sink::Stdout),
        Target::File(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path)?;
            Ok(Sink::File(LineWriter::new(file)))
        }
    }
}

/// The peer address as audit lines write it.
pub(crate) fn peer_text(peer: Option<SocketAddr>) -> Option<String> {
    peer.map(|addr| addr.to_string())
}

/// gRPC's canonical name of a code, as grpc-go and the Kubernetes audit log write it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}
