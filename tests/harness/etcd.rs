//! etcd processes under test: single members and three-member clusters on free loopback
//! ports, each with a temporary data directory, serving clients in plaintext or with TLS and
//! client certificates required. `./tests/run` installs Debian's etcd-server.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use tempfile::TempDir;

use crate::pki::{CertFiles, Pki};

/// How long a member may take to serve clients.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times a new cluster is started before its failure fails the test.
const START_ATTEMPTS: usize = 3;

/// The etcd binary: `$ETCD`, else the one on PATH.
pub fn etcd_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("ETCD") {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("etcd"))
            .find(|candidate| candidate.exists())
    });
    found.expect("etcd is not on PATH: ./tests/run installs Debian's etcd-server")
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener.local_addr().expect("a bound address").port()
}

/// One etcd member.
#[derive(Debug)]
pub struct EtcdMember {
    child: Option<Child>,
    args: Vec<String>,
    /// Its client URL.
    pub client_url: String,
    _dir: std::sync::Arc<TempDir>,
}

/// An etcd cluster of one or more members.
#[derive(Debug)]
pub struct EtcdCluster {
    /// The members, in start order.
    pub members: Vec<EtcdMember>,
    /// TLS of the client URLs, when they are https://.
    tls: Option<EtcdTls>,
}

/// TLS for etcd's clients: the files etcd serves with, and the client certificate etcdctl
/// presents (etcd requires one, `--client-cert-auth`).
#[derive(Clone, Debug)]
pub struct EtcdTls {
    /// The CA of etcd's certificate and of the client certificates it accepts.
    pub ca: PathBuf,
    /// etcd's certificate: for 127.0.0.1, and a client certificate too (etcd's gateway
    /// presents it to etcd itself).
    pub server: CertFiles,
    /// The certificate etcdctl presents.
    pub client: CertFiles,
}

impl EtcdTls {
    /// etcd's certificate and etcdctl's, issued by `pki`.
    pub fn issue(pki: &Pki) -> Self {
        Self {
            ca: pki.ca_file(),
            server: pki.server_and_client("etcd"),
            client: pki.client_cn("etcdctl", "etcdctl"),
        }
    }

    /// etcd's flags for serving clients with these files.
    fn server_args(&self) -> Vec<String> {
        vec![
            format!("--cert-file={}", self.server.cert.display()),
            format!("--key-file={}", self.server.key.display()),
            "--client-cert-auth".to_owned(),
            format!("--trusted-ca-file={}", self.ca.display()),
        ]
    }

    /// etcdctl's flags for connecting with these files.
    fn etcdctl_args(&self) -> Vec<String> {
        vec![
            format!("--cacert={}", self.ca.display()),
            format!("--cert={}", self.client.cert.display()),
            format!("--key={}", self.client.key.display()),
        ]
    }
}

impl EtcdCluster {
    /// Starts a cluster of `size` members and waits until it serves clients. Blocking: it
    /// runs before the servers that use it.
    pub fn start(size: usize) -> Self {
        Self::start_with(size, None)
    }

    /// Starts a cluster of `size` members serving clients on https:// URLs with `tls`, client
    /// certificates required. Peers still talk plaintext.
    pub fn start_tls(size: usize, tls: EtcdTls) -> Self {
        Self::start_with(size, Some(tls))
    }

    /// Starts the cluster; when a member dies before it serves (a port picked free was taken
    /// by another test's process before etcd bound it), starts it again on new ports.
    fn start_with(size: usize, tls: Option<EtcdTls>) -> Self {
        for _ in 1..START_ATTEMPTS {
            let mut cluster = Self::spawn_members(size, tls.clone());
            if cluster.serves_or_dies() {
                return cluster;
            }
        }
        let cluster = Self::spawn_members(size, tls);
        cluster.wait_ready();
        cluster
    }

