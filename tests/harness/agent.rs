//! A `hep-agent` process under test, and its state file.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    thread,
    time::Duration,
};

use serde_json::Value;

use crate::{binary, pki::CertFiles, wait::wait_for_explained};

/// How long a test waits for the state file to converge.
pub const CONVERGE_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `hep-agent`.
#[derive(Debug)]
pub struct AgentProcess {
    child: Child,
    args: Vec<String>,
    log: Arc<Mutex<Vec<String>>>,
    /// The state file it writes.
    pub state_file: PathBuf,
}

impl AgentProcess {
    /// Starts `hep-agent --node NODE --server SERVER --state-file STATE [--exec EXEC]`.
    pub fn start(node: &str, server: &str, state_file: &Path, exec: Option<&str>) -> Self {
        let mut args = Self::args(node, server, state_file);
        if let Some(exec) = exec {
            args.extend(["--exec".to_owned(), exec.to_owned()]);
        }
        Self::spawn(args, state_file.to_owned())
    }

    /// Starts the agent like [`Self::start`] (without `--exec`), with `extra` flags after the
    /// others; a `--log-level` among them replaces the harness's.
    pub fn start_with(node: &str, server: &str, state_file: &Path, extra: &[&str]) -> Self {
        let mut args = Self::args(node, server, state_file);
        if extra.contains(&"--log-level") {
            // The log level is the last pair of `args`.
            args.truncate(args.len() - 2);
        }
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        Self::spawn(args, state_file.to_owned())
    }

    /// Starts the agent like [`Self::start`] (without `--exec`), serving its metrics on a
    /// port of its choice: see [`Self::metrics_addr`].
    pub fn start_with_metrics(node: &str, server: &str, state_file: &Path) -> Self {
        let mut args = Self::args(node, server, state_file);
        args.extend(["--metrics-listen".to_owned(), "127.0.0.1:0".to_owned()]);
        Self::spawn(args, state_file.to_owned())
    }

    /// Starts the agent like [`Self::start`] (without `--exec`), presenting `cert` to the
    /// server and trusting `ca` for the server's certificate.
    pub fn start_tls(
        node: &str,
        server: &str,
        state_file: &Path,
        ca: &Path,
        cert: &CertFiles,
    ) -> Self {
        let mut args = Self::args(node, server, state_file);
        for (flag, path) in [
            ("--ca-cert-file", ca),
            ("--cert-file", &cert.cert),
            ("--key-file", &cert.key),
        ] {
            args.extend([flag.to_owned(), path.display().to_string()]);
        }
        Self::spawn(args, state_file.to_owned())
    }

    fn args(node: &str, server: &str, state_file: &Path) -> Vec<String> {
        vec![
            "--node".to_owned(),
            node.to_owned(),
            "--server".to_owned(),
            server.to_owned(),
            "--state-file".to_owned(),
            state_file.display().to_string(),
            "--log-level".to_owned(),
            "debug,h2=info,tower=info,hyper_util=info".to_owned(),
        ]
    }

    fn spawn(args: Vec<String>, state_file: PathBuf) -> Self {
        let mut child = Command::new(binary("hep-agent"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hep-agent starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("log lock").push(line);
            }
        });
        Self {
            child,
            args,
            log,
            state_file,
        }
    }

    /// Everything the agent logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    /// The log lines so far, each parsed as JSON (for `--log-format json`); panics on a line
    /// that is not a JSON object.
    pub fn json_log(&self) -> Vec<Value> {
        self.log
            .lock()
            .expect("log lock")
            .iter()
            .map(|line| match serde_json::from_str::<Value>(line) {
                Ok(value) if value.is_object() => value,
                _ => panic!("a log line that is no JSON object: {line:?}"),
            })
            .collect()
    }

    /// Waits up to [`CONVERGE_TIMEOUT`] for a JSON log line whose `fields` hold every
    /// (name, value) of `fields`, and returns it.
    pub async fn wait_for_json_line(&self, fields: &[(&str, Value)]) -> Value {
        let what = format!("a log line with {fields:?}");
        let probe = || {
            let found = self.json_log().into_iter().find(|line| {
                fields
                    .iter()
                    .all(|(name, value)| &line["fields"][*name] == value)
            });
            async move { found }
        };
        let explain = || format!("the agent logged:\n{}", self.log_text());
        wait_for_explained(&what, CONVERGE_TIMEOUT, probe, explain).await
    }

    /// Whether the agent is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The address of the metrics endpoint, from the agent's log line `metrics listening
    /// addr=…`; waits for it up to [`CONVERGE_TIMEOUT`].
    pub async fn metrics_addr(&self) -> SocketAddr {
        let deadline = tokio::time::Instant::now() + CONVERGE_TIMEOUT;
        loop {
            let logged = self
                .log_text()
                .lines()
                .filter(|line| line.contains("metrics listening"))
                .find_map(|line| {
                    line.split_once("addr=")?
                        .1
                        .split_whitespace()
                        .next()?
                        .parse()
                        .ok()
                });
            if let Some(addr) = logged {
                return addr;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the agent did not announce its metrics endpoint:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the agent with SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the agent again with the same flags (after `kill`).
    pub fn start_again(&mut self) {
        let next = Self::spawn(self.args.clone(), self.state_file.clone());
        drop(std::mem::replace(self, next));
    }

    /// Sends SIGTERM and waits for the exit.
    pub async fn terminate(&mut self) -> ExitStatus {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pids fit pid_t");
        // SAFETY: kill(2) has no memory-safety preconditions; pid is our own child.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        loop {
            if let Some(status) = self.child.try_wait().expect("the agent can be polled") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The state file, once it exists and parses.
    pub fn state(&self) -> Option<serde_json::Value> {
        let bytes = std::fs::read(&self.state_file).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Polls the state file until `ready` holds for it; panics after [`CONVERGE_TIMEOUT`].
    pub async fn wait_for_state(
        &self,
        mut ready: impl FnMut(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + CONVERGE_TIMEOUT;
        loop {
            if let Some(state) = self.state().filter(|s| ready(s)) {
                return state;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the state file did not converge: {:?}\nagent log:\n{}",
                self.state(),
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `hep-agent` run that must end by itself (a start-up mistake): its exit code and stderr.
/// Panics, after killing it, if it still runs after [`CONVERGE_TIMEOUT`].
pub async fn run_to_exit(args: &[&str]) -> (i32, String) {
    let child = tokio::process::Command::new(binary("hep-agent"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("hep-agent starts");
    let output = tokio::time::timeout(CONVERGE_TIMEOUT, child.wait_with_output())
        .await
        .expect("hep-agent exits by itself")
        .expect("hep-agent can be waited for");
    let code = output.status.code().expect("hep-agent exits, not killed");
    (code, String::from_utf8_lossy(&output.stderr).into_owned())
}

/// A text log line without its timestamp: `ERROR hep_agent: ...`.
pub fn without_timestamp(line: &str) -> &str {
    line.split_once(' ')
        .map_or(line, |(_, rest)| rest.trim_start())
}
