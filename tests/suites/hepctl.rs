//! `hepctl`, the calicoctl-style CLI, end to end: the real binary against a real server.
//!
//! Output is compared with golden files under `tests/golden/hepctl/`, with the values the
//! server chooses (uid, creationTimestamp, resourceVersion) masked but their quoting kept.
//! Run with `UPDATE_GOLDEN=1` to rewrite the golden files after an intended change.

mod completion;
mod config;
mod files;
mod patch;
mod readme;
mod template;
mod validate;
mod version;
mod watch;

use std::path::Path;

use hostendpoint_tests::{
    ServerProcess, golden,
    hepctl::{Run, hepctl, mk_doc, run},
};
use serde_json::Value;

// === Fixtures ===

/// The spec's typical single object (section 4.3), server metadata included.
const SPEC_SAMPLE: &str = include_str!("../golden/hepctl/spec_sample.yaml");

/// Three host endpoints on two nodes, written to exercise the printers: a numeric protocol
/// given as a string, `*` (which YAML must quote), label values that look like numbers.
const FIXTURES: &str = "\
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: endpoint1
  labels:
    type: database
spec:
  interfaceName: eth0
  node: host1
  expectedIPs: [192.168.0.1, fd00::1]
  profiles: [prof1, prof2]
  ports:
  - {name: some-port, port: 1234, protocol: TCP}
  - {name: dns, port: 53, protocol: \"17\"}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: host1-auto-hep
  labels:
    projectcalico.org/created-by: calico-kube-controllers
  annotations:
    note: \"yes\"
spec:
  interfaceName: \"*\"
  node: host1
  expectedIPs: [10.0.0.5]
  profiles: [projectcalico-default-allow]
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: db-2
  labels:
    version: \"1234\"
spec:
  node: host2
  expectedIPs: [10.0.1.2]
";

/// A minimal host endpoint document with a resourceVersion.
fn mk_doc_at(name: &str, node: &str, resource_version: &str) -> String {
    mk_doc(name, node).replace(
        &format!("  name: {name}\n"),
        &format!("  name: {name}\n  resourceVersion: \"{resource_version}\"\n"),
    )
}

/// A minimal host endpoint document that names a namespace.
fn mk_doc_ns(name: &str, node: &str) -> String {
    mk_doc(name, node).replace(
        &format!("  name: {name}\n"),
        &format!("  name: {name}\n  namespace: default\n"),
    )
}

/// calicoctl's refusal of a document with a namespace.
const NAMESPACED_DOC: &str = "namespace should not be specified for a non-namespaced resource. \
     HostEndpoint is not a namespaced resource";

/// Documents joined as one YAML stream.
fn docs(items: &[String]) -> String {
    items.join("---\n")
}

// === Running hepctl ===

/// hepctl pointed at one server, with no configuration from the environment.
struct Hepctl {
    server: String,
}

impl Hepctl {
    fn new(server: &ServerProcess) -> Self {
        Self {
            server: server.endpoint(),
        }
    }

    /// hepctl pointed at a port where nothing listens: for what must fail before connecting.
    fn offline() -> Self {
        Self {
            server: "http://127.0.0.1:1".into(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, "")
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        run(hepctl().arg("--server").arg(&self.server).args(args), stdin)
    }

    /// `hepctl <command> -f -` with `documents` on stdin.
    fn with_file(&self, command: &str, documents: &str, extra: &[&str]) -> Run {
        let mut args = vec![command, "-f", "-"];
        args.extend(extra);
        self.run_with_stdin(&args, documents)
    }

    /// A host endpoint as `get -o json` prints it.
    fn get_json(&self, name: &str) -> Value {
        let text = self.run(&["get", "hep", name, "-o", "json"]).ok();
        serde_json::from_str(&text).expect("get -o json prints JSON")
    }

    /// The stored resourceVersion of a host endpoint.
    fn resource_version(&self, name: &str) -> String {
        metadata(&self.get_json(name), "resourceVersion")
    }
}

fn metadata(hep: &Value, field: &str) -> String {
    hep["metadata"][field]
        .as_str()
        .unwrap_or_else(|| panic!("metadata.{field} is a string in {hep}"))
        .to_owned()
}

// === Golden files ===

/// Compares `actual` with `tests/golden/hepctl/<name>`, or rewrites it with UPDATE_GOLDEN=1.
fn assert_golden(name: &str, actual: &str) {
    golden::assert_golden("hepctl", name, actual);
}

/// Replaces the values the server chooses with placeholders, keeping their quoting.
fn mask(text: &str) -> String {
    golden::mask(text, &golden::SERVER_CHOSEN)
}

// === Help ===

#[test]
fn top_level_help_matches_golden() {
    let output = hepctl().arg("--help").output().expect("hepctl runs");
    assert!(output.status.success(), "{output:?}");
    assert_golden(
        "help.txt",
        &String::from_utf8(output.stdout).expect("UTF-8 help"),
    );
    for command in [
        "create", "apply", "replace", "delete", "get", "label", "patch", "validate", "version",
        "watch",
    ] {
        let sub = hepctl()
            .args([command, "--help"])
            .output()
            .expect("hepctl runs");
        assert!(sub.status.success() && !sub.stdout.is_empty(), "{command}");
    }
    let watch = hepctl()
        .args(["watch", "--help"])
        .output()
        .expect("hepctl runs");
    let watch = String::from_utf8(watch.stdout).expect("UTF-8 help");
    assert!(
        watch.contains(r#"{"type": "ADDED" | "MODIFIED" | "DELETED", "object""#)
            && watch.contains("[default: ps]"),
        "{watch}"
    );
}

// === get ===

#[test]
fn get_prints_every_output_format_as_calicoctl_does() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);

    // The empty store: a HostEndpointList with `items: []`, and an empty table.
    assert_golden(
        "get-empty.yaml",
        &mask(&cli.run(&["get", "hep", "-o", "yaml"]).ok()),
    );
    assert_golden(
        "get-empty.json",
        &mask(&cli.run(&["get", "hep", "-o", "json"]).ok()),
    );
    assert_eq!(cli.run(&["get", "hep"]).ok(), "NAME   NODE   \n\n");

    cli.with_file("create", FIXTURES, &[]).expect(
        0,
        "Successfully created 3 'HostEndpoint' resource(s)\n",
        "",
    );
    for (golden, args) in [
        ("get-list.ps", &["get", "hep"][..]),
        ("get-list.wide", &["get", "hep", "-o", "wide"]),
        ("get-list.yaml", &["get", "hep", "-o", "yaml"]),
        ("get-list.json", &["get", "hep", "-o", "json"]),
        ("get-list.name", &["get", "hep", "-o", "name"]),
        ("get-list-node.ps", &["get", "hep", "--node", "host1"]),
        (
            "get-list-selector.ps",
            &[
                "get",
                "hep",
                "--selector",
                "type == 'database' || has(version)",
            ],
        ),
        (
            "get-list.custom",
            &["get", "hep", "-o", "custom-columns=IPS,NAME"],
        ),
        ("get-one.ps", &["get", "hep", "endpoint1"]),
        (
            "get-one.wide",
            &["get", "hep", "host1-auto-hep", "-o", "wide"],
        ),
        ("get-one.yaml", &["get", "hep", "endpoint1", "-o", "yaml"]),
        ("get-one.json", &["get", "hep", "endpoint1", "-o", "json"]),
        ("get-two.ps", &["get", "hep", "endpoint1", "db-2"]),
        (
            "get-two.yaml",
            &["get", "hep", "endpoint1", "db-2", "-o", "yaml"],
        ),
        (
            "get-two.json",
            &["get", "hep", "endpoint1", "db-2", "-o", "json"],
        ),
    ] {
        assert_golden(golden, &mask(&cli.run(args).ok()));
    }
}

#[test]
fn get_prints_what_it_found_then_fails_for_missing_names() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    cli.with_file("create", &mk_doc("a", "n1"), &[]).ok();
    let run = cli.run(&["get", "hep", "a", "nope", "-o", "yaml"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with("apiVersion: projectcalico.org/v3\n"),
        "one result prints bare: {run:?}"
    );
    assert_eq!(
        run.stderr,
        "resource does not exist: HostEndpoint(nope) with error: <nil>\n"
    );
    cli.run(&["get", "hep", "nope", "-o", "json"]).expect(
        1,
        "null",
        "resource does not exist: HostEndpoint(nope) with error: <nil>\n",
    );
    cli.run(&["get", "hep", "-o", "xml"])
        .expect(1, "", "unrecognized output format 'xml'\n");
}

#[test]
fn kinds_are_case_insensitive_and_other_kinds_are_refused() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    cli.with_file("create", &mk_doc("a", "n1"), &[]).ok();
    for kind in ["hostendpoint", "HostEndpoints", "HEP", "Heps"] {
        assert_eq!(
            cli.run(&["get", kind, "-o", "name"]).ok(),
            "hostendpoint.projectcalico.org/a\n"
        );
    }
    cli.run(&["get", "policy"]).expect(
        1,
        "",
        "failed to get resources: resource type 'policy' is not supported\n",
    );
    cli.run(&["delete", "hostendpoint-x", "a"]).expect(
        1,
        "",
        "resource type 'hostendpoint-x' is not supported\n",
    );
}

