//! Every client over real TLS handshakes: grpcurl, Python's grpcio, hepctl and hep-agent
//! against a server that requires client certificates and authorizes them by a policy, and
//! hostendpointd itself as a client of an etcd that requires client certificates.

use std::{ffi::OsStr, process::Output, time::Duration};

use hostendpoint_tests::{
    agent::AgentProcess,
    etcd::{EtcdCluster, EtcdTls},
    hepctl::{Run, hepctl, mk_doc, run},
    mtls::{ADMIN_CN, MtlsServer, path_str},
    pki::{CertFiles, Pki},
    tools::{grpcurl, grpcurl_error, grpcurl_json, grpcurl_ok, python_script},
    *,
};
use serde_json::{Value, json};

const SERVICE: &str = "hostendpoint.v1.HostEndpointService";

/// A host endpoint in calicoctl's JSON, as grpcurl sends it.
fn mk_json(name: &str, node: &str) -> String {
    json!({"host_endpoint": {"metadata": {"name": name},
        "spec": {"node": node, "interfaceName": "eth0"}}})
    .to_string()
}

// === grpcurl ===

/// Runs grpcurl against `mtls` over TLS, trusting its CA and presenting `cert` (none: no
/// client certificate): `flags` (such as `-d DATA`), then the address and `args`.
fn grpcurl_tls(
    mtls: &MtlsServer,
    cert: Option<&CertFiles>,
    flags: &[&str],
    args: &[&str],
) -> Output {
    let ca = mtls.ca_file();
    let mut full = vec!["-cacert", path_str(&ca)];
    if let Some(cert) = cert {
        full.extend(["-cert", path_str(&cert.cert), "-key", path_str(&cert.key)]);
    }
    full.extend(flags);
    let addr = mtls.host_port();
    full.push(&addr);
    full.extend(args);
    grpcurl(&full)
}

