//! The state file: `{"node", "revision", "hostEndpoints": [...]}` with the objects in
//! calicoctl's v3 JSON shape, sorted by name; replaced atomically (write, fsync, rename).

use std::{
    fs::File,
    io::{self, Write as _},
    path::Path,
    time::UNIX_EPOCH,
};

use hostendpoint_client::model::{HostEndpoint, Revision};
use serde_json::{Map, Value, json};

/// The file's contents for `objects` (already sorted by name) at `revision`.
pub(crate) fn render<'a>(
    node: &str,
    revision: Revision,
    objects: impl Iterator<Item = &'a HostEndpoint>,
) -> Vec<u8> {
    let objects: Vec<Value> = objects.map(calico_json).collect();
    let document = json!({ "node": node, "revision": revision, "hostEndpoints": objects });
    let mut bytes = serde_json::to_vec_pretty(&document).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Replaces `path` with `contents` so that a reader sees the old file or the new one, never
/// a part, also after a crash.
pub(crate) fn replace(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    File::open(dir)?.sync_all()
}

fn calico_json(hep: &HostEndpoint) -> Value {
    let meta = &hep.metadata;
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(meta.name));
    metadata.insert("uid".into(), json!(meta.uid));
    metadata.insert(
        "resourceVersion".into(),
        json!(meta.resource_version.to_string()),
    );
    if let Some(created) = meta.creation_timestamp {
        let seconds = created
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        metadata.insert("creationTimestamp".into(), json!(seconds));
    }
    if !meta.labels.is_empty() {
        metadata.insert("labels".into(), json!(meta.labels));
    }
    if !meta.annotations.is_empty() {
        metadata.insert("annotations".into(), json!(meta.annotations));
    }
    let spec = &hep.spec;
    let ports: Vec<Value> = spec
        .ports
        .iter()
        .map(|p| json!({ "name": p.name, "protocol": p.protocol.to_string(), "port": p.port }))
        .collect();
    json!({
        "kind": "HostEndpoint",
        "apiVersion": "projectcalico.org/v3",
        "metadata": metadata,
        "spec": {
            "node": spec.node,
            "interfaceName": spec.interface_name,
            "expectedIPs": spec.expected_ips,
            "profiles": spec.profiles,
            "ports": ports,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_writes_the_whole_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        replace(&path, b"one").expect("first write");
        replace(&path, b"two").expect("second write");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("list").count(),
            1,
            "no temporary left"
        );
    }
}
