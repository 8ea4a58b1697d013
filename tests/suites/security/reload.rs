//! Rotation without a restart: new TLS material (a Kubernetes Secret volume's symlink swap, a
//! write in place) and a new policy are used for new handshakes and calls within seconds, open
//! watches go on, and contents that do not parse are logged and ignored; hep-agent presents
//! its rotated certificate when it reconnects.

use std::{os::unix::fs::symlink, path::Path};

use hostendpoint_api::pb;
use hostendpoint_tests::{
    ServerProcess, create, get, list, meta, mk_hep, names,
    pki::{CertFiles, Pki},
    watching,
};

use hostendpoint_tests::{
    agent::AgentProcess,
    mtls::{ADMIN_CN, MtlsServer, POLICY, path_str, tls_args},
};

use hostendpoint_tests::wait_for;

use super::{RELOAD_DEADLINE, replace_file};

/// A Secret volume as the kubelet lays it out: `<dir>/..data` points to a timestamped
/// directory, and each file is a symlink through `..data`.
struct SecretVolume {
    dir: tempfile::TempDir,
    generation: u32,
}

impl SecretVolume {
    fn new(server: &CertFiles, ca: &Path) -> Self {
        let mut volume = Self {
            dir: tempfile::tempdir().expect("a volume directory"),
            generation: 0,
        };
        volume.publish(server, ca);
        for file in ["tls.crt", "tls.key", "ca.crt"] {
            symlink(format!("..data/{file}"), volume.path(file)).expect("file symlink");
        }
        volume
    }

    fn path(&self, file: &str) -> std::path::PathBuf {
        self.dir.path().join(file)
    }

    /// Writes a new generation and swaps `..data` to it atomically, as the kubelet does.
    fn publish(&mut self, server: &CertFiles, ca: &Path) {
        self.generation += 1;
        let generation = format!("..2026_12_02_gen{}", self.generation);
        let target = self.path(&generation);
        std::fs::create_dir(&target).expect("generation directory");
        for (from, to) in [(&server.cert, "tls.crt"), (&server.key, "tls.key")] {
            std::fs::copy(from, target.join(to)).expect("copied");
        }
        std::fs::copy(ca, target.join("ca.crt")).expect("copied");
        let tmp = self.path("..data_tmp");
        symlink(&generation, &tmp).expect("new ..data link");
        std::fs::rename(&tmp, self.path("..data")).expect("swapped");
    }
}

