//! Any language: Python stubs generated from `proto/` with grpcio-tools drive a real server
//! through create, get, list, a conflicting update, a watch and a delete.

use hostendpoint_tests::{tools::python_script, *};

#[tokio::test]
async fn python_grpcio_client_walks_through_the_api() {
    let server = ServerProcess::start();
    let addr = server.addr.to_string();
    let output = python_script("api_walkthrough.py", &[addr.as_ref()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("python walkthrough: ok"), "{stdout}");
}