    /// Whether the new cluster serves clients; `false` as soon as a member has exited.
    fn serves_or_dies(&mut self) -> bool {
        let deadline = std::time::Instant::now() + READY_TIMEOUT;
        while std::time::Instant::now() < deadline {
            let died = self.members.iter_mut().any(|m| {
                m.child
                    .as_mut()
                    .is_some_and(|child| matches!(child.try_wait(), Ok(Some(_))))
            });
            if died {
                return false;
            }
            let url = &self.members[0].client_url;
            let health = self.etcdctl(url, &["endpoint", "health", "--command-timeout=1s"]);
            if health.status.success() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn spawn_members(size: usize, tls: Option<EtcdTls>) -> Self {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let dir = std::sync::Arc::new(tempfile::tempdir().expect("tempdir"));
        let ports: Vec<(u16, u16)> = (0..size).map(|_| (free_port(), free_port())).collect();
        let initial_cluster = ports
            .iter()
            .enumerate()
            .map(|(i, (_, peer))| format!("m{i}=http://127.0.0.1:{peer}"))
            .collect::<Vec<_>>()
            .join(",");
        let members = ports
            .iter()
            .enumerate()
            .map(|(i, (client, peer))| {
                let client_url = format!("{scheme}://127.0.0.1:{client}");
                let peer_url = format!("http://127.0.0.1:{peer}");
                let mut args = vec![
                    format!("--name=m{i}"),
                    format!("--data-dir={}", dir.path().join(format!("m{i}")).display()),
                    format!("--listen-client-urls={client_url}"),
                    format!("--advertise-client-urls={client_url}"),
                    format!("--listen-peer-urls={peer_url}"),
                    format!("--initial-advertise-peer-urls={peer_url}"),
                    format!("--initial-cluster={initial_cluster}"),
                    "--initial-cluster-state=new".to_owned(),
                    "--initial-cluster-token=hostendpointd-tests".to_owned(),
                ];
                args.extend(tls.iter().flat_map(EtcdTls::server_args));
                let mut member = EtcdMember {
                    child: None,
                    args,
                    client_url,
                    _dir: std::sync::Arc::clone(&dir),
                };
                member.spawn();
                member
            })
            .collect();
        Self { members, tls }
    }

    /// The members' client URLs, comma-separated, as `--etcd-endpoints` takes them.
    pub fn endpoints(&self) -> String {
        self.members
            .iter()
            .map(|m| m.client_url.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The client URL of a running member.
    pub fn running_url(&self) -> &str {
        self.members
            .iter()
            .find(|m| m.child.is_some())
            .map(|m| m.client_url.as_str())
            .expect("a member is running")
    }

    /// Compacts etcd's history at `revision` (blocking): revisions before it are gone, so
    /// `revision - 1` is the oldest a watch resumes after.
    pub fn compact(&self, revision: u64) {
        let output = self.etcdctl(self.running_url(), &["compact", &revision.to_string()]);
        assert!(
            output.status.success(),
            "etcdctl compact {revision}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The index of the member that is the raft leader, as `etcdctl endpoint status` reports
    /// it (blocking); `None` while there is none.
    pub fn leader(&self) -> Option<usize> {
        let output = self.etcdctl(
            &self.endpoints(),
            &["endpoint", "status", "-w", "json", "--command-timeout=2s"],
        );
        let statuses: Vec<serde_json::Value> =
            serde_json::from_slice(&output.stdout).unwrap_or_default();
        let leader = statuses.iter().find_map(|s| {
            let status = s.get("Status")?;
            let member = status.get("header")?.get("member_id")?;
            (Some(member) == status.get("leader")).then(|| s.get("Endpoint")?.as_str())?
        })?;
        self.members.iter().position(|m| m.client_url == leader)
    }

    /// Runs `etcdctl --endpoints URL ARGS` (API v3) with the cluster's client TLS files, if
    /// any, and returns its output.
    pub fn etcdctl(&self, url: &str, args: &[&str]) -> std::process::Output {
        let tls = self.tls.iter().flat_map(EtcdTls::etcdctl_args);
        let tls: Vec<String> = tls.collect();
        let tls: Vec<&str> = tls.iter().map(String::as_str).collect();
        etcdctl(url, &[&tls[..], args].concat())
    }

    /// Waits until a running member reports itself healthy (blocking).
    pub fn wait_ready(&self) {
        let deadline = std::time::Instant::now() + READY_TIMEOUT;
        loop {
            for member in self.members.iter().filter(|m| m.child.is_some()) {
                let health = self.etcdctl(
                    &member.client_url,
                    &["endpoint", "health", "--command-timeout=1s"],
                );
                if health.status.success() {
                    return;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "etcd did not become ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl EtcdMember {
    fn spawn(&mut self) {
        let child = Command::new(etcd_binary())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd starts");
        self.child = Some(child);
    }

    /// Kills the member with SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the member again on its data directory and ports.
    pub fn restart(&mut self) {
        self.kill();
        // A restarted member rejoins the existing cluster.
        for arg in &mut self.args {
            if arg == "--initial-cluster-state=new" {
                *arg = "--initial-cluster-state=existing".to_owned();
            }
        }
        self.spawn();
    }
}

impl Drop for EtcdMember {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `etcdctl --endpoints URL ARGS` (API v3) and returns its output.
pub fn etcdctl(url: &str, args: &[&str]) -> std::process::Output {
    let etcd = etcd_binary();
    let etcdctl = etcd.with_file_name("etcdctl");
    Command::new(etcdctl)
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={url}"))
        .args(args)
        .output()
        .expect("etcdctl runs")
}