// === The spec's sample ===

#[test]
fn the_spec_sample_round_trips_with_server_metadata() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    let server_lines = ["creationTimestamp:", "resourceVersion:", "uid:"];
    let input: String = SPEC_SAMPLE
        .lines()
        .filter(|line| {
            !server_lines
                .iter()
                .any(|s| line.trim_start().starts_with(s))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    cli.with_file("create", &input, &[]).expect(
        0,
        "Successfully created 1 'HostEndpoint' resource(s)\n",
        "",
    );

    let stored = cli.get_json("endpoint1");
    let (uid, created, rv) = (
        metadata(&stored, "uid"),
        metadata(&stored, "creationTimestamp"),
        metadata(&stored, "resourceVersion"),
    );
    let expected = SPEC_SAMPLE
        .replace("2024-05-01T10:00:00Z", &created)
        .replace(
            "resourceVersion: \"1234\"",
            &format!("resourceVersion: \"{rv}\""),
        )
        .replace("6f1c2b9e-4d0a-4c8e-9a57-1f0e2d3c4b5a", &uid);
    let printed = cli.run(&["get", "hep", "endpoint1", "-o", "yaml"]).ok();
    assert_eq!(printed, expected);

    // The spec's own server metadata is never taken: its resourceVersion is stale...
    cli.with_file("apply", SPEC_SAMPLE, &[]).expect(
        1,
        "",
        "failed to apply 'HostEndpoint' resource: [update conflict: HostEndpoint(endpoint1)]\n",
    );
    // ...and with the current one the update goes through, keeping uid and creation time.
    let edited = printed.replace("prof2", "prof3");
    cli.with_file("apply", &edited, &[]).expect(
        0,
        "Successfully applied 1 'HostEndpoint' resource(s)\n",
        "",
    );
    let after = cli.get_json("endpoint1");
    assert_eq!(metadata(&after, "uid"), uid);
    assert_eq!(metadata(&after, "creationTimestamp"), created);
    assert_eq!(after["spec"]["profiles"][1], "prof3");
}

// === create, apply, replace, delete ===

#[test]
fn create_reports_success_failure_and_partial_success_as_calicoctl() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    let (a, b) = (mk_doc("a", "n1"), mk_doc("b", "n1"));
    cli.with_file("create", &docs(&[a.clone(), b.clone()]), &[])
        .expect(0, "Successfully created 2 'HostEndpoint' resource(s)\n", "");
    cli.with_file("create", &a, &[]).expect(
        1,
        "",
        "failed to create 'HostEndpoint' resource: [resource already exists: HostEndpoint(a)]\n",
    );
    cli.with_file("create", &docs(&[a.clone(), b.clone()]), &[])
        .expect(
            1,
            "",
            "failed to create any 'HostEndpoint' resources: [resource already exists: \
         HostEndpoint(a) resource already exists: HostEndpoint(b)]\n",
        );
    cli.with_file("create", &docs(&[a.clone(), b.clone()]), &["--skip-exists"])
        .expect(0, "Successfully created 2 'HostEndpoint' resource(s)\n", "");

    let (c, d) = (mk_doc("c", "n1"), mk_doc("d", "n1"));
    cli.with_file("create", &docs(&[c, a.clone(), d]), &[])
        .expect(
            1,
            "Partial success: created the first 2 out of 3 'HostEndpoint' resources:\n",
            "hit error: [resource already exists: HostEndpoint(a)]\n",
        );

    cli.with_file("create", &mk_doc_at("e", "n1", "5"), &[])
        .expect(
            1,
            "",
            "failed to create 'HostEndpoint' resource: [error with field Metadata.ResourceVersion \
         = '5' (field must not be set for a Create request)]\n",
        );
    let invalid = mk_doc("f", "Node_1");
    let run = cli.with_file("create", &invalid, &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("failed to create 'HostEndpoint' resource: [error with field spec.node ("),
        "{run:?}"
    );
    cli.with_file("create", "# nothing\n", &[])
        .expect(1, "", "no resources specified in file -\n");
}

