//! `hepctl validate`: documents checked offline with the server's own rules.

use hostendpoint_tests::{ServerProcess, golden::assert_calicoctl, hepctl::mk_doc};

use super::{Hepctl, docs, path_arg};

/// A document whose node breaks Calico's name rule.
fn mk_bad_doc(name: &str) -> String {
    mk_doc(name, "Node_1")
}

#[test]
fn validate_checks_documents_without_a_server_as_calicoctl_reports() {
    let cli = Hepctl::offline();
    let run = cli.with_file(
        "validate",
        &docs(&[mk_doc("a", "n1"), mk_doc("b", "n1")]),
        &[],
    );
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    assert_calicoctl("validate-success.stdout", &run.stdout);

    let mixed = docs(&[mk_doc("a", "n1"), mk_bad_doc("b"), mk_doc("c", "n1")]);
    let run = cli.with_file("validate", &mixed, &[]);
    assert_eq!(run.code, 1);
    assert_calicoctl("validate-partial.stdout", &run.stdout);
    assert!(
        run.stderr
            .starts_with("hit error(s): [error with field spec.node ("),
        "{run:?}"
    );

    let run = cli.with_file("validate", &mk_bad_doc("b"), &[]);
    assert_eq!((run.code, run.stdout.as_str()), (1, ""));
    assert!(
        run.stderr.starts_with(
            "failed to validate 'HostEndpoint' resource: [error with field spec.node ("
        ),
        "{run:?}"
    );
    let namespaced = mk_doc("a", "n1").replace("  name: a\n", "  name: a\n  namespace: x\n");
    cli.with_file("validate", &namespaced, &[]).expect(
        1,
        "",
        "failed to validate 'HostEndpoint' resource: [namespace should not be specified for a \
         non-namespaced resource. HostEndpoint is not a namespaced resource]\n",
    );

    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("a.yaml"), mk_doc("a", "n1")).expect("write");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    std::fs::write(dir.path().join("sub/b.yaml"), mk_bad_doc("b")).expect("write");
    cli.run(&["validate", "-f", &path_arg(dir.path())]).expect(
        0,
        "Successfully validated 1 'HostEndpoint' resource(s)\n",
        "",
    );
    let recursive = cli.run(&["validate", "-f", &path_arg(dir.path()), "-R"]);
    assert_eq!(recursive.code, 1, "{recursive:?}");
}

/// The verdict and the words are the server's: what validate refuses, create refuses alike.
#[test]
fn validate_agrees_with_the_server() {
    let server = ServerProcess::start();
    let online = Hepctl::new(&server);
    let bad = mk_doc("x", "n1").replace("interfaceName: eth0", "interfaceName: \"eth0:1\"")
        + "  expectedIPs: [10.0.0.0/8]\n";
    let offline = Hepctl::offline().with_file("validate", &bad, &[]);
    let created = online.with_file("create", &bad, &[]);
    assert_eq!(offline.code, 1);
    assert_eq!(
        offline.stderr.replace("validate", "create"),
        created.stderr,
        "the same violations in the same words"
    );
    assert!(
        offline.stderr.contains("spec.expectedIPs[0]"),
        "{offline:?}"
    );
}
