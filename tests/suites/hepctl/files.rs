//! `-f DIR` with `-R` and `--skip-empty` for every command that reads files, `get -f FILE`,
//! and `get --export`.

use std::path::Path;

use hostendpoint_tests::{ServerProcess, golden::assert_calicoctl, hepctl::mk_doc};

use super::{FIXTURES, Hepctl, mask, path_arg};

/// Writes `text` to `dir/name`, creating the directories between.
fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, text).expect("the file can be written");
}

/// A directory of manifests: two files at the top (one JSON), one that is no manifest, and
/// one in a subdirectory.
fn manifests_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    write(dir.path(), "b.yaml", &mk_doc("b", "n1"));
    write(
        dir.path(),
        "a.json",
        r#"{"kind": "HostEndpoint", "apiVersion": "projectcalico.org/v3",
            "metadata": {"name": "a"}, "spec": {"node": "n1", "interfaceName": "eth0"}}"#,
    );
    write(dir.path(), "README.txt", "not a manifest");
    write(
        dir.path(),
        "sub/c.YML",
        &format!("{}---\n{}", mk_doc("c", "n1"), mk_doc("d", "n1")),
    );
    dir
}

#[test]
fn a_directory_of_manifests_is_read_by_every_command() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    let dir = manifests_dir();
    let dir_arg = path_arg(dir.path());
    let names = |cli: &Hepctl| cli.run(&["get", "hep", "-o", "name"]).ok();

    cli.run(&["create", "-f", &dir_arg]).expect(
        0,
        "Successfully created 2 'HostEndpoint' resource(s)\n",
        "",
    );
    assert_eq!(
        names(&cli),
        "hostendpoint.projectcalico.org/a\nhostendpoint.projectcalico.org/b\n",
        "without -R, subdirectories are left alone"
    );
    let run = cli.run(&["create", "-f", &dir_arg, "-R", "--skip-exists"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    assert_calicoctl("dir-created.stdout", &run.stdout);

    cli.run(&["apply", "-f", &dir_arg, "--recursive"]).expect(
        0,
        "Successfully applied 4 'HostEndpoint' resource(s)\n",
        "",
    );
    cli.run(&["replace", "-f", &dir_arg, "-R"]).expect(
        0,
        "Successfully replaced 4 'HostEndpoint' resource(s)\n",
        "",
    );
    // get -f prints each named object; the order is the directory's (name order, depth first).
    cli.run(&["get", "-f", &dir_arg, "-R", "-o", "name"])
        .expect(
            0,
            "hostendpoint.projectcalico.org/a\nhostendpoint.projectcalico.org/b\n\
         hostendpoint.projectcalico.org/c\nhostendpoint.projectcalico.org/d\n",
            "",
        );
    cli.run(&["delete", "-f", &dir_arg, "-R"]).expect(
        0,
        "Successfully deleted 4 'HostEndpoint' resource(s)\n",
        "",
    );
    assert_eq!(names(&cli), "");
}

#[test]
fn empty_files_and_directories_fail_unless_skipped_and_bad_files_stop_everything() {
    // All of this is decided before connecting: no server is needed.
    let cli = Hepctl::offline();
    let dir = manifests_dir();
    let dir_arg = path_arg(dir.path());
    write(dir.path(), "b-empty.yaml", "# nothing here\n");
    let run = cli.run(&["create", "-f", &dir_arg]);
    assert_eq!((run.code, run.stdout.as_str()), (1, ""), "{run:?}");
    assert_calicoctl(
        "dir-empty-file.stderr",
        &run.stderr.replace(&dir_arg, "<DIR>"),
    );

    let empty = tempfile::tempdir().expect("a temporary directory");
    let empty_arg = path_arg(empty.path());
    for command in ["create", "apply", "replace", "delete"] {
        let run = cli.run(&[command, "-f", &empty_arg]);
        assert_eq!((run.code, run.stdout.as_str()), (1, ""), "{run:?}");
        assert_calicoctl("dir-empty.stderr", &run.stderr.replace(&empty_arg, "<DIR>"));
        let skipped = cli.run(&[command, "-f", &empty_arg, "--skip-empty"]);
        assert_eq!(
            (skipped.code, skipped.stderr.as_str()),
            (0, ""),
            "{skipped:?}"
        );
        assert_calicoctl("skip-empty.stdout", &skipped.stdout);
    }
    cli.run_with_stdin(&["apply", "-f", "-", "--skip-empty"], "---\n")
        .expect(0, "No resources specified\n", "");

    // A file that does not parse ends the command before anything is sent.
    write(
        dir.path(),
        "sub/bad.yaml",
        &mk_doc("e", "n1").replace("node:", "nodes:"),
    );
    cli.run(&["apply", "-f", &dir_arg, "-R", "--skip-empty"])
        .expect(
            1,
            "",
            &format!(
                "failed to execute command: {dir_arg}/sub/bad.yaml: document 1: field in document \
             is not recognized or is in the wrong location: spec.nodes\n"
            ),
        );
}

#[test]
fn get_reads_the_names_from_a_file() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    cli.with_file("create", FIXTURES, &[]).ok();
    let dir = tempfile::tempdir().expect("a temporary directory");
    write(
        dir.path(),
        "two.yaml",
        &format!("{}---\n{}", mk_doc("db-2", "x"), mk_doc("endpoint1", "x")),
    );
    let file = path_arg(&dir.path().join("two.yaml"));
    cli.run(&["get", "-f", &file, "-o", "wide"]).expect(
        0,
        "NAME   NODE    INTERFACE   IPS        PROFILES   \ndb-2   host2               10.0.1.2              \n\n\
         NAME        NODE    INTERFACE   IPS                   PROFILES      \n\
         endpoint1   host1   eth0        192.168.0.1,fd00::1   prof1,prof2   \n\n",
        "",
    );
    // A document without a name lists them all; a missing one is said after the rest.
    write(
        dir.path(),
        "some.yaml",
        "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {}\n---\n\
         apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: nope}\n",
    );
    let some = path_arg(&dir.path().join("some.yaml"));
    cli.run(&["get", "-f", &some, "-o", "name"]).expect(
        1,
        "hostendpoint.projectcalico.org/db-2\nhostendpoint.projectcalico.org/endpoint1\n\
         hostendpoint.projectcalico.org/host1-auto-hep\n",
        "resource does not exist: HostEndpoint(nope) with error: <nil>\n",
    );
    let both = cli.run(&["get", "hep", "-f", &file]);
    assert_eq!(
        (both.code, both.stdout.as_str()),
        (1, ""),
        "a kind or -f, not both"
    );
}

#[test]
fn get_export_blanks_what_the_server_set_of_named_objects() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    let sample = include_str!("../../golden/hepctl/spec_sample.yaml");
    let input: String = sample
        .lines()
        .filter(|line| {
            !["creationTimestamp:", "resourceVersion:", "uid:"]
                .iter()
                .any(|key| line.trim_start().starts_with(key))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    cli.with_file("create", &input, &[]).ok();
    let exported = cli
        .run(&["get", "hep", "endpoint1", "-o", "yaml", "--export"])
        .ok();
    assert_calicoctl("get-export.yaml", &exported);
    // The exported document creates the same object elsewhere.
    cli.run(&["delete", "hep", "endpoint1"]).ok();
    cli.with_file("create", &exported, &[]).expect(
        0,
        "Successfully created 1 'HostEndpoint' resource(s)\n",
        "",
    );
    // A listing ignores --export, as calicoctl's does.
    let listed = cli.run(&["get", "hep", "-o", "yaml", "--export"]).ok();
    assert!(mask(&listed).contains("    uid: <UID>\n"), "{listed}");
}
