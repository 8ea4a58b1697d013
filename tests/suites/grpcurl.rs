//! grpcurl (1.8.6) against the running server, through server reflection only: listing and
//! describing services, health checks, create and get with calicoctl's camelCase JSON, a
//! decoded google.rpc.BadRequest, and the README's walk-through run exactly as written.

use std::process::{Command, Output};

use hostendpoint_api::pb;
use hostendpoint_tests::{
    golden,
    tools::{grpcurl, grpcurl_error as failed, grpcurl_json as ok_json, grpcurl_ok as ok},
    *,
};
use serde_json::{Value, json};

const SERVICE: &str = "hostendpoint.v1.HostEndpointService";

/// Runs grpcurl in plaintext against `server`: `-d data` when given, the address, then `args`
/// (a verb and its arguments, or a method).
fn call(server: &ServerProcess, data: Option<&str>, args: &[&str]) -> Output {
    let addr = server.addr.to_string();
    let mut full = vec!["-plaintext"];
    if let Some(data) = data {
        full.extend(["-d", data]);
    }
    full.push(&addr);
    full.extend(args);
    grpcurl(&full)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The details grpcurl printed with an error, decoded: each is JSON after `  N)` under
/// `  Details:`. Panics when one is not JSON (grpcurl could not decode it).
fn error_details(stderr: &str) -> Vec<Value> {
    let Some((_, details)) = stderr.split_once("\n  Details:\n") else {
        return Vec::new();
    };
    let mut items: Vec<String> = Vec::new();
    for line in details.lines() {
        let trimmed = line.trim_start();
        let numbered = trimmed
            .split_once(')')
            .filter(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        match numbered {
            Some((_, rest)) => items.push(rest.trim().to_owned()),
            None => items
                .last_mut()
                .expect("details start with 1)")
                .push_str(trimmed),
        }
    }
    items
        .iter()
        .map(|item| {
            serde_json::from_str(item)
                .unwrap_or_else(|e| panic!("an undecoded detail ({e}): {item}\n{stderr}"))
        })
        .collect()
}

/// Every field a google.rpc.BadRequest detail of grpcurl's error output names, in order.
fn violated_fields(stderr: &str) -> Vec<String> {
    error_details(stderr)
        .iter()
        .filter(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest")
        .flat_map(|d| d["fieldViolations"].as_array().cloned().unwrap_or_default())
        .map(|v| v["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The sample of the README in calicoctl's JSON spelling.
fn sample_json() -> Value {
    json!({"host_endpoint": {
        "metadata": {"name": "endpoint1", "labels": {"type": "database"}},
        "spec": {"node": "host1", "interfaceName": "eth0", "expectedIPs": ["192.168.0.1"],
                 "profiles": ["prof1", "prof2"],
                 "ports": [{"name": "some-port", "protocol": "TCP", "port": 1234}]}}})
}

#[tokio::test]
async fn list_shows_the_api_health_and_both_reflection_services() {
    let server = ServerProcess::start();
    let out = ok(&call(&server, None, &["list"]));
    let services: Vec<&str> = out.lines().collect();
    for expected in [
        SERVICE,
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(services.contains(&expected), "{expected} missing:\n{out}");
    }
    let methods = ok(&call(&server, None, &["list", SERVICE]));
    for rpc in [
        "CreateHostEndpoint",
        "GetHostEndpoint",
        "ListHostEndpoints",
        "UpdateHostEndpoint",
        "DeleteHostEndpoint",
    ] {
        assert!(
            methods.lines().any(|l| l == format!("{SERVICE}.{rpc}")),
            "{rpc} missing:\n{methods}"
        );
    }
}

#[tokio::test]
async fn describe_shows_the_service_and_the_message() {
    let server = ServerProcess::start();
    let service = ok(&call(&server, None, &["describe", SERVICE]));
    assert!(
        service.contains(&format!("{SERVICE} is a service:")),
        "{service}"
    );
    assert!(
        service.contains(
            "rpc CreateHostEndpoint ( .hostendpoint.v1.CreateHostEndpointRequest ) returns \
             ( .hostendpoint.v1.CreateHostEndpointResponse );"
        ),
        "{service}"
    );
    assert!(service.contains("rpc DeleteHostEndpoint"), "{service}");

    let message = ok(&call(
        &server,
        None,
        &["describe", "hostendpoint.v1.HostEndpoint"],
    ));
    assert!(
        message.contains("hostendpoint.v1.HostEndpoint is a message:"),
        "{message}"
    );
    assert!(
        message.contains(".hostendpoint.v1.ObjectMeta metadata = 1;"),
        "{message}"
    );
    assert!(
        message.contains(".hostendpoint.v1.HostEndpointSpec spec = 2;"),
        "{message}"
    );
    let spec = ok(&call(
        &server,
        None,
        &["describe", "hostendpoint.v1.HostEndpointSpec"],
    ));
    assert!(
        spec.contains("repeated string expected_ips = 3 [json_name = \"expectedIPs\"];"),
        "{spec}"
    );
}

#[tokio::test]
async fn health_check_is_serving_overall_and_for_the_service() {
    let server = ServerProcess::start();
    let overall = ok_json(&call(&server, None, &["grpc.health.v1.Health/Check"]));
    assert_eq!(overall, json!({"status": "SERVING"}));
    let request = json!({ "service": SERVICE }).to_string();
    let service = ok_json(&call(
        &server,
        Some(&request),
        &["grpc.health.v1.Health/Check"],
    ));
    assert_eq!(service, json!({"status": "SERVING"}));
    let unknown = call(
        &server,
        Some(r#"{"service": "no.such.Service"}"#),
        &["grpc.health.v1.Health/Check"],
    );
    let err = failed(&unknown);
    assert!(err.contains("Code: NotFound"), "{err}");
}

#[tokio::test]
async fn create_and_get_speak_calicoctl_json() {
    let server = ServerProcess::start();
    let request = sample_json().to_string();
    let created = ok_json(&call(
        &server,
        Some(&request),
        &[&format!("{SERVICE}/CreateHostEndpoint")],
    ));
    let hep = &created["hostEndpoint"];
    let md = &hep["metadata"];
    assert_eq!(md["name"], "endpoint1", "{created:#}");
    assert_eq!(
        md["resourceVersion"], "1",
        "a uint64 is a JSON string: {created:#}"
    );
    assert_eq!(md["labels"], json!({"type": "database"}), "{created:#}");
    let uid = md["uid"].as_str().expect("uid is set");
    assert_eq!(uid.len(), 36, "{uid}");
    let ts = md["creationTimestamp"]
        .as_str()
        .expect("creationTimestamp is an RFC 3339 string");
    assert!(
        ts.ends_with('Z') && !ts.contains('.'),
        "whole seconds in UTC: {ts}"
    );
    assert_eq!(
        hep["spec"],
        json!({"node": "host1", "interfaceName": "eth0", "expectedIPs": ["192.168.0.1"],
               "profiles": ["prof1", "prof2"],
               "ports": [{"name": "some-port", "protocol": "TCP", "port": 1234}]}),
        "{created:#}"
    );

    let got = ok_json(&call(
        &server,
        Some(r#"{"name": "endpoint1"}"#),
        &[&format!("{SERVICE}/GetHostEndpoint")],
    ));
    assert_eq!(got, created);

    // The same object through the Rust client: grpcurl's JSON meant what it said.
    let mut client = server.client().await;
    let stored = client
        .get_host_endpoint(pb::GetHostEndpointRequest {
            name: "endpoint1".into(),
        })
        .await
        .expect("get")
        .into_inner()
        .host_endpoint
        .expect("object");
    assert_eq!(spec(&stored), spec(&mk_sample()));
    assert_eq!(meta(&stored).uid, uid);
    assert_eq!(meta(&stored).resource_version, 1);

    // The proto field names are accepted as well.
    let snake = json!({"host_endpoint": {"metadata": {"name": "endpoint2"},
        "spec": {"node": "host1", "interface_name": "eth1", "expected_ips": ["10.0.0.1"]}}});
    let created2 = ok_json(&call(
        &server,
        Some(&snake.to_string()),
        &[&format!("{SERVICE}/CreateHostEndpoint")],
    ));
    assert_eq!(
        created2["hostEndpoint"]["spec"],
        json!({"node": "host1", "interfaceName": "eth1", "expectedIPs": ["10.0.0.1"]})
    );
    assert_eq!(created2["hostEndpoint"]["metadata"]["resourceVersion"], "2");
}

#[tokio::test]
async fn validation_errors_show_the_decoded_bad_request() {
    let server = ServerProcess::start();
    let request = json!({"host_endpoint": {"metadata": {"name": "Bad_Name"},
        "spec": {"node": "host1", "interfaceName": "eth0"}}});
    let out = call(
        &server,
        Some(&request.to_string()),
        &[&format!("{SERVICE}/CreateHostEndpoint")],
    );
    let err = failed(&out);
    assert!(err.contains("\n  Code: InvalidArgument\n"), "{err}");
    let details = error_details(&err);
    assert_eq!(details.len(), 1, "{err}");
    assert_eq!(
        details[0]["@type"], "type.googleapis.com/google.rpc.BadRequest",
        "{err}"
    );
    assert_eq!(violated_fields(&err), ["metadata.name"], "{err}");
    let description = details[0]["fieldViolations"][0]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(description.contains("lower case"), "{err}");

    // Nothing was stored.
    let listed = ok_json(&call(
        &server,
        None,
        &[&format!("{SERVICE}/ListHostEndpoints")],
    ));
    assert!(listed.get("hostEndpoints").is_none(), "{listed:#}");
}

// === The README's grpcurl sections ===

/// The README sections whose commands the test runs, in order, on one server.
const README_SECTIONS: &[&str] = &["Walk-through with grpcurl", "Selectors and IP sets"];

/// One command of the README and the output the README shows for it.
#[derive(Debug)]
struct ReadmeCommand {
    command: String,
    /// The ```text block that follows the command's ```sh block, if any: its exact output
    /// (stderr when it starts with `ERROR:`, the command then failing).
    shown: Option<String>,
}

/// The commands of the README's `sections`, in order.
fn readme_commands(sections: &[&str]) -> Vec<ReadmeCommand> {
    let path = tools::workspace_root().join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md is readable");
    let mut commands: Vec<ReadmeCommand> = Vec::new();
    for heading in sections {
        let start = readme
            .find(&format!("\n## {heading}\n"))
            .unwrap_or_else(|| panic!("the README has a section {heading:?}"));
        let section = &readme[start + 1..];
        let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
        let mut lines = section.lines();
        while let Some(line) = lines.next() {
            let lang = match line.strip_prefix("```") {
                Some(lang) if !lang.is_empty() => lang.to_owned(),
                _ => continue,
            };
            let block = lines
                .by_ref()
                .take_while(|l| *l != "```")
                .collect::<Vec<_>>()
                .join("\n");
            match lang.as_str() {
                "sh" => commands.extend(split_commands(&block).into_iter().map(|command| {
                    ReadmeCommand {
                        command,
                        shown: None,
                    }
                })),
                "text" => {
                    let last = commands
                        .last_mut()
                        .filter(|last| last.shown.is_none())
                        .unwrap_or_else(|| panic!("a ```text block without its command:\n{block}"));
                    last.shown = Some(block);
                }
                other => panic!("unexpected ```{other} block in {heading:?}"),
            }
        }
    }
    commands
}

/// `output` without what differs at every run: the values of `uid`, `creationTimestamp` and
/// `storeUid`.
fn without_volatile_fields(output: &str) -> String {
    const VOLATILE: [(&str, &str); 3] =
        [("uid", "…"), ("creationTimestamp", "…"), ("storeUid", "…")];
    golden::mask(output.trim_end(), &VOLATILE)
}

/// Splits a shell script into its commands: a newline ends a command unless it is quoted or
/// escaped with a backslash.
fn split_commands(script: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut current = String::new();
    let (mut single, mut double, mut escaped) = (false, false, false);
    for c in script.chars() {
        current.push(c);
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if !single => escaped = true,
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '\n' if !single && !double => {
                let command = current.trim().to_owned();
                if !command.is_empty() {
                    commands.push(command);
                }
                current.clear();
            }
            _ => {}
        }
    }
    assert!(!single && !double, "unbalanced quotes in:\n{script}");
    let command = current.trim().to_owned();
    if !command.is_empty() {
        commands.push(command);
    }
    commands
}

#[tokio::test]
async fn readme_grpcurl_sections_work_as_written() {
    let server = ServerProcess::start();
    let commands = readme_commands(README_SECTIONS);
    assert_eq!(commands.len(), 13, "the README's commands: {commands:#?}");
    let grpcurl = tools::grpcurl_path();
    let grpcurl = grpcurl.to_str().expect("a UTF-8 path");
    let addr = server.addr.to_string();
    for ReadmeCommand { command, shown } in &commands {
        assert!(
            command.starts_with("grpcurl ") && command.contains("localhost:50051"),
            "a grpcurl call of the README's server: {command}"
        );
        let script = format!(
            "{grpcurl}{}",
            &command["grpcurl".len()..].replace("localhost:50051", &addr)
        );
        let output = Command::new("bash")
            .args(["-c", &script])
            .output()
            .expect("bash runs");
        let context = format!(
            "README command:\n{command}\nexit: {}\nstdout:\n{}\nstderr:\n{}",
            output.status,
            stdout(&output),
            stderr(&output)
        );
        let fails = shown.as_deref().is_some_and(|s| s.starts_with("ERROR:"));
        assert_eq!(!output.status.success(), fails, "{context}");
        let Some(shown) = shown else { continue };
        // grpcurl separates a detail's number from it with a tab; the README, a space.
        let printed = if fails {
            stderr(&output).replace(")\t", ") ")
        } else {
            stdout(&output)
        };
        assert_eq!(
            without_volatile_fields(&printed),
            without_volatile_fields(shown),
            "the README's ```text block\n{context}"
        );
    }
    // endpoint1 was deleted; the selectors' endpoints remain.
    let listed = ok_json(&call(
        &server,
        None,
        &[&format!("{SERVICE}/ListHostEndpoints")],
    ));
    let names: Vec<&str> = listed["hostEndpoints"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|h| h["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["db1", "db2"], "{listed:#}");
}

#[test]
fn split_commands_keeps_quoted_and_continued_lines_together() {
    let script = "a 1\nb '{\n x\n}' \\\n  c\n\nd \"e\nf\"";
    assert_eq!(
        split_commands(script),
        ["a 1", "b '{\n x\n}' \\\n  c", "d \"e\nf\""]
    );
}