#[test]
fn apply_creates_then_updates_and_honours_resource_versions() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    cli.with_file("apply", &mk_doc("a", "n1"), &[]).expect(
        0,
        "Successfully applied 1 'HostEndpoint' resource(s)\n",
        "",
    );
    let rv0 = cli.resource_version("a");
    let uid = metadata(&cli.get_json("a"), "uid");

    // Without a resourceVersion the update succeeds whatever the stored version.
    cli.with_file("apply", &mk_doc("a", "n2"), &[]).expect(
        0,
        "Successfully applied 1 'HostEndpoint' resource(s)\n",
        "",
    );
    let rv1 = cli.resource_version("a");
    assert_ne!(rv0, rv1);

    // A stale one is an update conflict, which is not retried.
    cli.with_file("apply", &mk_doc_at("a", "n3", &rv0), &[])
        .expect(
            1,
            "",
            "failed to apply 'HostEndpoint' resource: [update conflict: HostEndpoint(a)]\n",
        );
    assert_eq!(cli.get_json("a")["spec"]["node"], "n2");

    // The current one succeeds; uid never changes.
    cli.with_file("apply", &mk_doc_at("a", "n3", &rv1), &[])
        .expect(0, "Successfully applied 1 'HostEndpoint' resource(s)\n", "");
    let after = cli.get_json("a");
    assert_eq!(after["spec"]["node"], "n3");
    assert_eq!(metadata(&after, "uid"), uid);

    // Failures are collected: the others are still applied.
    cli.with_file(
        "apply",
        &docs(&[
            mk_doc_at("a", "n4", &rv0),
            mk_doc("b", "n1"),
            mk_doc("c", "n1"),
        ]),
        &[],
    )
    .expect(
        1,
        "Partial success: applied the first 2 out of 3 'HostEndpoint' resources:\n",
        "hit error(s): [update conflict: HostEndpoint(a)]\n",
    );
}

