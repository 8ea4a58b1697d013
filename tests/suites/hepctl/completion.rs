//! Shell completion end to end: the script `hepctl completion bash` prints, sourced in a real
//! bash, completes host endpoint names from a real server; hepctl asked the way that script
//! asks (clap_complete's `COMPLETE=bash hepctl -- <words>`) answers nothing, and at once,
//! when no server answers.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use hostendpoint_tests::{
    ServerProcess,
    hepctl::{finish, hepctl, mk_doc, run, without_hepctl_env},
    mtls::{MtlsServer, path_str},
    pki::CertFiles,
    wait_for,
};

use super::{Hepctl, docs};

/// How long hepctl gives a server to list the names (`SERVER_TIMEOUT` in
/// `commands/completion.rs`).
const SERVER_TIMEOUT: Duration = Duration::from_secs(2);

/// The candidates bash offers at a TAB after `words` (the last one is the word under the
/// cursor), from the script `hepctl completion bash` prints, with `env` set.
fn bash_tab(words: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    // What bash's programmable completion sets before calling the function `complete -F`
    // registered: the words, the cursor's word, COMP_TYPE 9 (a plain TAB).
    let script = r#"
        source <("$HEPCTL" completion bash)
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_TYPE=9
        _clap_complete_hepctl hepctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let output = without_hepctl_env(&mut Command::new("bash"))
        .args(["-c", script, "bash"])
        .args(words)
        .env("HEPCTL", hepctl().get_program())
        .envs(env.iter().copied())
        .output()
        .expect("bash runs");
    assert!(output.status.success(), "bash: {output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "", "bash's stderr");
    String::from_utf8(output.stdout)
        .expect("UTF-8 candidates")
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The words of a line: hepctl, then `parts`.
fn line<'a>(parts: &[&[&'a str]]) -> Vec<&'a str> {
    [&[&["hepctl"][..]], parts].concat().concat()
}

/// The candidates that are not options (clap offers the options too when the word is
/// empty).
fn values(candidates: &[String]) -> Vec<&str> {
    candidates
        .iter()
        .map(String::as_str)
        .filter(|c| !c.starts_with('-'))
        .collect()
}

/// hepctl started as bash's completion function starts it for the line `words`, the cursor
/// on the last word.
fn spawn_completion(words: &[&str]) -> Child {
    let index = words.len().to_string();
    hepctl()
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", index)
        .env("_CLAP_IFS", "\n")
        .env("RUST_BACKTRACE", "0")
        .args(["--", "hepctl"])
        .args(words)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hepctl starts")
}

/// Waits up to `within` for a completion to end, and asserts it printed nothing and exited 0.
async fn assert_silent_within(mut child: Child, within: Duration, what: &str) {
    let started = Instant::now();
    wait_for(what, within, || {
        let exited = child.try_wait().ok().flatten();
        async move { exited }
    })
    .await;
    finish(child).expect(0, "", "");
    assert!(started.elapsed() < within, "{what}");
}

#[test]
fn completion_prints_the_script_the_shell_registers() {
    for shell in ["bash", "zsh", "fish"] {
        let script = hepctl().args(["completion", shell]).output().expect("runs");
        assert!(script.status.success(), "{shell}: {script:?}");
        let by_env = hepctl().env("COMPLETE", shell).output().expect("runs");
        assert_eq!(
            String::from_utf8_lossy(&script.stdout),
            String::from_utf8_lossy(&by_env.stdout),
            "{shell}: the same script as clap_complete's COMPLETE={shell} hepctl"
        );
        let program = hepctl().get_program().to_string_lossy().into_owned();
        assert!(
            String::from_utf8_lossy(&script.stdout).contains(&program),
            "{shell}: the script calls this hepctl back"
        );
    }
    let unknown = hepctl()
        .args(["completion", "tcsh"])
        .output()
        .expect("runs");
    assert_eq!(
        unknown.status.code(),
        Some(1),
        "usage errors exit 1 as in calicoctl"
    );
}

