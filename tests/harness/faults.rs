//! Tools of the fault suites: small filesystems, full disks, health, and the check that every
//! acknowledged write is still there.

use std::{
    collections::BTreeMap,
    fs,
    io::Write as _,
    path::{Path, PathBuf},
    process::Command,
};

use hostendpoint_api::pb;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::{ApiClient, get, meta};

/// A tmpfs mounted for one test; unmounted when dropped.
#[derive(Debug)]
pub struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size_mib` MiB on `path` (created); `None`, with a printed reason,
    /// where mounting is not allowed (not root, no CAP_SYS_ADMIN).
    pub fn mount(path: &Path, size_mib: u64) -> Option<Self> {
        fs::create_dir_all(path).expect("the mount point can be created");
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
            .arg(path)
            .output();
        match output {
            Ok(output) if output.status.success() => Some(Self {
                path: path.to_owned(),
            }),
            Ok(output) => {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs (run as root to test a full disk): {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                );
                None
            }
            Err(err) => {
                eprintln!("SKIPPED: cannot run mount: {err}");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Fills the filesystem of `dir` to its last byte with a file of its own, which is returned.
pub fn fill_disk(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = fs::File::create(&path).expect("the filler can be created");
    for chunk in [1024 * 1024, 4096, 1] {
        let bytes = vec![0x55u8; chunk];
        while file.write_all(&bytes).is_ok() {}
    }
    let _ = file.sync_all();
    path
}

/// The overall health status the server reports.
pub async fn health(channel: tonic::transport::Channel) -> i32 {
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .expect("health answers")
        .into_inner()
        .status
}

/// Gets every acknowledged object by name and compares it, content and resourceVersion, with
/// what its write returned.
pub async fn assert_acknowledged(
    client: &mut ApiClient,
    acked: &BTreeMap<String, pb::HostEndpoint>,
) {
    for (name, written) in acked {
        let stored = get(client, name)
            .await
            .unwrap_or_else(|status| panic!("{name} was acknowledged but is gone: {status:?}"));
        assert_eq!(
            &stored, written,
            "{name} differs from its acknowledged write"
        );
        assert!(meta(&stored).resource_version > 0);
    }
}