/// calicoctl v3.32.0's replace goes on after a failure, reports the last one, and counts
/// every document it sent (failed ones too) among "the first N".
#[test]
fn replace_goes_on_after_a_bad_document_and_reports_it_as_calicoctl() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    let missing = "hit error: resource does not exist: HostEndpoint(missing) with error: <nil>\n";
    cli.with_file("replace", &mk_doc("missing", "n1"), &[])
        .expect(
            1,
            "Partial success: replaced the first 1 out of 1 'HostEndpoint' resources:\n",
            missing,
        );
    cli.with_file(
        "create",
        &docs(&[mk_doc("a", "n1"), mk_doc("c", "n1")]),
        &[],
    )
    .ok();
    let run = cli.with_file(
        "replace",
        &docs(&[
            mk_doc("a", "n2"),
            mk_doc("missing", "n2"),
            mk_doc("c", "n2"),
        ]),
        &[],
    );
    assert_eq!(run.code, 1);
    golden::assert_calicoctl("replace-partial.stdout", &run.stdout);
    golden::assert_calicoctl("replace-partial.stderr", &run.stderr);
    assert_eq!(cli.get_json("a")["spec"]["node"], "n2");
    assert_eq!(
        cli.get_json("c")["spec"]["node"],
        "n2",
        "the document after the bad one is replaced too"
    );

    let rv = cli.resource_version("c");
    cli.with_file(
        "replace",
        &docs(&[mk_doc("a", "n3"), mk_doc_at("c", "n3", &rv)]),
        &[],
    )
    .expect(
        0,
        "Successfully replaced 2 'HostEndpoint' resource(s)\n",
        "",
    );
    cli.with_file("replace", &mk_doc_at("c", "n4", &rv), &[])
        .expect(
            1,
            "Partial success: replaced the first 1 out of 1 'HostEndpoint' resources:\n",
            "hit error: update conflict: HostEndpoint(c)\n",
        );
    // A namespace is refused before any call, so it is not counted.
    cli.with_file("replace", &mk_doc_ns("a", "n5"), &[]).expect(
        1,
        "",
        &format!("failed to replace 'HostEndpoint' resource: {NAMESPACED_DOC}\n"),
    );
}

