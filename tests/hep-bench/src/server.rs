//! The servers under test as processes: started on loopback with a fresh data directory,
//! killed with SIGKILL and started again on the same directory and port, and measured from
//! `/proc` (CPU seconds, resident memory and its peak).
//!
//! hostendpointd (mTLS) is hostendpointd on sled with TLS, client certificates required and an
//! authorization policy ([`Mtls`]); its clients connect to the [`Target`] it gives.
//!
//! hostendpointd on its etcd backend is two processes: hostendpointd and an etcd of its own,
//! started like the plain etcd system's. Its CPU time and memory are the two processes'
//! together, and a restart restarts hostendpointd only: etcd keeps running, as it does when a
//! replica restarts.

use std::{
    collections::VecDeque,
    io::{BufRead as _, BufReader},
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
        mpsc,
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use hostendpointd::store::etcd::BEHIND_RELIST;
use serde::Serialize;

use crate::{
    config::{Settings, SystemKind},
    mtls::Mtls,
    system::{Client, Target},
};

/// How long a server may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How many of a server's last log lines are kept for error messages.
const LOG_TAIL: usize = 40;
/// The pause between two attempts to reach a starting etcd.
const POLL: Duration = Duration::from_millis(10);

/// A system's server: the process clients talk to, and for hostendpointd on etcd the etcd
/// behind it.
#[derive(Debug)]
pub(crate) struct Server {
    /// The address clients connect to.
    pub(crate) addr: SocketAddr,
    /// Declared before `backing`, so that hostendpointd is killed before its etcd.
    front: Process,
    /// hostendpointd-etcd's etcd: not restarted with `front`.
    backing: Option<Process>,
    /// hostendpointd (mTLS)'s certificates and policy; declared last, so that the files
    /// outlive the process that reads them.
    mtls: Option<Mtls>,
}

/// One server process.
#[derive(Debug)]
struct Process {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
    command: Vec<String>,
    program: PathBuf,
    log: Arc<Mutex<VecDeque<String>>>,
    /// How often hostendpointd on etcd logged a relist for being far behind its etcd.
    relists: Arc<AtomicU64>,
}

/// What `/proc` says about a process (or the sum over a server's processes) at one moment.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub(crate) struct Usage {
    /// User plus system CPU time so far, in seconds.
    pub(crate) cpu_secs: f64,
    /// Resident memory now, in bytes.
    pub(crate) rss_bytes: u64,
    /// The most resident memory since the start or the last [`Server::reset_peak`], in bytes.
    pub(crate) peak_rss_bytes: u64,
}

impl Server {
    /// Starts `kind` on a fresh data directory under `dir`.
    pub(crate) async fn start(
        kind: SystemKind,
        settings: &Settings,
        dir: &Path,
    ) -> anyhow::Result<Self> {
        match kind {
            SystemKind::Hostendpointd => {
                let args = sled_args(settings, &dir.join("hostendpointd"))?;
                Ok(Self::single(Process::hostendpointd(settings, args)?))
            }
            SystemKind::HostendpointdMtls => {
                let mtls = Mtls::new(dir)?;
                let mut args = sled_args(settings, &dir.join("hostendpointd-mtls"))?;
                args.extend(mtls.args.iter().cloned());
                let server = Self::single(Process::hostendpointd(settings, args)?);
                Ok(Self {
                    mtls: Some(mtls),
                    ..server
                })
            }
            SystemKind::HostendpointdEtcd => {
                Self::start_on_etcd(settings, &dir.join("hostendpointd-etcd")).await
            }
            SystemKind::Etcd => {
                let etcd = Process::etcd("etcd", settings, &dir.join("etcd"))?;
                Ok(Self::single(etcd))
            }
        }
    }

    fn single(front: Process) -> Self {
        Self {
            addr: front.addr,
            front,
            backing: None,
            mtls: None,
        }
    }

    /// Where and how clients reach the server.
    pub(crate) fn target(&self) -> Target {
        Target {
            addr: self.addr,
            tls: self.mtls.as_ref().map(|mtls| mtls.client.clone()),
        }
    }

