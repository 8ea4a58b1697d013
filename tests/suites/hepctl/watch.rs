//! `hepctl watch`: the table people read by default, and the JSON and YAML documents scripts
//! read, from the real binary following a real server.

use std::{
    io::{BufRead as _, BufReader},
    process::{Child, Stdio},
    sync::mpsc,
    thread,
    time::Duration,
};

use hostendpoint_tests::{ServerProcess, hepctl::hepctl, hepctl::mk_doc, rev};
use serde_json::Value;

use super::{Hepctl, docs};

/// The longest a test waits for the next line or document of a watch.
const NEXT_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `hepctl watch`, its stdout read line by line on a thread.
struct Watching {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watching {
    /// Starts `hepctl --server <cli's> watch <args>`.
    fn start(cli: &Hepctl, args: &[&str]) -> Self {
        let mut child = hepctl()
            .args(["--server", &cli.server, "watch"])
            .args(args)
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hepctl watch starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The next line printed, with its newline.
    fn next_line(&self) -> String {
        let line = self
            .lines
            .recv_timeout(NEXT_TIMEOUT)
            .expect("the watch prints a line within 30 s");
        line + "\n"
    }

    /// The next `n` lines, as one text.
    fn next_lines(&self, n: usize) -> String {
        (0..n).map(|_| self.next_line()).collect()
    }

    /// Stops the watch and returns what it printed on stderr.
    fn stop(mut self) -> String {
        self.child.kill().expect("the watch can be stopped");
        let output = self.child.wait_with_output().expect("the watch is reaped");
        String::from_utf8(output.stderr).expect("UTF-8 stderr")
    }
}

#[test]
fn watch_prints_a_table_line_per_event_with_a_marker_after_the_listing() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    cli.with_file(
        "create",
        &docs(&[mk_doc("endpoint1", "host1"), mk_doc("db-2", "host2")]),
        &[],
    )
    .ok();

    let watch = Watching::start(&cli, &["hep"]);
    // The listing is sorted by name; SYNCED gives the revision it reflects.
    assert_eq!(
        watch.next_lines(4),
        format!(
            "\
EVENT      NAME                   NODE           RESOURCEVERSION
ADDED      db-2                   host2          {db}
ADDED      endpoint1              host1          {ep}
SYNCED                                           {db}
",
            ep = rev(1),
            db = rev(2),
        )
    );
    cli.run(&["label", "hep", "endpoint1", "tier=web"]).ok();
    assert_eq!(
        watch.next_line(),
        format!(
            "MODIFIED   endpoint1              host1          {}\n",
            rev(3)
        )
    );
    cli.with_file("create", &mk_doc("web-3", "host2"), &[]).ok();
    assert_eq!(
        watch.next_line(),
        format!(
            "ADDED      web-3                  host2          {}\n",
            rev(4)
        )
    );
    cli.run(&["delete", "hep", "db-2"]).ok();
    assert_eq!(
        watch.next_line(),
        format!(
            "DELETED    db-2                   host2          {}\n",
            rev(5)
        )
    );
    assert_eq!(watch.stop(), "", "nothing on stderr");
}

#[test]
fn a_watch_of_nothing_prints_the_headings_and_the_marker() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    let watch = Watching::start(&cli, &["hostendpoints", "--node", "host9", "-o", "ps"]);
    assert_eq!(
        watch.next_lines(2),
        format!(
            "\
EVENT      NAME                   NODE           RESOURCEVERSION
SYNCED                                           {}
",
            rev(0)
        )
    );
    assert_eq!(watch.stop(), "");
}

#[test]
fn watch_prints_one_json_document_per_change() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    cli.with_file("create", &mk_doc("a", "n1"), &[]).ok();

    let (mut watch, rx) = spawn_json_watch(&cli, &[]);
    let next = |expected_type: &str, expected_name: &str| -> Value {
        let event = rx
            .recv_timeout(NEXT_TIMEOUT)
            .expect("a watch event within 30 s");
        assert_eq!(event["type"], expected_type, "{event}");
        assert_eq!(
            event["object"]["metadata"]["name"], expected_name,
            "{event}"
        );
        assert_eq!(event["object"]["kind"], "HostEndpoint", "{event}");
        event
    };

    // What exists comes first (with no marker in the documents); changes follow.
    next("ADDED", "a");
    cli.run(&["label", "hep", "a", "tier=web"]).ok();
    let modified = next("MODIFIED", "a");
    assert_eq!(modified["object"]["metadata"]["labels"]["tier"], "web");
    cli.with_file("create", &mk_doc("b", "n2"), &[]).ok();
    next("ADDED", "b");
    cli.run(&["delete", "hep", "a"]).ok();
    next("DELETED", "a");

    watch.kill().expect("the watch can be stopped");
    watch.wait().expect("the watch is reaped");
}

#[test]
fn watch_can_follow_one_node_in_yaml() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    cli.with_file(
        "create",
        &docs(&[mk_doc("a", "n1"), mk_doc("b", "n2")]),
        &[],
    )
    .ok();
    let watch = Watching::start(&cli, &["HEP", "--node", "n2", "-o", "yaml"]);
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l == "type: ADDED\n") {
        lines.push(watch.next_line());
    }
    assert_eq!(lines[0], "---\n");
    assert!(lines.contains(&"    name: b\n".to_owned()), "{lines:?}");
    assert!(
        !lines.contains(&"    name: a\n".to_owned()),
        "only n2: {lines:?}"
    );
    assert_eq!(watch.stop(), "");
}

#[test]
fn a_watch_with_a_selector_sees_objects_enter_and_leave_it() {
    let server = ServerProcess::start();
    let cli = Hepctl::new(&server);
    cli.with_file(
        "create",
        &docs(&[mk_doc("a", "n1"), mk_doc("b", "n1")]),
        &[],
    )
    .ok();
    cli.run(&["label", "hep", "b", "tier=web"]).ok();
    let (mut watch, events) = spawn_json_watch(&cli, &["--selector", "tier == 'web'"]);
    let next = |expected_type: &str, expected_name: &str| {
        let event = events
            .recv_timeout(NEXT_TIMEOUT)
            .expect("a watch event within 30 s");
        assert_eq!(
            (&event["type"], &event["object"]["metadata"]["name"]),
            (&Value::from(expected_type), &Value::from(expected_name)),
            "{event}"
        );
    };
    next("ADDED", "b");
    cli.run(&["label", "hep", "a", "tier=web"]).ok();
    next("ADDED", "a");
    cli.run(&["label", "hep", "a", "tier=db", "--overwrite"])
        .ok();
    next("DELETED", "a");
    watch.kill().expect("the watch can be stopped");
    watch.wait().expect("the watch is reaped");
}

/// Starts `hepctl watch hep -o json <args>`, with its documents parsed on a thread.
fn spawn_json_watch(cli: &Hepctl, args: &[&str]) -> (Child, mpsc::Receiver<Value>) {
    let mut watch = hepctl()
        .args(["--server", &cli.server, "watch", "hep", "-o", "json"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("hepctl watch starts");
    let stdout = watch.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let documents = serde_json::Deserializer::from_reader(BufReader::new(stdout));
        for document in documents.into_iter::<Value>() {
            if document.map(|d| tx.send(d)).is_err() {
                break;
            }
        }
    });
    (watch, rx)
}
