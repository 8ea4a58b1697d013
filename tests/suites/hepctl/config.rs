//! `-c/--config`: the server and the TLS files from a CalicoAPIConfig-style file, each
//! overridden by its flag or environment variable; calicoctl's compatibility flags.

use std::path::Path;

use hostendpoint_tests::{
    ServerProcess,
    hepctl::{Run, hepctl, mk_doc, run},
    mtls::MtlsServer,
};

use super::path_arg;

/// The empty store's table.
const EMPTY: &str = "NAME   NODE   \n\n";

/// Writes a config file with these spec lines and returns its path.
fn mk_config(dir: &Path, spec: &[(&str, &str)]) -> String {
    let mut text =
        "apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nmetadata: {}\nspec:\n".to_owned();
    for (key, value) in spec {
        text.push_str(&format!("  {key}: {value}\n"));
    }
    let path = dir.join("hepctl.cfg");
    std::fs::write(&path, text).expect("the config file can be written");
    path_arg(&path)
}

fn hepctl_run(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = hepctl();
    command.args(args);
    for (var, value) in env {
        command.env(var, value);
    }
    run(&mut command, "")
}

#[test]
fn the_config_file_names_the_server_and_flags_or_environment_override_it() {
    let server = ServerProcess::start();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let good = mk_config(dir.path(), &[("server", &server.endpoint())]);
    hepctl_run(&["get", "hep", "-c", &good], &[]).expect(0, EMPTY, "");
    hepctl_run(
        &[
            "get",
            "hep",
            "--config",
            &good,
            "--context",
            "x",
            "--allow-version-mismatch",
        ],
        &[],
    )
    .expect(0, EMPTY, "");
    hepctl_run(&["get", "hep"], &[("HEPCTL_CONFIG", &good)]).expect(0, EMPTY, "");

    let wrong = tempfile::tempdir().expect("a temporary directory");
    let wrong = mk_config(wrong.path(), &[("server", "http://127.0.0.1:1")]);
    hepctl_run(&["get", "hep", "-c", &wrong], &[]).expect(
        1,
        "",
        "cannot connect to 127.0.0.1:1: connection refused\n",
    );
    hepctl_run(
        &["get", "hep", "-c", &wrong, "--server", &server.endpoint()],
        &[],
    )
    .expect(0, EMPTY, "");
    hepctl_run(
        &["get", "hep", "-c", &wrong],
        &[("HEPCTL_SERVER", &server.endpoint())],
    )
    .expect(0, EMPTY, "");
}

#[test]
fn a_config_file_that_cannot_be_used_is_said_as_calicoctl_says_it() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    hepctl_run(&["get", "hep", "-c", "/nonexistent/hepctl.cfg"], &[]).expect(
        1,
        "",
        "Error reading config file: /nonexistent/hepctl.cfg\n",
    );
    let path = dir.path().join("bad.cfg");
    std::fs::write(&path, "apiVersion: projectcalico.org/v3\nkind: Config\n").expect("write");
    hepctl_run(&["get", "hep", "-c", &path_arg(&path)], &[]).expect(
        1,
        "",
        "Failed to create Calico API client: invalid config file: expected kind \
         'CalicoAPIConfig', got 'Config'\n",
    );
    let etcd = mk_config(dir.path(), &[("etcdEndpoints", "http://127.0.0.1:2379")]);
    let run = hepctl_run(&["get", "hep", "-c", &etcd], &[]);
    assert_eq!((run.code, run.stdout.as_str()), (1, ""));
    assert!(
        run.stderr.starts_with(&format!(
            "Failed to create Calico API client: syntax error in {etcd}: failed to parse config \
             as YAML/JSON: spec: unknown field `etcdEndpoints`"
        )),
        "{run:?}"
    );
    // Files are read first, and validate needs no server: neither reads the config file.
    hepctl_run(&["create", "-f", "/nonexistent.yaml", "-c", &etcd], &[]).expect(
        1,
        "",
        "failed to execute command: open /nonexistent.yaml: no such file or directory\n",
    );
}

#[test]
fn the_config_file_gives_the_tls_files() {
    let mtls = MtlsServer::start();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ca = path_arg(&mtls.ca_file());
    let (cert, key) = (path_arg(&mtls.admin.cert), path_arg(&mtls.admin.key));
    let config = mk_config(
        dir.path(),
        &[
            ("server", &mtls.server.endpoint()),
            ("caCertFile", &ca),
            ("certFile", &cert),
            ("keyFile", &key),
        ],
    );
    let mut command = hepctl();
    command.args(["create", "-f", "-", "-c", &config]);
    run(&mut command, &mk_doc("tls-a", "n1")).expect(
        0,
        "Successfully created 1 'HostEndpoint' resource(s)\n",
        "",
    );
    hepctl_run(&["get", "hep", "-o", "name", "-c", &config], &[]).expect(
        0,
        "hostendpoint.projectcalico.org/tls-a\n",
        "",
    );
}
