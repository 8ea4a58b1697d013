//! The audit log: one JSON line per write and per denied call, appended to a file (reopened on
//! SIGHUP, for logrotate) or written to stdout.

use std::{
    fs::{File, OpenOptions},
    io::{self, LineWriter, Write as _},
    net::SocketAddr,
    os::unix::fs::OpenOptionsExt as _,
    path::PathBuf,
    sync::{Mutex, PoisonError},
    time::SystemTime,
};

use serde::Serialize;
use tonic::Code;
use tracing::{error, info};

/// Where audit lines go.
#[derive(Debug)]
pub struct AuditLog {
    target: Target,
    sink: Mutex<Sink>,
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
    /// Opens the log: `-` is stdout, anything else a file appended to (created 0600).
    pub fn open(target: &str) -> io::Result<Self> {
        let target = match target {
            "-" => Target::Stdout,
            path => Target::File(PathBuf::from(path)),
        };
        let sink = Mutex::new(open(&target)?);
        Ok(Self { target, sink })
    }

    /// Opens the file again under its name, so that a rotated file is let go.
    pub fn reopen(&self) {
        match open(&self.target) {
            Ok(sink) => {
                *self.lock() = sink;
                info!("audit log reopened");
            }
            Err(err) => {
                error!(error = %err, "cannot reopen the audit log; writing to the old file")
            }
        }
    }

    /// Appends one record. A failed write is logged: the call it records has happened.
    pub fn record(&self, mut record: AuditRecord) {
        record.time = humantime::format_rfc3339_micros(SystemTime::now()).to_string();
        let mut line = match serde_json::to_vec(&record) {
            Ok(line) => line,
            Err(err) => return error!(error = %err, "cannot encode an audit record"),
        };
        line.push(b'\n');
        let written = match &mut *self.lock() {
            Sink::Stdout => io::stdout().lock().write_all(&line),
            Sink::File(file) => file.write_all(&line),
        };
        if let Err(err) = written {
            error!(error = %err, ?record, "cannot write the audit log");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sink> {
        self.sink.lock().unwrap_or_else(PoisonError::into_inner)
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
