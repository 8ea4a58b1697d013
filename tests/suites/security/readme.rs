//! The README's "Securing it" commands: the certificates its openssl lines make are accepted
//! by the server and the clients, with the roles the README says.

use std::process::Command;

use hostendpoint_tests::{ServerProcess, create, get, list, mk_hep, names, pki::CertFiles, tools};

use hostendpoint_tests::mtls::{POLICY, path_str};

#[tokio::test]
async fn the_readme_certificates_work_with_the_roles_it_describes() {
    let dir = tempfile::tempdir().expect("a directory");
    let output = Command::new("bash")
        .args([
            "-euo",
            "pipefail",
            "-c",
            &tools::readme_block_after("<!-- securing-it:openssl", "sh"),
        ])
        .current_dir(dir.path())
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "the README's openssl commands fail:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let files = |name: &str| CertFiles {
        cert: dir.path().join(format!("{name}.pem")),
        key: dir.path().join(format!("{name}-key.pem")),
    };
    let ca = dir.path().join("ca.pem");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).expect("policy written");
    let server_files = files("server");
    let args = [
        "--tls-cert-file".to_owned(),
        path_str(&server_files.cert).to_owned(),
        "--tls-key-file".to_owned(),
        path_str(&server_files.key).to_owned(),
        "--tls-client-ca-file".to_owned(),
        path_str(&ca).to_owned(),
        "--authz-policy".to_owned(),
        path_str(&policy).to_owned(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = ServerProcess::start_with(&args);

    let mut admin = server.tls_client(&ca, &files("admin")).await;
    create(&mut admin, mk_hep("on-host1", "host1")).await;
    create(&mut admin, mk_hep("on-host2", "host2")).await;
    let mut host1 = server.tls_client(&ca, &files("host1")).await;
    let page = list(&mut host1, "", 0, "").await;
    assert_eq!(names(&page.host_endpoints), ["on-host1"]);
    let status = get(&mut host1, "on-host2")
        .await
        .expect_err("another node's");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
}
