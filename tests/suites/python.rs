//! Any language: Python stubs generated from `proto/` with grpcio-tools drive a real server
//! through create, get, list, a conflicting update, a watch and a delete.

use std::process::Command;

use hostendpoint_tests::{
    tools::{python_path, workspace_root},
    *,
};

#[tokio::test]
async fn python_grpcio_client_walks_through_the_api() {
    let server = ServerProcess::start();
    let out = tempfile::tempdir().expect("tempdir");
    let root = workspace_root();
    let output = Command::new(python_path())
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