#[test]
fn delete_by_name_and_by_file_with_calicoctl_messages() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    let names = ["a", "b", "c", "d"];
    let all: Vec<String> = names.iter().map(|n| mk_doc(n, "n1")).collect();
    cli.with_file("create", &docs(&all), &[]).ok();

    cli.run(&["delete", "hep", "a", "b"]).expect(
        0,
        "Successfully deleted 2 'HostEndpoint' resource(s)\n",
        "",
    );
    cli.run(&["delete", "hep", "a"]).expect(
        1,
        "",
        "Failed to delete 'HostEndpoint' resource: resource does not exist: HostEndpoint(a) \
         with error: <nil>\n\n",
    );
    cli.run(&["delete", "heps", "a", "--skip-not-exists"])
        .expect(0, "Successfully deleted 1 'HostEndpoint' resource(s)\n", "");

    // From a file, the document's resourceVersion is a precondition.
    let rv = cli.resource_version("c");
    cli.with_file("apply", &mk_doc("c", "n2"), &[]).ok();
    cli.with_file("delete", &mk_doc_at("c", "n1", &rv), &[])
        .expect(
            1,
            "",
            "Failed to delete 'HostEndpoint' resource: update conflict: HostEndpoint(c)\n\n",
        );
    let current = cli.resource_version("c");
    cli.with_file("delete", &mk_doc_at("c", "n1", &current), &[])
        .expect(0, "Successfully deleted 1 'HostEndpoint' resource(s)\n", "");

    cli.run(&["delete", "hep", "d", "nope"]).expect(
        1,
        "Successfully deleted 1 'HostEndpoint' resource(s)\n",
        "Failed to delete 'HostEndpoint' resource: resource does not exist: HostEndpoint(nope) \
         with error: <nil>\n\n",
    );
    assert_eq!(cli.run(&["get", "hep", "-o", "name"]).ok(), "");
}

// === Files ===

