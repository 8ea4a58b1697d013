//! The state file: `{"node", "revision", "hostEndpoints": [...]}` with the objects in
//! calicoctl's v3 JSON shape ([`Document`] with resourceVersion), sorted by name; replaced
//! atomically (write, fsync, rename) with the permissions asked for.

use std::{
    fs::{File, Permissions},
    io::{self, Write as _},
    os::unix::fs::PermissionsExt as _,
    path::Path,
};

use hostendpoint_api::calico::{Document, ResourceVersion};
use hostendpoint_client::model::{HostEndpoint, Revision};
use serde::Serialize;

/// The file's contents; fields in the order written.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StateFile<'a> {
    node: &'a str,
    revision: Revision,
    host_endpoints: Vec<Document>,
}

/// The file's contents for `objects` (already sorted by name) at `revision`.
pub(crate) fn render<'a>(
    node: &str,
    revision: Revision,
    objects: impl Iterator<Item = &'a HostEndpoint>,
) -> Vec<u8> {
    let host_endpoints = objects
        .map(|hep| Document::from_host_endpoint(hep, ResourceVersion::Include))
        .collect();
    let state = StateFile {
        node,
        revision,
        host_endpoints,
    };
    // Strings, string-keyed maps and integers always serialize.
    let mut bytes = serde_json::to_vec_pretty(&state).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Replaces `path` with `contents`, with permissions `mode`, so that a reader sees the old
/// file or the new one, never a part, also after a crash.
pub(crate) fn replace(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = directory(path);
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(contents)?;
    // Set on the file itself: the umask does not apply, and the file is never readable by
    // more than `mode` allows (the temporary file starts at 0600).
    tmp.as_file()
        .set_permissions(Permissions::from_mode(mode))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    File::open(dir)?.sync_all()
}

/// Checks that the state file's directory takes new files, as [`replace`] needs, by creating
/// (and removing) one.
pub(crate) fn check_writable(path: &Path) -> io::Result<()> {
    tempfile::NamedTempFile::new_in(directory(path)).map(drop)
}

/// The directory of `path` (`.` for a bare file name).
pub(crate) fn directory(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use hostendpoint_client::model::{
        EndpointPort, HostEndpointSpec, ObjectMeta, PortProtocol, Protocol,
    };

    use super::*;

    const RENDERED: &str = r#"{
  "node": "n1",
  "revision": 9,
  "hostEndpoints": [
    {
      "kind": "HostEndpoint",
      "apiVersion": "projectcalico.org/v3",
      "metadata": {
        "name": "web",
        "uid": "u-1",
        "resourceVersion": "7",
        "creationTimestamp": "2026-11-26T10:08:00Z"
      },
      "spec": {
        "node": "n1",
        "interfaceName": "eth0",
        "ports": [
          {
            "name": "dns",
            "protocol": 17,
            "port": 53
          }
        ]
      }
    }
  ]
}
"#;

    #[test]
    fn objects_are_written_as_calicoctl_prints_them() {
        let dns = EndpointPort {
            name: "dns".into(),
            protocol: Protocol {
                kind: PortProtocol::Udp,
                numeric: true,
            },
            port: 53,
        };
        let hep = HostEndpoint {
            metadata: ObjectMeta {
                name: "web".into(),
                uid: "u-1".into(),
                resource_version: 7,
                creation_timestamp: Some(UNIX_EPOCH + Duration::from_secs(1_795_687_680)),
                ..ObjectMeta::default()
            },
            spec: HostEndpointSpec {
                node: "n1".into(),
                interface_name: "eth0".into(),
                ports: vec![dns],
                ..HostEndpointSpec::default()
            },
        };
        let rendered = render("n1", 9, std::iter::once(&hep));
        assert_eq!(String::from_utf8_lossy(&rendered), RENDERED);
    }

    #[test]
    fn replace_writes_the_whole_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        replace(&path, b"one", 0o600).expect("first write");
        replace(&path, b"two", 0o640).expect("second write");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("list").count(),
            1,
            "no temporary left"
        );
    }
}
