//! Any language: Python stubs generated from `proto/` with grpcio-tools drive a real server
//! through create, get, list, a conflicting update, a watch and a delete.

use std::{path::PathBuf, process::Command};

use hostendpoint_tests::{tools::workspace_root, *};

/// The Python with grpcio-tools: `$PYTHON`, else the venv `./tests/run` installs.
fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("PYTHON") {
        return PathBuf::from(path);
    }
    let path = workspace_root().join(".tools/venv/bin/python");
    assert!(
        path.exists(),
        "{} is missing: ./tests/run installs it",
        path.display()
    );
    path
}

#[tokio::test]
async fn python_grpcio_client_walks_through_the_api() {
    let server = ServerProcess::start();
    let out = tempfile::tempdir().expect("tempdir");
    let root = workspace_root();
    let output = Command::new(python())
        .arg(root.join("tests/python/api_walkthrough.py"))
        .arg(root.join("proto"))
        .arg(out.path())
        .arg(server.addr.to_string())
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("python walkthrough: ok"), "{stdout}");
}
