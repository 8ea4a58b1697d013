//! A `hostendpointd` process under test.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Output, Stdio},
    sync::{Arc, Mutex, mpsc},
    thread,
    time::Duration,
};

use tempfile::TempDir;

use crate::{ApiClient, etcd::EtcdCluster};

/// Which datastore the suites run against: `HEP_TEST_DATASTORE=etcdv3` runs the conformance
/// suites on a fresh single-member etcd per server; anything else on sled.
pub fn etcd_backend() -> bool {
    std::env::var("HEP_TEST_DATASTORE").is_ok_and(|v| v == "etcdv3")
}

/// The store revision after `n` writes to a fresh store: sled starts at 0; etcd at 1, and the
/// server's first start writes the page-token secret after listing, one revision more that
/// shows from the first host-endpoint write on.
pub fn rev(n: u64) -> u64 {
    match (etcd_backend(), n) {
        (false, n) => n,
        (true, 0) => 1,
        (true, n) => n + 2,
    }
}

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The line that says the server is ready, with its address.
const LISTENING: &str = "listening";
/// The line that says the server accepts connections (its store may not be open yet).
const ACCEPTING: &str = "accepting connections; ready once the store is open";

/// How long a server that must refuse to start may take to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// The path of a binary of this workspace, built next to the test executable.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first (`cargo build --workspace --bins`, which \
         ./tests/run does)",
        path.display()
    );
    path
}

