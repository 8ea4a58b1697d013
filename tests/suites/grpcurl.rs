//! grpcurl (1.8.6) against the running server, through server reflection only: listing and
//! describing services, health checks, create and get with calicoctl's camelCase JSON, a
//! decoded google.rpc.BadRequest, and the README's walk-through run exactly as written.

use std::process::{Command, Output};

use hostendpoint_api::pb;
use hostendpoint_tests::{
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

// === The README walk-through ===

/// One command of the README walk-through and what the README says it does.
#[derive(Debug)]
struct Step {
    /// The method (or verb) the command calls; the command must contain it.
    calls: &'static str,
    expect: Expect,
}

#[derive(Debug)]
enum Expect {
    /// Succeeds, and its stdout contains each of these.
    Ok(&'static [&'static str]),
    /// Fails with exactly the README's ```text block on stderr (details tabs aside).
    ReadmeError,
    /// Fails with this code, and a google.rpc.BadRequest naming exactly these fields.
    Invalid(&'static [&'static str]),
}

/// The README's walk-through, in order: a new command there needs a line here.
const WALK_THROUGH: &[Step] = &[
    Step {
        calls: " list",
        expect: Expect::Ok(&[SERVICE, "grpc.health.v1.Health"]),
    },
    Step {
        calls: "grpc.health.v1.Health/Check",
        expect: Expect::Ok(&[r#""status": "SERVING""#]),
    },
    Step {
        calls: "/CreateHostEndpoint",
        expect: Expect::Ok(&[r#""name": "endpoint1""#, r#""resourceVersion": "1""#]),
    },
    Step {
        calls: "/GetHostEndpoint",
        expect: Expect::Ok(&[r#""name": "endpoint1""#, r#""resourceVersion": "1""#]),
    },
    Step {
        calls: "/ListHostEndpoints",
        expect: Expect::Ok(&[r#""name": "endpoint1""#, r#""node": "host1""#]),
    },
    Step {
        calls: "/UpdateHostEndpoint",
        expect: Expect::Ok(&[r#""tier": "gold""#, r#""resourceVersion": "2""#]),
    },
    Step {
        calls: "/UpdateHostEndpoint",
        expect: Expect::ReadmeError,
    },
    Step {
        calls: "/CreateHostEndpoint",
        expect: Expect::Invalid(&[
            "metadata.name",
            "spec.interfaceName",
            "spec.ports[0].protocol",
        ]),
    },
    Step {
        calls: "/DeleteHostEndpoint",
        expect: Expect::Ok(&[r#""name": "endpoint1""#]),
    },
];

/// The README section's ```sh blocks and its ```text block.
struct Walkthrough {
    commands: Vec<String>,
    error_text: String,
}

fn readme_walkthrough() -> Walkthrough {
    let path = tools::workspace_root().join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md is readable");
    let start = readme
        .find("\n## Walk-through with grpcurl\n")
        .expect("the README has a grpcurl walk-through");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut commands = Vec::new();
    let mut texts = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        let lang = match line.strip_prefix("```") {
            Some(lang) if !lang.is_empty() => lang.to_owned(),
            _ => continue,
        };
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        match lang.as_str() {
            "sh" => commands.extend(split_commands(&block.join("\n"))),
            "text" => texts.push(block.join("\n")),
            other => panic!("unexpected ```{other} block in the walk-through"),
        }
    }
    assert_eq!(texts.len(), 1, "one ```text block: {texts:?}");
    Walkthrough {
        commands,
        error_text: texts.remove(0),
    }
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
async fn readme_walkthrough_works_as_written() {
    let server = ServerProcess::start();
    let walkthrough = readme_walkthrough();
    assert_eq!(
        walkthrough.commands.len(),
        WALK_THROUGH.len(),
        "the README's commands: {:#?}",
        walkthrough.commands
    );
    let grpcurl = tools::grpcurl_path();
    let grpcurl = grpcurl.to_str().expect("a UTF-8 path");
    let addr = server.addr.to_string();
    for (command, step) in walkthrough.commands.iter().zip(WALK_THROUGH) {
        assert!(
            command.starts_with("grpcurl ") && command.contains(step.calls),
            "expected a grpcurl call of {}, the README has:\n{command}",
            step.calls
        );
        assert!(command.contains("localhost:50051"), "{command}");
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
        match step.expect {
            Expect::Ok(needles) => {
                assert!(output.status.success(), "{context}");
                let out = stdout(&output);
                for needle in needles {
                    assert!(out.contains(needle), "{needle:?} missing\n{context}");
                }
            }
            Expect::ReadmeError => {
                assert!(!output.status.success(), "{context}");
                // grpcurl separates a detail's number from it with a tab; the README, a space.
                assert_eq!(
                    stderr(&output).replace(")\t", ") ").trim_end(),
                    walkthrough.error_text.trim_end(),
                    "the README's ```text block\n{context}"
                );
            }
            Expect::Invalid(fields) => {
                let err = failed(&output);
                assert!(err.contains("\n  Code: InvalidArgument\n"), "{context}");
                assert_eq!(violated_fields(&err), fields, "{context}");
            }
        }
    }
    // The delete went through: the store is empty again.
    let listed = ok_json(&call(
        &server,
        None,
        &[&format!("{SERVICE}/ListHostEndpoints")],
    ));
    assert!(listed.get("hostEndpoints").is_none(), "{listed:#}");
    assert_eq!(listed["resourceVersion"], "3", "{listed:#}");
}

#[test]
fn split_commands_keeps_quoted_and_continued_lines_together() {
    let script = "a 1\nb '{\n x\n}' \\\n  c\n\nd \"e\nf\"";
    assert_eq!(
        split_commands(script),
        ["a 1", "b '{\n x\n}' \\\n  c", "d \"e\nf\""]
    );
}