#[tokio::test]
async fn new_tls_material_is_used_for_new_handshakes_while_watches_go_on() {
    let old = Pki::new("old");
    let new = Pki::new("new");
    let mut volume = SecretVolume::new(&old.server("server"), &old.ca_file());
    let files = CertFiles {
        cert: volume.path("tls.crt"),
        key: volume.path("tls.key"),
    };
    let policy = old.dir().join("policy.yaml");
    std::fs::write(&policy, POLICY).expect("policy written");
    let mut args = tls_args(&files, &volume.path("ca.crt"));
    args.extend(["--authz-policy".into(), path_str(&policy).to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = ServerProcess::start_with(&args);

    let old_node = old.client_cn("node-a", "system:node:node-a");
    let mut watcher = server.tls_client(&old.ca_file(), &old_node).await;
    let mut watch = watching::watch(&mut watcher, "", 0)
        .await
        .expect("a node's watch");
    watch.expect_snapshot().await;

    volume.publish(&new.server("server"), &new.ca_file());
    let new_admin = new.client_cn("admin", "calico-admin");
    let mut admin = wait_for("the new CA is trusted", RELOAD_DEADLINE, || async {
        let channel = server
            .tls_channel(&new.ca_file(), Some(&new_admin))
            .await
            .ok()?;
        let mut client = hostendpoint_tests::ApiClient::new(channel);
        let probe = get(&mut client, "probe").await;
        probe
            .is_err_and(|s| s.code() == tonic::Code::NotFound)
            .then_some(client)
    })
    .await;
    create(&mut admin, mk_hep("after-rotation", "node-a")).await;
    let event = watch.expect_non_bookmark().await;
    assert_eq!(
        watching::kind(&event),
        pb::EventType::Added,
        "the old watch goes on"
    );
    let old_admin = old.client_cn("old-admin", "calico-admin");
    let refused = server.tls_channel(&old.ca_file(), Some(&old_admin)).await;
    if let Ok(channel) = refused {
        let mut client = hostendpoint_tests::ApiClient::new(channel);
        get(&mut client, "after-rotation")
            .await
            .expect_err("the old CA is no longer trusted");
    }

    // Contents that do not parse are rejected; the loaded material stays in use.
    std::fs::write(
        volume.path("..data/tls.crt"),
        "-----BEGIN CERTIFICATE-----\ngarbage",
    )
    .expect("written in place");
    wait_for(
        "the bad certificate is reported",
        RELOAD_DEADLINE,
        || async {
            server
                .log_text()
                .contains("new contents rejected; keeping the loaded one")
                .then_some(())
        },
    )
    .await;
    let mut fresh = server.tls_client(&new.ca_file(), &new_admin).await;
    get(&mut fresh, "after-rotation")
        .await
        .expect("the loaded material still serves");
}

#[tokio::test]
async fn a_policy_change_applies_to_the_next_call() {
    let secured = MtlsServer::start();
    let ops = secured.pki.client_cn("ops", "ops-team");
    let mut client = secured.client(&ops).await;
    let status = client
        .list_host_endpoints(pb::ListHostEndpointsRequest::default())
        .await
        .expect_err("ops-team has no role yet");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);

    replace_file(
        &secured.policy,
        format!(
            "{}\nreader: [\"CN:ops-team\"]\n",
            POLICY.replace("reader:", "# reader:")
        )
        .as_bytes(),
    );
    wait_for("ops-team becomes a reader", RELOAD_DEADLINE, || {
        let mut client = client.clone();
        async move {
            client
                .list_host_endpoints(pb::ListHostEndpointsRequest::default())
                .await
                .ok()
        }
    })
    .await;

    replace_file(&secured.policy, b"admin: [\"CN:unterminated\n");
    wait_for("the broken policy is reported", RELOAD_DEADLINE, || async {
        let log = secured.server.log_text();
        (log.contains("authorization policy") && log.contains("new contents rejected"))
            .then_some(())
    })
    .await;
    let page = list(&mut client, "", 0, "").await;
    assert!(
        names(&page.host_endpoints).is_empty(),
        "the previous policy stays"
    );
}

#[tokio::test]
async fn a_policy_change_ends_the_watches_it_no_longer_allows() {
    let secured = MtlsServer::start();
    let mut reader = secured.client(&secured.reader()).await;
    let mut watch = watching::watch(&mut reader, "", 0)
        .await
        .expect("a reader's watch");
    watch.expect_snapshot().await;

    replace_file(
        &secured.policy,
        POLICY.replace("reader:", "# reader:").as_bytes(),
    );
    wait_for("the new policy is loaded", RELOAD_DEADLINE, || async {
        let log = secured.server.log_text();
        log.lines()
            .any(|l| l.contains("authorization policy") && l.contains("reloaded"))
            .then_some(())
    })
    .await;
    let mut admin = secured.client(&secured.admin).await;
    create(&mut admin, mk_hep("after-revocation", "node-a")).await;
    let status = loop {
        match watch.next().await {
            Ok(Some(event)) => {
                let name = event.host_endpoint.as_ref().map(|h| meta(h).name.clone());
                assert_ne!(
                    name.as_deref(),
                    Some("after-revocation"),
                    "nothing after revocation"
                );
            }
            Ok(None) => panic!("the watch ends with a status"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    assert_eq!(
        status.message(),
        "the authorization policy changed: URI:spiffe://cluster.local/ns/monitoring/sa/prometheus \
         may no longer watch every node"
    );
}

/// Replaces `to`'s certificate and key with `from`'s, each file renamed over the old one.
fn install(from: &CertFiles, to: &CertFiles) {
    for (src, dst) in [(&from.cert, &to.cert), (&from.key, &to.key)] {
        replace_file(dst, &std::fs::read(src).expect("the new file reads"));
    }
}

#[tokio::test]
async fn hep_agent_presents_its_rotated_certificate_when_it_reconnects() {
    let old = Pki::new("agent-old");
    let new = Pki::new("agent-new");
    let dir = tempfile::tempdir().expect("a directory for the installed files");
    let files = |name: &str| CertFiles {
        cert: dir.path().join(format!("{name}.crt")),
        key: dir.path().join(format!("{name}.key")),
    };
    let (server_files, agent_files) = (files("server"), files("node"));
    let (client_ca, agent_ca) = (dir.path().join("client-ca.crt"), dir.path().join("ca.crt"));
    let install_ca = |pki: &Pki| {
        let ca = std::fs::read(pki.ca_file()).expect("the CA reads");
        replace_file(&client_ca, &ca);
        replace_file(&agent_ca, &ca);
    };
    install(&old.server("server"), &server_files);
    install(&old.client_cn("node-a", "system:node:node-a"), &agent_files);
    install_ca(&old);
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).expect("policy written");
    let mut args = tls_args(&server_files, &client_ca);
    args.extend(["--authz-policy".into(), path_str(&policy).to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = ServerProcess::start_with(&args);
    let state = dir.path().join("state.json");
    let agent = AgentProcess::start_tls(
        "node-a",
        &server.addr.to_string(),
        &state,
        &agent_ca,
        &agent_files,
    );
    let has = |name: &'static str| {
        move |state: &serde_json::Value| {
            state["hostEndpoints"]
                .as_array()
                .is_some_and(|items| items.iter().any(|h| h["metadata"]["name"] == name))
        }
    };
    let old_admin = old.client_cn("admin", ADMIN_CN);
    let mut admin = server.tls_client(&old.ca_file(), &old_admin).await;
    create(&mut admin, mk_hep("before-rotation", "node-a")).await;
    agent.wait_for_state(has("before-rotation")).await;

    // Everything moves to the new CA, the agent's files included.
    install(&new.server("server"), &server_files);
    install(&new.client_cn("node-a", "system:node:node-a"), &agent_files);
    install_ca(&new);
    // The agent's connection predates the rotation and would go on: a restart makes it
    // handshake again, with whatever its files hold now.
    server.terminate().await;
    server.start_again_on_same_port();
    let old_node = old.client_cn("old-node-a", "system:node:node-a");
    if let Ok(channel) = server.tls_channel(&new.ca_file(), Some(&old_node)).await {
        let mut client = hostendpoint_tests::ApiClient::new(channel);
        get(&mut client, "before-rotation")
            .await
            .expect_err("the old CA is no longer trusted");
    }
    let new_admin = new.client_cn("admin", ADMIN_CN);
    let mut admin = server.tls_client(&new.ca_file(), &new_admin).await;
    create(&mut admin, mk_hep("after-rotation", "node-a")).await;
    agent.wait_for_state(has("after-rotation")).await;
}