#[test]
fn strict_parsing_names_the_document_and_the_field() {
    // Files are read before connecting: no server is needed to refuse them.
    let cli = Hepctl::offline();
    let good = mk_doc("a", "n1");
    let cases = [
        (
            good.replace("node: n1", "nodes: n1"),
            "field in document is not recognized or is in the wrong location: spec.nodes",
        ),
        (
            good.replace("kind: HostEndpoint", "kind: NetworkPolicy"),
            "kind: unknown resource type (NetworkPolicy) and/or version (projectcalico.org/v3)",
        ),
        (
            good.replace("projectcalico.org/v3", "projectcalico.org/v1"),
            "apiVersion: unknown resource type (HostEndpoint) and/or version (projectcalico.org/v1)",
        ),
    ];
    for command in ["create", "apply", "replace", "delete"] {
        for (bad, message) in &cases {
            let stream = docs(&[good.clone(), bad.clone()]);
            cli.with_file(command, &stream, &[]).expect(
                1,
                "",
                &format!("failed to execute command: document 2: {message}\n"),
            );
        }
    }
    cli.with_file(
        "create",
        &good.replace("  interfaceName: eth0\n", "  ports:\n  - port: \"80\"\n"),
        &[],
    )
    .expect(
        1,
        "",
        "failed to execute command: document 1: spec.ports[0].port: invalid type: string \
         \"80\", expected u32\n",
    );
    let missing = cli.run(&["create", "-f", "/nonexistent/hep.yaml"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .starts_with("failed to execute command: open /nonexistent/hep.yaml: "),
        "{missing:?}"
    );
}

#[test]
fn files_may_be_json_lists_or_several_documents() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("the file can be written");
        path
    };
    let json = write(
        "heps.json",
        r#"{"kind": "HostEndpoint", "apiVersion": "projectcalico.org/v3",
            "metadata": {"name": "j1"}, "spec": {"node": "n1", "expectedIPs": ["10.0.0.1"],
            "ports": [{"name": "web", "protocol": 6, "port": 80}]}}"#,
    );
    let list = write(
        "list.yaml",
        "apiVersion: projectcalico.org/v3\nkind: HostEndpointList\nitems:\n\
         - metadata: {name: l1}\n  spec: {node: n1, interfaceName: eth1}\n\
         - metadata: {name: l2}\n  spec: {node: n2, interfaceName: eth1}\n",
    );
    let sequence = write(
        "sequence.yaml",
        &format!("- {}", mk_doc("s1", "n1").replace('\n', "\n  ").trim_end()),
    );
    for (path, count) in [(&json, 1), (&list, 2), (&sequence, 1)] {
        let path = path_arg(path);
        cli.run(&["create", "-f", &path]).expect(
            0,
            &format!("Successfully created {count} 'HostEndpoint' resource(s)\n"),
            "",
        );
    }
    assert_eq!(
        cli.run(&["get", "hep", "-o", "name"]).ok(),
        "hostendpoint.projectcalico.org/j1\nhostendpoint.projectcalico.org/l1\n\
         hostendpoint.projectcalico.org/l2\nhostendpoint.projectcalico.org/s1\n"
    );
    // A protocol written as a number reads back as a number.
    assert_eq!(cli.get_json("j1")["spec"]["ports"][0]["protocol"], 6);
    cli.run(&["delete", "-f", &path_arg(&list)]).expect(
        0,
        "Successfully deleted 2 'HostEndpoint' resource(s)\n",
        "",
    );
}

fn path_arg(path: &Path) -> String {
    path.to_str().expect("temporary paths are UTF-8").to_owned()
}

// === label ===

#[test]
fn label_sets_updates_and_removes_with_calicoctl_messages() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    cli.with_file("create", &mk_doc("a", "n1"), &[]).ok();
    let label = |args: &[&str]| {
        let mut all = vec!["label"];
        all.extend(args);
        cli.run(&all)
    };
    label(&["hep", "a", "env=prod"]).expect(0, "Successfully set label env on hep a\n", "");
    label(&["hep", "a", "env=dev"]).expect(
        1,
        "",
        "failed to update label of hep a, key env is already present. please use \
         '--overwrite' to set a new value\n",
    );
    label(&["hostendpoint", "a", "env=dev", "--overwrite"]).expect(
        0,
        "Successfully updated label env on hostendpoint a\n",
        "",
    );
    assert_eq!(cli.get_json("a")["metadata"]["labels"]["env"], "dev");
    label(&["hep", "a", "env", "--remove"]).expect(
        0,
        "Successfully removed label env from hep a\n",
        "",
    );
    assert!(cli.get_json("a")["metadata"].get("labels").is_none());
    label(&["hep", "a", "env", "--remove"]).expect(
        1,
        "",
        "cannot remove label of hep a, key env does not exist\n",
    );
    label(&["hep", "nope", "k=v"]).expect(1, "", "hep nope not found\n");
    // The first `=` ends the key; the value keeps the rest, which Calico's rules for label
    // values then refuse (no `=` in them).
    label(&["hep", "a", "k=v=w"]).expect(
        1,
        "",
        "failed to update hep a, label not changed: error with field metadata.labels[\"k\"] \
         (value 'v=w' must be empty or consist of alphanumeric characters, '-', '_' or '.', \
         and must start and end with an alphanumeric character)\n",
    );
    label(&["hep", "a", "k"]).expect(1, "", "invalid label k\n");
    let bad_key = label(&["hep", "a", "bad key=v"]);
    assert_eq!(bad_key.code, 1);
    assert!(
        bad_key
            .stderr
            .starts_with("failed to update hep a, label not changed: error with field"),
        "{bad_key:?}"
    );
}

// === Server address and unsupported options ===