/// Runs `hostendpointd --listen 127.0.0.1:0 --data-dir <data_dir> <extra_args>` where it must
/// exit by itself, such as on a data directory it cannot use, and returns its exit status and
/// output. Panics (after killing it) if it is still running after a generous timeout.
pub async fn run_to_exit(data_dir: &Path, extra_args: &[&str]) -> Output {
    let child = tokio::process::Command::new(binary("hostendpointd"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir)
        .args(extra_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("hostendpointd starts");
    match tokio::time::timeout(EXIT_TIMEOUT, child.wait_with_output()).await {
        Ok(output) => output.expect("hostendpointd can be waited for"),
        // Dropping the future kills the child.
        Err(_) => panic!(
            "hostendpointd on {} still runs after {EXIT_TIMEOUT:?}",
            data_dir.display()
        ),
    }
}

/// A running `hostendpointd` with its own data directory.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The address of its metrics endpoint, unless started with `--metrics-listen ''`.
    pub metrics_addr: Option<SocketAddr>,
    data_dir: Arc<TempDir>,
    extra_args: Vec<String>,
    log: Arc<Mutex<Vec<String>>>,
    /// The etcd the server uses, when the suites run against etcd.
    etcd: Option<Arc<EtcdCluster>>,
}

impl ServerProcess {
    /// Starts a server on a fresh temporary data directory.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server on a fresh data directory with extra flags.
    pub fn start_with(extra_args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory can be created");
        let args = extra_args.iter().map(|a| (*a).to_owned()).collect();
        Self::spawn(Arc::new(dir), args)
    }

    /// Starts a server listening on `listen` (such as `0.0.0.0:0`) with extra flags.
    pub fn start_listening(listen: &str, extra_args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory can be created");
        let args = extra_args.iter().map(|a| (*a).to_owned()).collect();
        Self::spawn_on(listen, Arc::new(dir), args, None)
    }

    /// Starts a server whose data directory is `dir`'s `data` (prepared by the caller, say a
    /// small filesystem mounted there).
    pub fn start_in(dir: TempDir, extra_args: &[&str]) -> Self {
        let args = extra_args.iter().map(|a| (*a).to_owned()).collect();
        Self::spawn_on("127.0.0.1:0", Arc::new(dir), args, None)
    }

    /// [`Self::start_on_etcd`], returning once the server accepts connections, before it is
    /// ready: for an etcd that is not up yet.
    pub fn start_on_etcd_unready(endpoints: &str, extra_args: &[&str]) -> Self {
        Self::start_on_etcd_until(endpoints, extra_args, ACCEPTING)
    }

    /// Starts a server on the etcd cluster at `endpoints` (comma-separated client URLs),
    /// whatever `HEP_TEST_DATASTORE` says: for suites that run their own etcd clusters.
    pub fn start_on_etcd(endpoints: &str, extra_args: &[&str]) -> Self {
        Self::start_on_etcd_until(endpoints, extra_args, LISTENING)
    }

    fn start_on_etcd_until(endpoints: &str, extra_args: &[&str], announced: &'static str) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory can be created");
        let args = ["--datastore", "etcdv3", "--etcd-endpoints", endpoints]
            .iter()
            .chain(extra_args)
            .map(|a| (*a).to_owned())
            .collect();
        Self::spawn_until("127.0.0.1:0", Arc::new(dir), args, None, announced)
    }

    fn spawn(data_dir: Arc<TempDir>, extra_args: Vec<String>) -> Self {
        let etcd = etcd_backend().then(|| Arc::new(EtcdCluster::start(1)));
        Self::spawn_on("127.0.0.1:0", data_dir, extra_args, etcd)
    }

    fn spawn_on(
        listen: &str,
        data_dir: Arc<TempDir>,
        extra_args: Vec<String>,
        etcd: Option<Arc<EtcdCluster>>,
    ) -> Self {
        Self::spawn_until(listen, data_dir, extra_args, etcd, LISTENING)
    }

    /// Starts the server and returns once it logs `announced` with its address.
    fn spawn_until(
        listen: &str,
        data_dir: Arc<TempDir>,
        extra_args: Vec<String>,
        etcd: Option<Arc<EtcdCluster>>,
        announced: &'static str,
    ) -> Self {
        let mut command = Command::new(binary("hostendpointd"));
        command.args(["--listen", listen, "--log-format", "json"]);
        // Port 0 unless the test chose: the default port would collide between parallel tests.
        if !extra_args.iter().any(|a| a == "--metrics-listen") {
            command.args(["--metrics-listen", "127.0.0.1:0"]);
        }
        command
            .arg("--data-dir")
            .arg(data_dir.path().join("data"))
            .args(&extra_args);
        if let Some(etcd) = &etcd {
            command.args([
                "--datastore",
                "etcdv3",
                "--etcd-endpoints",
                &etcd.endpoints(),
            ]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hostendpointd starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let sink = Arc::clone(&log);
        let metrics_addr = Arc::new(Mutex::new(None));
        let metrics_sink = Arc::clone(&metrics_addr);
        // Keeps reading so the server never blocks on a full pipe.
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = logged_addr(&line, "metrics listening") {
                    *metrics_sink.lock().expect("metrics address lock") = Some(addr);
                }
                if let Some(addr) = logged_addr(&line, announced) {
                    let _ = addr_tx.send(addr);
                }
                sink.lock().expect("log lock").push(line);
            }
        });
        let addr = match addr_rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "hostendpointd did not start:\n{}",
                    log.lock().expect("log").join("\n")
                );
            }
        };
        // The metrics endpoint is announced before the store opens, so before `listening`.
        let metrics_addr = *metrics_addr.lock().expect("metrics address lock");
        Self {
            child,
            addr,
            metrics_addr,
            data_dir,
            extra_args,
            log,
            etcd,
        }
    }

    /// The endpoint for clients: `https://` when the server was started with TLS.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Whether the server serves TLS.
    pub fn tls(&self) -> bool {
        self.extra_args.iter().any(|a| a == "--tls-cert-file")
    }

    /// A TLS channel that trusts `ca` and presents `client`, or the handshake's error.
    pub async fn tls_channel(
        &self,
        ca: &Path,
        client: Option<&crate::pki::CertFiles>,
    ) -> Result<tonic::transport::Channel, tonic::transport::Error> {
        tonic::transport::Endpoint::from_shared(format!("https://{}", self.addr))?
            .tls_config(crate::pki::client_tls(ca, client))?
            .connect()
            .await
    }

    /// An API client over [`Self::tls_channel`].
    pub async fn tls_client(&self, ca: &Path, client: &crate::pki::CertFiles) -> ApiClient {
        ApiClient::new(
            self.tls_channel(ca, Some(client))
                .await
                .expect("the TLS handshake succeeds"),
        )
    }

    /// Sends `signal` to the server.
    pub fn send_signal(&self, signal: libc::c_int) {
        self.signal(signal);
    }

    /// The etcd the server uses, when the suites run against etcd.
    pub fn etcd(&self) -> Option<&EtcdCluster> {
        self.etcd.as_deref()
    }

    /// The data directory of the store.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.path().join("data")
    }

    /// A connected API client.
    pub async fn client(&self) -> ApiClient {
        ApiClient::connect(self.endpoint())
            .await
            .expect("the server accepts connections")
    }

    /// A new gRPC channel to the server.
    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(self.endpoint())
            .expect("a valid endpoint")
            .connect()
            .await
            .expect("the server accepts connections")
    }

    /// Sends SIGTERM and waits for the exit. Async, so that clients in this runtime keep
    /// answering the server's graceful HTTP/2 shutdown while it drains.
    pub async fn terminate(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait().await
    }

    /// [`terminate`](Self::terminate), asserting a clean exit; the panic shows the exit
    /// status and the whole log.
    pub async fn stop_cleanly(&mut self) {
        let status = self.terminate().await;
        assert!(status.success(), "{status}: {}", self.log_text());
    }

    /// Sends SIGKILL and waits for the process to be gone.
    pub async fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        self.wait().await;
    }

    async fn wait(&mut self) -> ExitStatus {
        loop {
            if let Some(status) = self.try_exit() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops the server with SIGTERM, expecting a clean exit, and starts it again on the same
    /// data directory.
    pub async fn restart(&mut self) {
        let status = self.terminate().await;
        assert!(
            status.success(),
            "clean exit expected, got {status}\n{}",
            self.log_text()
        );
        self.start_again();
    }

    /// Starts a new process on the same data directory (after `kill` or `terminate`).
    pub fn start_again(&mut self) {
        let next = Self::spawn_on(
            "127.0.0.1:0",
            Arc::clone(&self.data_dir),
            self.extra_args.clone(),
            self.etcd.clone(),
        );
        let old = std::mem::replace(self, next);
        drop(old);
    }

    /// Starts a new process on the same data directory with `extra_args` instead of the
    /// flags it was started with (after `kill` or `terminate`).
    pub fn start_again_with(&mut self, extra_args: &[&str]) {
        self.extra_args = extra_args.iter().map(|a| (*a).to_owned()).collect();
        self.start_again();
    }

    /// Starts a new process on the same data directory and the same port, so that clients
    /// reconnect by themselves (after `kill` or `terminate`).
    pub fn start_again_on_same_port(&mut self) {
        let listen = self.addr.to_string();
        let next = Self::spawn_on(
            &listen,
            Arc::clone(&self.data_dir),
            self.extra_args.clone(),
            self.etcd.clone(),
        );
        let old = std::mem::replace(self, next);
        drop(old);
    }

    /// Starts a new process on the same port with a fresh, empty store: as if the store was
    /// wiped or replaced.
    pub fn replace_store_on_same_port(&mut self) {
        let listen = self.addr.to_string();
        let dir = tempfile::tempdir().expect("a temporary directory can be created");
        let etcd = etcd_backend().then(|| Arc::new(EtcdCluster::start(1)));
        let next = Self::spawn_on(&listen, Arc::new(dir), self.extra_args.clone(), etcd);
        let old = std::mem::replace(self, next);
        drop(old);
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A memory figure of the server from /proc/PID/status, in KiB: `VmRSS` (resident now) or
    /// `VmHWM` (the most resident so far).
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the server's /proc status is readable");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/{}/status", self.pid()))
    }

    /// Everything the server logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    /// The first log line that contains `needle`, waited for up to `timeout`; the panic
    /// otherwise shows the whole log.
    pub async fn wait_for_log_line(&self, needle: &str, timeout: std::time::Duration) -> String {
        let what = format!("a log line with {needle:?}");
        let probe = || {
            let line = self
                .log
                .lock()
                .expect("log lock")
                .iter()
                .find(|line| line.contains(needle))
                .cloned();
            async move { line }
        };
        let explain = || format!("the server logged:\n{}", self.log_text());
        crate::wait::wait_for_explained(&what, timeout, probe, explain).await
    }

    /// Whether the process has exited, without waiting.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("the server can be polled")
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pids fit pid_t");
        // SAFETY: kill(2) has no memory-safety preconditions; pid is our own child.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal(libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// The address from the server's log line `message` (`listening`, `metrics listening`).
fn logged_addr(line: &str, message: &str) -> Option<SocketAddr> {
    let json: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = json.get("fields")?;
    if fields.get("message")?.as_str()? != message {
        return None;
    }
    fields.get("addr")?.as_str()?.parse().ok()
}