    /// A fresh etcd, and once it serves, hostendpointd on it (whose etcd backend exits when
    /// its first listing finds no etcd).
    async fn start_on_etcd(settings: &Settings, dir: &Path) -> anyhow::Result<Self> {
        let mut etcd = Process::etcd(
            "the etcd of hostendpointd (etcd)",
            settings,
            &dir.join("etcd"),
        )?;
        etcd.until_serving().await?;
        let args = ["--datastore", "etcdv3", "--etcd-endpoints"]
            .map(str::to_owned)
            .into_iter()
            .chain([format!("http://{}", etcd.addr)])
            .collect();
        let front = Process::hostendpointd(settings, args)?;
        Ok(Self {
            addr: front.addr,
            front,
            backing: Some(etcd),
            mtls: None,
        })
    }

    /// Kills the process clients talk to with SIGKILL and waits until it is gone; an etcd
    /// behind it keeps running.
    pub(crate) fn kill(&mut self) {
        self.front.kill();
    }

    /// How often the process clients talk to relisted because its etcd watch fell far behind
    /// (as its log says).
    pub(crate) fn relists(&self) -> u64 {
        self.front.relists.load(Ordering::Relaxed)
    }

    /// Stops (SIGSTOP) the process clients talk to, or lets it go on (SIGCONT): a replica that
    /// falls behind its etcd.
    pub(crate) fn pause_front(&self, paused: bool) {
        self.front
            .signal(if paused { libc::SIGSTOP } else { libc::SIGCONT });
    }

    /// Starts the killed process again, on the same data directory and address (after
    /// [`Self::kill`]). Returns as soon as it is spawned: the caller times how long until it
    /// answers.
    pub(crate) fn start_again(&mut self) -> anyhow::Result<()> {
        self.front.start_again()?;
        self.addr = self.front.addr;
        Ok(())
    }

    /// The address of hostendpointd-etcd's etcd, which scenario 7 writes history into; `None`
    /// for a single-process system.
    pub(crate) fn backing_addr(&self) -> Option<SocketAddr> {
        self.backing.as_ref().map(|etcd| etcd.addr)
    }

    /// CPU time and memory now, summed over the server's processes.
    pub(crate) fn usage(&self) -> anyhow::Result<Usage> {
        let front = self.front.usage()?;
        Ok(front.plus(self.lasting_usage()?))
    }

    /// CPU time and memory of the processes that [`Self::kill`] leaves running (none but
    /// hostendpointd-etcd's etcd).
    pub(crate) fn lasting_usage(&self) -> anyhow::Result<Usage> {
        self.backing
            .as_ref()
            .map_or(Ok(Usage::default()), Process::usage)
    }

    /// The sockets the process clients talk to has open (hostendpointd-etcd: hostendpointd's,
    /// its connections to its etcd included): connections that clients closed are gone from
    /// it once the server has noticed.
    pub(crate) fn sockets(&self) -> anyhow::Result<usize> {
        let dir = format!("/proc/{}/fd", self.front.child.id());
        let mut sockets = 0;
        for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot read {dir}"))? {
            // A descriptor closed between the listing and the look is not a socket any more.
            let Ok(target) = std::fs::read_link(entry?.path()) else {
                continue;
            };
            if target.to_string_lossy().starts_with("socket:") {
                sockets += 1;
            }
        }
        Ok(sockets)
    }

    /// Resets the peak resident memory (`VmHWM`) of every process to its current one.
    pub(crate) fn reset_peak(&self) -> anyhow::Result<()> {
        self.front.reset_peak()?;
        self.backing.as_ref().map_or(Ok(()), Process::reset_peak)
    }

    /// The last log lines of the server's processes.
    pub(crate) fn log_tail(&self) -> String {
        match &self.backing {
            None => self.front.log_tail(),
            Some(etcd) => format!(
                "{}\n{}:\n{}",
                self.front.log_tail(),
                etcd.name,
                etcd.log_tail()
            ),
        }
    }

    /// Whether every process of the server still runs.
    pub(crate) fn is_running(&mut self) -> bool {
        self.front.is_running() && self.backing.as_mut().is_none_or(Process::is_running)
    }
}