#[test]
fn tab_completes_names_from_the_server_on_the_line_or_in_the_environment() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    let names = ["db-2", "endpoint1", "endpoint2"];
    let created = names.map(|name| mk_doc(name, "host1"));
    cli.with_file("create", &docs(&created), &[]).ok();
    let flag = ["--server", cli.server.as_str()];

    assert_eq!(
        values(&bash_tab(&line(&[&flag, &["get", "hep", ""]]), &[])),
        names
    );
    assert_eq!(
        bash_tab(&line(&[&flag, &["get", "hep", "endpoint1", "e"]]), &[]),
        ["endpoint1", "endpoint2"]
    );
    assert_eq!(
        bash_tab(&line(&[&flag, &["delete", "hostendpoints", "end"]]), &[]),
        ["endpoint1", "endpoint2"]
    );
    assert_eq!(
        bash_tab(&line(&[&flag, &["label", "HEP", "d"]]), &[]),
        ["db-2"]
    );
    assert_eq!(
        bash_tab(&line(&[&flag, &["get", "h"]]), &[]),
        ["hostendpoint", "hostendpoints", "hep", "heps"],
        "resource types complete too"
    );
    // The server from the environment, and the flag after the subcommand.
    let host_port = server.addr.to_string();
    assert_eq!(
        bash_tab(
            &["hepctl", "label", "hep", "endpoint"],
            &[("HEPCTL_SERVER", &host_port)]
        ),
        ["endpoint1", "endpoint2"]
    );
    assert_eq!(
        bash_tab(
            &["hepctl", "delete", "hep", "--server", &cli.server, "db"],
            &[("HEPCTL_SERVER", "127.0.0.1:1")]
        ),
        ["db-2"]
    );
}

#[test]
fn tab_completes_with_the_tls_files_of_the_line_or_the_environment() {
    let mtls = MtlsServer::start();
    let server = mtls.server.endpoint();
    let ca = mtls.ca_file();
    let flags = |cert: &CertFiles| -> Vec<String> {
        [
            ("--ca-cert-file", ca.as_path()),
            ("--cert-file", &cert.cert),
            ("--key-file", &cert.key),
        ]
        .iter()
        .flat_map(|(flag, path)| [(*flag).to_owned(), path_str(path).to_owned()])
        .collect()
    };
    let admin = flags(&mtls.admin);
    let admin: Vec<&str> = admin.iter().map(String::as_str).collect();
    let created = run(
        hepctl()
            .args(["--server", &server, "create", "-f", "-"])
            .args(&admin),
        &docs(&[mk_doc("on-host1", "host1"), mk_doc("on-host2", "host2")]),
    );
    created.expect(0, "Successfully created 2 'HostEndpoint' resource(s)\n", "");

    let get_on = ["get", "hep", "on"];
    let to_server = ["--server", server.as_str()];
    assert_eq!(
        bash_tab(&line(&[&to_server, &admin, &get_on]), &[]),
        ["on-host1", "on-host2"]
    );
    // A node's certificate, given in the environment, sees its own host endpoints only.
    let node = mtls.node("host1");
    let env = [
        ("HEPCTL_CA_CERT_FILE", path_str(&ca)),
        ("HEPCTL_CERT_FILE", path_str(&node.cert)),
        ("HEPCTL_KEY_FILE", path_str(&node.key)),
    ];
    assert_eq!(bash_tab(&line(&[&to_server, &get_on]), &env), ["on-host1"]);
    // Without a client certificate the server refuses: nothing to offer, nothing said.
    assert_eq!(
        bash_tab(
            &line(&[&to_server, &["--ca-cert-file", path_str(&ca)], &get_on]),
            &[]
        ),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_completion_is_silent_and_quick_when_no_server_answers() {
    // A refused connection: answered at once, well inside the server's time.
    let refused = spawn_completion(&["--server", "127.0.0.1:1", "get", "hep", "e"]);
    assert_silent_within(
        refused,
        SERVER_TIMEOUT,
        "a completion against a refused port",
    )
    .await;
    // A port that accepts connections but never answers: the completion gives up on time.
    let silent = TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = silent.local_addr().expect("its address").to_string();
    let stalled = spawn_completion(&["--server", &address, "delete", "hep", "e"]);
    assert_silent_within(
        stalled,
        SERVER_TIMEOUT + Duration::from_secs(3),
        "a completion against a server that never answers",
    )
    .await;
}