#[test]
fn the_server_comes_from_the_flag_or_the_environment() {
    let server = ServerProcess::start();
    let host_port = server.addr.to_string();
    let empty = "NAME   NODE   \n\n";
    let from_env = hepctl()
        .env("HEPCTL_SERVER", &host_port)
        .args(["get", "hep"])
        .output()
        .expect("runs");
    assert_eq!(
        String::from_utf8_lossy(&from_env.stdout),
        empty,
        "{from_env:?}"
    );
    let flag_wins = hepctl()
        .env("HEPCTL_SERVER", "127.0.0.1:1")
        .args(["get", "hep", "--server", &server.endpoint()])
        .output()
        .expect("runs");
    assert_eq!(
        String::from_utf8_lossy(&flag_wins.stdout),
        empty,
        "{flag_wins:?}"
    );

    let unreachable = Hepctl::offline().run(&["get", "hep"]);
    unreachable.expect(1, "", "cannot connect to 127.0.0.1:1: connection refused\n");
}

#[test]
fn namespaces_fail_each_resource_as_in_calicoctl() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    let not_namespaced = "HostEndpoint is not namespaced";
    for args in [
        &["get", "hep", "-n", "default"][..],
        &["get", "hep", "--all-namespaces"],
    ] {
        cli.run(args).expect(1, "", &format!("{not_namespaced}\n"));
    }
    cli.run(&["get", "hep", "a", "b", "-n", "x", "-o", "json"])
        .expect(1, "null", &format!("{not_namespaced}\n{not_namespaced}\n"));
    cli.run(&["delete", "hep", "a", "--namespace", "x"]).expect(
        1,
        "",
        &format!("Failed to delete 'HostEndpoint' resource: {not_namespaced}\n\n"),
    );
    cli.with_file("create", &mk_doc("a", "n1"), &["-n", "x"])
        .expect(
            1,
            "",
            &format!("failed to create 'HostEndpoint' resource: [{not_namespaced}]\n"),
        );

    // A namespace in one document fails that document; the others are still written.
    let stream = docs(&[mk_doc("a", "n1"), mk_doc_ns("b", "n1"), mk_doc("c", "n1")]);
    cli.with_file("create", &stream, &[]).expect(
        1,
        "Partial success: created the first 2 out of 3 'HostEndpoint' resources:\n",
        &format!("hit error: [{NAMESPACED_DOC}]\n"),
    );
    cli.with_file("apply", &stream, &[]).expect(
        1,
        "Partial success: applied the first 2 out of 3 'HostEndpoint' resources:\n",
        &format!("hit error(s): [{NAMESPACED_DOC}]\n"),
    );
    cli.with_file("delete", &stream, &[]).expect(
        1,
        "Successfully deleted 2 'HostEndpoint' resource(s)\n",
        &format!("Failed to delete 'HostEndpoint' resource: {NAMESPACED_DOC}\n\n"),
    );
    assert_eq!(cli.run(&["get", "hep", "-o", "name"]).ok(), "");

    // label reads through calicoctl's get, which finds nothing in a namespace.
    cli.with_file("create", &mk_doc("a", "n1"), &[]).ok();
    cli.run(&["label", "hep", "a", "k=v", "-n", "x"])
        .expect(1, "", "hep a not found\n");
}

// === Selectors ===

#[test]
fn selectors_filter_listings_and_are_checked_before_use() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    cli.with_file("create", FIXTURES, &[]).ok();
    let names = |args: &[&str]| {
        let mut all = vec!["get", "hep", "-o", "name"];
        all.extend(args);
        cli.run(&all).ok()
    };
    assert_eq!(
        names(&["--selector", "version == '1234'"]),
        "hostendpoint.projectcalico.org/db-2\n"
    );
    assert_eq!(
        names(&["--selector", "!has(version)", "--node", "host1"]),
        "hostendpoint.projectcalico.org/endpoint1\nhostendpoint.projectcalico.org/host1-auto-hep\n"
    );
    assert_eq!(names(&["--selector", "type == 'web'"]), "");
    for args in [
        &["get", "hep", "--selector", "type = 'db'"][..],
        &["watch", "hep", "--selector", "has (type)"],
    ] {
        let run = cli.run(args);
        assert_eq!((run.code, run.stdout.as_str()), (1, ""), "{run:?}");
        assert!(
            run.stderr.starts_with("invalid selector at position "),
            "{run:?}"
        );
    }
}