/// hostendpointd's arguments for its sled store in `data`. The change log keeps every
/// revision the run makes, so the restart scenario finds all of them.
fn sled_args(settings: &Settings, data: &Path) -> anyhow::Result<Vec<String>> {
    let retained = settings.log_entries + 2 * settings.objects as u64 + 1_000_000;
    Ok([
        "--data-dir",
        path_str(data)?,
        "--retained-revisions",
        &retained.to_string(),
    ]
    .map(str::to_owned)
    .to_vec())
}

impl Process {
    /// hostendpointd on port 0 with the datastore arguments `store`; the port comes from its
    /// `listening` log line.
    fn hostendpointd(settings: &Settings, store: Vec<String>) -> anyhow::Result<Self> {
        // Metrics on, as by default, but on a free port (or off, to measure their cost).
        let metrics = if settings.metrics { "127.0.0.1:0" } else { "" };
        let mut args = [
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            metrics,
            "--log-format",
            "json",
        ]
        .map(str::to_owned)
        .to_vec();
        args.extend(store);
        Self::spawn("hostendpointd", &settings.hostendpointd, args)
    }

    /// etcd with its defaults, but for loopback URLs, a quiet log and a backend quota that
    /// the run's history fits in (the quota only raises an alarm; it costs nothing).
    fn etcd(name: &'static str, settings: &Settings, data: &Path) -> anyhow::Result<Self> {
        let client = format!("http://127.0.0.1:{}", free_port()?);
        let peer = format!("http://127.0.0.1:{}", free_port()?);
        let args = [
            "--name",
            "bench",
            "--data-dir",
            path_str(data)?,
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
            "--initial-cluster",
            &format!("bench={peer}"),
            "--logger",
            "zap",
            "--log-level",
            "warn",
            "--quota-backend-bytes",
            &(8u64 << 30).to_string(),
        ]
        .map(str::to_owned);
        Self::spawn(name, &settings.etcd, args.to_vec())
    }

    /// Spawns the process; the address is the one in `command`, or for hostendpointd on port
    /// 0 the one it logs once it listens.
    fn spawn(name: &'static str, program: &Path, command: Vec<String>) -> anyhow::Result<Self> {
        let mut child = Command::new(program)
            .args(&command)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let stderr = child.stderr.take().context("stderr is piped")?;
        let sink = Arc::clone(&log);
        let relists = Arc::new(AtomicU64::new(0));
        let relisted = Arc::clone(&relists);
        // Keeps reading, so the server never blocks on a full pipe.
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = listening_addr(&line) {
                    let _ = addr_tx.send(addr);
                }
                // How hostendpointd on etcd says it relists because its watch fell far behind.
                if line.contains(BEHIND_RELIST) {
                    relisted.fetch_add(1, Ordering::Relaxed);
                }
                let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                if log.len() == LOG_TAIL {
                    log.pop_front();
                }
                log.push_back(line);
            }
        });
        let mut process = Self {
            name,
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            command,
            program: program.to_owned(),
            log,
            relists,
        };
        match configured_addr(&process.command) {
            Some(addr) if addr.port() != 0 => process.addr = addr,
            _ => match addr_rx.recv_timeout(START_TIMEOUT) {
                Ok(addr) => process.addr = addr,
                Err(_) => bail!("{name} did not start:\n{}", process.log_tail()),
            },
        }
        Ok(process)
    }

    /// Waits until etcd answers a read.
    async fn until_serving(&mut self) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            let attempt = async {
                let mut client =
                    Client::connect(SystemKind::Etcd, &Target::plain(self.addr)).await?;
                client.revision().await
            };
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), attempt).await {
                return Ok(());
            }
            if !self.is_running() {
                bail!("{} exited while starting:\n{}", self.name, self.log_tail());
            }
            if start.elapsed() > START_TIMEOUT {
                bail!("{} did not answer within {START_TIMEOUT:?}", self.name);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Kills the process with SIGKILL and waits until it is gone.
    fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }

    /// Starts the process again, on the same data directory and address.
    fn start_again(&mut self) -> anyhow::Result<()> {
        let mut command = self.command.clone();
        if let Some(listen) = command.iter().position(|arg| arg == "--listen") {
            command[listen + 1] = self.addr.to_string();
        }
        *self = Self::spawn(self.name, &self.program, command)?;
        Ok(())
    }

    fn usage(&self) -> anyhow::Result<Usage> {
        Usage::of(self.child.id())
    }

    fn reset_peak(&self) -> anyhow::Result<()> {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5")
            .context("cannot reset the peak RSS through /proc/<pid>/clear_refs")
    }

    fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn signal(&self, signal: libc::c_int) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) has no memory-safety preconditions; pid is our own child.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }
}

