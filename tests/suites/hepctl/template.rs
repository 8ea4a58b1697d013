//! `get -o go-template=...` and `-o go-template-file=...`: Go's text/template over the data
//! calicoctl gives its templates.

use hostendpoint_tests::{ServerProcess, golden::assert_calicoctl};

use super::{FIXTURES, Hepctl, path_arg};

const LIST_TEMPLATE: &str =
    r#"{{range .}}{{range .Items}}{{.ObjectMeta.Name}} {{.Spec.Node}}{{"\n"}}{{end}}{{end}}"#;
const NAMED_TEMPLATE: &str = r#"{{range .}}{{.Name}}: {{join .Spec.Profiles ","}} {{join .Spec.ExpectedIPs ";"}}{{"\n"}}{{end}}"#;

#[test]
fn go_templates_print_what_go_prints_over_calicoctl_data() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    cli.with_file("create", FIXTURES, &[]).ok();

    let listed = cli
        .run(&["get", "hep", "-o", &format!("go-template={LIST_TEMPLATE}")])
        .ok();
    assert_calicoctl("go-template-list.txt", &listed);
    let named = cli
        .run(&[
            "get",
            "hep",
            "endpoint1",
            "db-2",
            "-o",
            &format!("go-template={NAMED_TEMPLATE}"),
        ])
        .ok();
    assert_calicoctl("go-template-named.txt", &named);

    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("list.tmpl");
    std::fs::write(&file, LIST_TEMPLATE).expect("the template file can be written");
    let from_file = cli
        .run(&[
            "get",
            "hep",
            "-o",
            &format!("go-template-file={}", path_arg(&file)),
        ])
        .ok();
    assert_calicoctl("go-template-list.txt", &from_file);
}

#[test]
fn templates_that_cannot_be_used_are_errors() {
    let cli = Hepctl::offline();
    for (format, golden) in [
        ("go-template=", "need-template.stderr"),
        ("go-template-file=", "need-template-file.stderr"),
    ] {
        let run = cli.run(&["get", "hep", "-o", format]);
        assert_eq!((run.code, run.stdout.as_str()), (1, ""), "{run:?}");
        assert_calicoctl(golden, &run.stderr);
    }
    cli.run(&["get", "hep", "-o", "go-template-file=/nonexistent.tmpl"])
        .expect(1, "", "open /nonexistent.tmpl: no such file or directory\n");
    // A template that does not parse or run fails after the call, printing nothing.
    let server = ServerProcess::start();
    let broken = Hepctl::new(&server).run(&["get", "hep", "-o", "go-template={{range .}"]);
    assert_eq!((broken.code, broken.stdout.as_str()), (1, ""), "{broken:?}");
    assert!(!broken.stderr.is_empty());
}
