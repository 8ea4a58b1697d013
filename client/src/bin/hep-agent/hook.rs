//! The `--exec` hook: a shell command run after every write of the state file. Its output is
//! logged line by line, each line as `exec: <line>` with `output=stdout` or `output=stderr`,
//! so that an operator reading the journal can tell it from the agent's own lines.

use std::{path::Path, process::Stdio, time::Duration};

use hostendpoint_client::{io_words, model::Revision};
use tokio::{
    io::{AsyncBufReadExt as _, AsyncRead, BufReader},
    process::Command,
};
use tracing::{info, warn};

/// How long to wait for the rest of the output once the command exited: a process it left
/// in the background may hold its output open, and must not hold up the agent.
const OUTPUT_GRACE: Duration = Duration::from_secs(1);

/// Runs `command` and logs its output; its failure is logged, not fatal: the next change
/// runs it again.
pub(crate) async fn run(command: &str, state_file: &Path, revision: Revision) {
    let spawned = Command::new("sh")
        .args(["-c", command])
        .env("HEP_AGENT_STATE_FILE", state_file)
        .env("HEP_AGENT_REVISION", revision.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            warn!(error = %io_words(&err), command = %command, "--exec command could not run");
            return;
        }
    };
    let stdout = tokio::spawn(log_lines(child.stdout.take(), "stdout"));
    let stderr = tokio::spawn(log_lines(child.stderr.take(), "stderr"));
    match child.wait().await {
        Ok(status) if status.success() => {}
        Ok(status) => warn!(%status, command = %command, "--exec command failed"),
        Err(err) => warn!(error = %io_words(&err), command = %command, "--exec command was lost"),
    }
    let _ = tokio::time::timeout(OUTPUT_GRACE, futures::future::join(stdout, stderr)).await;
}

/// Logs each line of `pipe` (invalid UTF-8 replaced) until it closes.
async fn log_lines(pipe: Option<impl AsyncRead + Unpin>, output: &'static str) {
    let Some(pipe) = pipe else {
        return;
    };
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\n', '\r']);
                info!(output = %output, "exec: {text}");
            }
        }
    }
}