impl Usage {
    /// What `/proc` says about process `pid`.
    pub(crate) fn of(pid: u32) -> anyhow::Result<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .context("malformed /proc/<pid>/stat")?
            .1
            .split_whitespace()
            .collect();
        // utime and stime are fields 14 and 15 of stat(5); `fields` starts at field 3. A file
        // without them is reported as an error, so that the run fails with a message instead
        // of a panic that would leave no report.
        let field = |at: usize| -> anyhow::Result<u64> {
            let value = fields
                .get(at)
                .with_context(|| format!("/proc/{pid}/stat has no field {}", at + 3))?;
            value
                .parse()
                .with_context(|| format!("malformed field {} of /proc/{pid}/stat", at + 3))
        };
        let ticks = field(11)? + field(12)?;
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        Ok(Self {
            cpu_secs: ticks as f64 / hz,
            rss_bytes: status_kib(&status, "VmRSS:")? * 1024,
            peak_rss_bytes: status_kib(&status, "VmHWM:")? * 1024,
        })
    }

    /// This process: the load generator. Its CPU time comes from `getrusage(RUSAGE_SELF)`, to
    /// the microsecond, rather than from `/proc`'s clock ticks (10 ms), which would round a
    /// short measurement's share away.
    pub(crate) fn of_self() -> anyhow::Result<Self> {
        let memory = Self::of(std::process::id())?;
        // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `usage` is a valid, writable `rusage` for the call to fill in.
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
            return Err(std::io::Error::last_os_error()).context("getrusage(RUSAGE_SELF) failed");
        }
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
        Ok(Self {
            cpu_secs: secs(usage.ru_utime) + secs(usage.ru_stime),
            ..memory
        })
    }

    /// Two processes' usage together; peaks are summed, as each process has its own.
    fn plus(self, other: Self) -> Self {
        Self {
            cpu_secs: self.cpu_secs + other.cpu_secs,
            rss_bytes: self.rss_bytes + other.rss_bytes,
            peak_rss_bytes: self.peak_rss_bytes + other.peak_rss_bytes,
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.is_running() {
            self.kill();
        }
    }
}

/// A port that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str()
        .with_context(|| format!("{} is not UTF-8", path.display()))
}

/// The address in the arguments: hostendpointd's `--listen`, etcd's client URL.
fn configured_addr(command: &[String]) -> Option<SocketAddr> {
    let at = command
        .iter()
        .position(|a| a == "--listen" || a == "--listen-client-urls")?;
    let value = command.get(at + 1)?;
    value.strip_prefix("http://").unwrap_or(value).parse().ok()
}

/// The address from hostendpointd's JSON `listening` log line.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let json: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = json.get("fields")?;
    if fields.get("message")?.as_str()? != "listening" {
        return None;
    }
    fields.get("addr")?.as_str()?.parse().ok()
}

/// A `kB` figure of `/proc/<pid>/status`.
fn status_kib(status: &str, key: &str) -> anyhow::Result<u64> {
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .with_context(|| format!("no {key} in /proc/<pid>/status"))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("malformed {line:?}"))
}
