//! `hepctl patch`: each patch type, calicoctl's messages, and a patch that races another
//! writer (through a proxy that makes the race happen every time).

use hostendpoint_tests::{
    ServerProcess, get,
    golden::assert_calicoctl,
    hepctl::{Run, mk_doc},
    racing::RacingProxy,
    update,
};

use super::{Hepctl, mk_doc_at};

fn patch(cli: &Hepctl, extra: &[&str]) -> Run {
    let mut args = vec!["patch", "hep"];
    args.extend(extra);
    cli.run(&args)
}

fn expect_patched(run: Run) {
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    assert_calicoctl("patch-success.stdout", &run.stdout);
}

fn expect_failure(run: Run, calicoctl_stderr: &str) {
    assert_eq!((run.code, run.stdout.as_str()), (1, ""), "{run:?}");
    assert_calicoctl(calicoctl_stderr, &run.stderr);
}

#[test]
fn patch_changes_fields_in_place_with_each_patch_type() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    cli.with_file("create", &mk_doc("a", "n1"), &[]).ok();
    let uid = super::metadata(&cli.get_json("a"), "uid");

    // Strategic (the default): maps merge, lists are replaced.
    expect_patched(patch(
        &cli,
        &[
            "a",
            "-p",
            r#"{"metadata":{"labels":{"k":"v"}},"spec":{"profiles":["p1","p2"]}}"#,
        ],
    ));
    expect_patched(patch(
        &cli,
        &[
            "a",
            "-p",
            r#"{"metadata":{"labels":{"k2":"v2"}},"spec":{"profiles":["p3"]}}"#,
        ],
    ));
    let after = cli.get_json("a");
    assert_eq!(
        after["metadata"]["labels"],
        serde_json::json!({"k": "v", "k2": "v2"})
    );
    assert_eq!(after["spec"]["profiles"], serde_json::json!(["p3"]));
    assert_eq!(
        after["spec"]["interfaceName"], "eth0",
        "untouched fields stay"
    );
    assert_eq!(super::metadata(&after, "uid"), uid);

    expect_patched(patch(
        &cli,
        &[
            "a",
            "-t",
            "merge",
            "-p",
            r#"{"metadata":{"labels":{"k":null}}}"#,
        ],
    ));
    let ops = r#"[{"op":"add","path":"/spec/expectedIPs","value":["10.0.0.1"]},{"op":"replace","path":"/spec/node","value":"n2"}]"#;
    expect_patched(patch(&cli, &["a", "--type", "json", "--patch", ops]));
    let after = cli.get_json("a");
    assert_eq!(after["metadata"]["labels"], serde_json::json!({"k2": "v2"}));
    assert_eq!(
        after["spec"]["expectedIPs"],
        serde_json::json!(["10.0.0.1"])
    );
    assert_eq!(after["spec"]["node"], "n2");
}

#[test]
fn patch_failures_are_worded_as_calicoctl_words_them() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    cli.with_file("create", &mk_doc("a", "n1"), &[]).ok();
    let labels = r#"{"metadata":{"labels":{"k":"v"}}}"#;
    expect_failure(
        patch(&cli, &["nope", "-p", labels]),
        "patch-not-found.stderr",
    );
    expect_failure(
        patch(&cli, &["a", "-p", labels, "-n", "x"]),
        "patch-namespace.stderr",
    );

    // A resourceVersion set by the patch is a precondition, and is not tried again.
    let rv = cli.resource_version("a");
    cli.with_file("apply", &mk_doc_at("a", "n2", &rv), &[]).ok();
    let stale = format!(r#"{{"metadata":{{"resourceVersion":"{rv}"}},"spec":{{"node":"n3"}}}}"#);
    expect_failure(patch(&cli, &["a", "-p", &stale]), "patch-conflict.stderr");
    assert_eq!(cli.get_json("a")["spec"]["node"], "n2");

    // The patched document is read as strictly as a file, and validated as any write.
    patch(&cli, &["a", "-p", r#"{"spec":{"bogus":1}}"#]).expect(
        1,
        "",
        "hit error: creating resource from patched data: document 1: field in document is not \
         recognized or is in the wrong location: spec.bogus\n",
    );
    let invalid = patch(&cli, &["a", "-p", r#"{"spec":{"node":"Node_A"}}"#]);
    assert_eq!((invalid.code, invalid.stdout.as_str()), (1, ""));
    assert!(
        invalid
            .stderr
            .starts_with("hit error: updating existing resource: error with field spec.node ("),
        "{invalid:?}"
    );
    patch(&cli, &["a", "-p", "{spec"]).expect(
        1,
        "",
        "hit error: performing strategic merge patch: key must be a string at line 1 column 2\n",
    );
    let usage = patch(&cli, &["a"]);
    assert_eq!((usage.code, usage.stdout.as_str()), (1, ""));
    assert!(usage.stderr.contains("--patch <PATCH>"), "{usage:?}");
}

/// The patch reads `a`; before its update reaches the server, another writer adds a label.
/// The update conflicts, and the patch is applied again to the new object: both changes stay.
#[tokio::test(flavor = "multi_thread")]
async fn a_patch_that_races_a_concurrent_update_keeps_both_changes() {
    let server = ServerProcess::start();
    Hepctl::new(&server)
        .with_file("create", &mk_doc("a", "n1"), &[])
        .ok();
    let proxy = RacingProxy::start(
        server.client().await,
        Box::new(|mut client| {
            Box::pin(async move {
                let mut hep = get(&mut client, "a").await.expect("a exists");
                let meta = hep.metadata.as_mut().expect("metadata");
                meta.labels.insert("theirs".into(), "1".into());
                update(&mut client, hep, false)
                    .await
                    .expect("the concurrent update is stored");
            })
        }),
    )
    .await;
    let through_proxy = Hepctl {
        server: proxy.endpoint(),
    };
    let run = tokio::task::spawn_blocking(move || {
        through_proxy.run(&[
            "patch",
            "hep",
            "a",
            "-p",
            r#"{"metadata":{"labels":{"mine":"2"}}}"#,
        ])
    })
    .await
    .expect("hepctl ran");
    expect_patched(run);
    assert_eq!(
        proxy.updates(),
        2,
        "the first update conflicted, the second went through"
    );
    let labels = Hepctl::new(&server).get_json("a")["metadata"]["labels"].clone();
    assert_eq!(labels, serde_json::json!({"mine": "2", "theirs": "1"}));
}