#[tokio::test]
async fn grpcurl_creates_and_gets_as_admin_and_a_node_reads_only_its_own() {
    let mtls = MtlsServer::start();
    let admin = Some(&mtls.admin);
    let create = format!("{SERVICE}/CreateHostEndpoint");
    let get = format!("{SERVICE}/GetHostEndpoint");

    let created = grpcurl_json(&grpcurl_tls(
        &mtls,
        admin,
        &["-d", &mk_json("web-1", "n2")],
        &[&create],
    ));
    assert_eq!(created["hostEndpoint"]["metadata"]["name"], "web-1");
    let got = grpcurl_json(&grpcurl_tls(
        &mtls,
        admin,
        &["-d", r#"{"name": "web-1"}"#],
        &[&get],
    ));
    assert_eq!(got, created, "get prints the created object");
    assert_eq!(
        got["hostEndpoint"]["spec"],
        json!({"node": "n2", "interfaceName": "eth0"})
    );

    let n1 = mtls.node("n1");
    let denied = grpcurl_error(&grpcurl_tls(
        &mtls,
        Some(&n1),
        &["-d", r#"{"name": "web-1"}"#],
        &[&get],
    ));
    assert!(denied.contains("\n  Code: PermissionDenied\n"), "{denied}");
    assert!(
        denied.contains("may read only host endpoints whose spec.node is 'n1'"),
        "{denied}"
    );
}

#[tokio::test]
async fn grpcurl_health_and_reflection_answer_a_node_over_tls() {
    let mtls = MtlsServer::start();
    let n1 = mtls.node("n1");
    let health = grpcurl_json(&grpcurl_tls(
        &mtls,
        Some(&n1),
        &[],
        &["grpc.health.v1.Health/Check"],
    ));
    assert_eq!(health, json!({"status": "SERVING"}));
    let services = grpcurl_ok(&grpcurl_tls(&mtls, Some(&n1), &[], &["list"]));
    for expected in [SERVICE, "grpc.health.v1.Health"] {
        assert!(
            services.lines().any(|l| l == expected),
            "{expected} missing:\n{services}"
        );
    }
}

#[tokio::test]
async fn grpcurl_without_a_client_certificate_fails_the_handshake() {
    let mtls = MtlsServer::start();
    // With TLS 1.3 the server refuses the missing certificate after the client's side of
    // the handshake completed; grpc-go takes the alert for a lost connection and retries, so
    // grpcurl can only report that it never got a connection: bound its wait.
    let output = grpcurl_tls(
        &mtls,
        None,
        &["-connect-timeout", "2"],
        &["grpc.health.v1.Health/Check"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "must fail: {output:?}");
    assert!(
        stderr.contains(&format!(
            "Failed to dial target host \"{}\"",
            mtls.host_port()
        )),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "{output:?}");
}

// === Python grpcio ===

#[tokio::test]
async fn python_grpcio_creates_and_lists_as_admin() {
    let mtls = MtlsServer::start();
    let (addr, ca) = (mtls.host_port(), mtls.ca_file());
    let args: [&OsStr; 4] = [
        addr.as_ref(),
        ca.as_ref(),
        mtls.admin.cert.as_ref(),
        mtls.admin.key.as_ref(),
    ];
    let output = python_script("tls_admin.py", &args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(stdout, "listed: py-a@n1 py-b@n2\n", "{stderr}");
}

// === hepctl ===

/// hepctl pointed at `server` with TLS `files`, given as flags or, with `env`, in the
/// `HEPCTL_*` variables.
struct TlsHepctl {
    server: String,
    ca: std::path::PathBuf,
    cert: CertFiles,
    env: bool,
}

impl TlsHepctl {
    fn run(&self, args: &[&str], stdin: &str) -> Run {
        let mut command = hepctl();
        command.arg("--server").arg(&self.server).args(args);
        let files = [
            ("--ca-cert-file", "HEPCTL_CA_CERT_FILE", &self.ca),
            ("--cert-file", "HEPCTL_CERT_FILE", &self.cert.cert),
            ("--key-file", "HEPCTL_KEY_FILE", &self.cert.key),
        ];
        for (flag, var, path) in files {
            if self.env {
                command.env(var, path);
            } else {
                command.arg(flag).arg(path);
            }
        }
        run(&mut command, stdin)
    }
}

#[test]
fn hepctl_creates_and_gets_as_admin_with_flags_or_environment() {
    let mtls = MtlsServer::start();
    let clis = [
        (mtls.server.endpoint(), false, "by-flags"),
        (mtls.host_port(), true, "by-env"),
    ];
    assert!(clis[0].0.starts_with("https://"), "{}", clis[0].0);
    for (server, env, name) in clis {
        let cli = TlsHepctl {
            server,
            ca: mtls.ca_file(),
            cert: mtls.admin.clone(),
            env,
        };
        let created = cli.run(&["create", "-f", "-"], &mk_doc(name, "n1"));
        created.expect(0, "Successfully created 1 'HostEndpoint' resource(s)\n", "");
        let yaml = cli.run(&["get", "hep", name, "-o", "yaml"], "").ok();
        for line in [
            "kind: HostEndpoint",
            &format!("  name: {name}"),
            "  node: n1",
            "  interfaceName: eth0",
        ] {
            assert!(yaml.lines().any(|l| l == line), "{line:?} missing:\n{yaml}");
        }
    }
}

#[test]
fn hepctl_as_a_node_cannot_create() {
    let mtls = MtlsServer::start();
    let cli = TlsHepctl {
        server: mtls.server.endpoint(),
        ca: mtls.ca_file(),
        cert: mtls.node("n1"),
        env: false,
    };
    let denied = cli.run(&["create", "-f", "-"], &mk_doc("web-1", "n1"));
    assert_eq!(denied.code, 1, "{denied:?}");
    assert!(
        denied
            .stderr
            .contains("CN:system:node:n1 is the identity of node 'n1': writes need the admin role"),
        "{denied:?}"
    );
    assert_eq!(denied.stdout, "", "{denied:?}");
}

#[test]
fn hepctl_refuses_tls_files_with_an_http_url_before_connecting() {
    let pki = Pki::new("unused");
    let cli = TlsHepctl {
        // Nothing listens there: a connection attempt would say so instead.
        server: "http://127.0.0.1:1".into(),
        ca: pki.ca_file(),
        cert: pki.client_cn("admin", ADMIN_CN),
        env: false,
    };
    let refused = cli.run(&["get", "hep"], "");
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains(
            "http://127.0.0.1:1 is plaintext (http://) but TLS files are set: use https://"
        ),
        "{refused:?}"
    );
}

#[test]
fn hepctl_without_a_client_certificate_reports_the_servers_alert() {
    let mtls = MtlsServer::start();
    let mut command = hepctl();
    command
        .args(["get", "hep", "--server", &mtls.server.endpoint()])
        .arg("--ca-cert-file")
        .arg(mtls.ca_file());
    let refused = run(&mut command, "");
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("received fatal alert: CertificateRequired"),
        "{refused:?}"
    );
    assert_eq!(refused.stdout, "", "{refused:?}");
}

// === hep-agent ===

/// The names in a state file, in file order.
fn state_names(state: &Value) -> Vec<&str> {
    state["hostEndpoints"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|h| h["metadata"]["name"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn hep_agent_with_a_node_certificate_keeps_its_nodes_endpoints() {
    let mtls = MtlsServer::start();
    let mut admin = mtls.server.tls_client(&mtls.ca_file(), &mtls.admin).await;
    create(&mut admin, mk_hep("a", "n1")).await;
    create(&mut admin, mk_hep("b", "n2")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = AgentProcess::start_tls(
        "n1",
        &mtls.server.endpoint(),
        &dir.path().join("state.json"),
        &mtls.ca_file(),
        &mtls.node("n1"),
    );
    let state = agent.wait_for_state(|s| state_names(s) == ["a"]).await;
    assert_eq!(state["node"], "n1");

    update(&mut admin, mk_hep("b", "n1"), false)
        .await
        .expect("move b to n1");
    agent.wait_for_state(|s| state_names(s) == ["a", "b"]).await;
    assert!(
        !agent.log_text().contains("PermissionDenied"),
        "{}",
        agent.log_text()
    );
}

// === hostendpointd as a client of etcd with --client-cert-auth ===

/// The `--etcd-*` flags: the CA etcd's certificate chains to and, when given, the client
/// certificate hostendpointd presents.
fn etcd_tls_flags<'a>(ca: &'a std::path::Path, client: Option<&'a CertFiles>) -> Vec<&'a str> {
    let mut flags = vec!["--etcd-ca-cert-file", path_str(ca)];
    if let Some(client) = client {
        flags.extend([
            "--etcd-cert-file",
            path_str(&client.cert),
            "--etcd-key-file",
            path_str(&client.key),
        ]);
    }
    flags
}

#[tokio::test]
async fn hostendpointd_stores_in_an_etcd_that_requires_client_certificates() {
    let pki = Pki::new("etcd");
    let cluster = EtcdCluster::start_tls(1, EtcdTls::issue(&pki));
    let url = cluster.endpoints();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let (ca, client) = (
        pki.ca_file(),
        pki.client_cn("hostendpointd", "hostendpointd"),
    );
    let server = ServerProcess::start_on_etcd(&url, &etcd_tls_flags(&ca, Some(&client)));
    let mut api = server.client().await;
    let created = create(&mut api, mk_hep("web-1", "n1")).await;
    let got = get(&mut api, "web-1").await.expect("get web-1");
    assert_eq!(got, created);

    let prefix = "/calico/resources/v3/projectcalico.org/hostendpoints/";
    let output = cluster.etcdctl(&url, &["get", "--prefix", prefix, "--keys-only"]);
    let keys = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "etcdctl: {output:?}");
    assert_eq!(
        keys.lines().filter(|l| !l.is_empty()).collect::<Vec<_>>(),
        [format!("{prefix}web-1")],
        "{keys}"
    );
}

#[tokio::test]
async fn hostendpointd_without_a_client_certificate_for_etcd_waits_and_says_why() {
    let pki = Pki::new("etcd");
    let cluster = EtcdCluster::start_tls(1, EtcdTls::issue(&pki));
    let ca = pki.ca_file();
    let url = cluster.endpoints();
    let server = ServerProcess::start_on_etcd_unready(&url, &etcd_tls_flags(&ca, None));
    // etcd refuses the handshake: as for an etcd not up yet, the server waits, and says why.
    let line = server
        .wait_for_log_line(
            "cannot reach etcd for the first listing",
            Duration::from_secs(30),
        )
        .await;
    assert!(line.contains(&url), "names etcd: {line}");
    let mut client = server.client().await;
    let refused = get(&mut client, "web-1").await.expect_err("not ready");
    assert_eq!(refused.code(), tonic::Code::Unavailable);
    assert_eq!(
        refused.message(),
        format!("the server is not ready: it is waiting for etcd at {url}")
    );
}

#[tokio::test]
async fn etcd_tls_files_without_an_https_endpoint_are_refused_at_start_up() {
    let pki = Pki::new("etcd");
    let (ca, client) = (
        pki.ca_file(),
        pki.client_cn("hostendpointd", "hostendpointd"),
    );
    let mut args = vec![
        "--datastore",
        "etcdv3",
        "--etcd-endpoints",
        "http://127.0.0.1:1",
    ];
    args.extend(etcd_tls_flags(&ca, Some(&client)));
    let dir = tempfile::tempdir().expect("tempdir");
    let output = run_to_exit(&dir.path().join("data"), &args).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "must not start: {stderr}");
    assert!(
        stderr.contains("etcd TLS files are set, but no endpoint is https://"),
        "{stderr}"
    );
}
