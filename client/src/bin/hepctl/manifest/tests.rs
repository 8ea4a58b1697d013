use super::*;

const SAMPLE: &str = "\
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: endpoint1
  labels:
    type: database
spec:
  interfaceName: eth0
  node: host1
  expectedIPs:
  - 192.168.0.1
  profiles:
  - prof1
  - prof2
  ports:
  - name: some-port
    port: 1234
    protocol: TCP
";

fn error(text: &str) -> String {
    parse(text)
        .expect_err("the document is refused")
        .to_string()
}

#[test]
fn the_sample_decodes_and_validates() {
    let manifests = parse(SAMPLE).expect("the sample is valid");
    assert_eq!(manifests.len(), 1);
    let hep = manifests[0].to_model(0).expect("valid");
    assert_eq!(hep.metadata.name, "endpoint1");
    assert_eq!(&hep.metadata.labels["type"], "database");
    assert_eq!(hep.spec.ports[0].protocol.to_string(), "TCP");
    assert_eq!(hep.metadata.resource_version, 0);
}

#[test]
fn several_documents_lists_and_json_are_read() {
    let two = format!("{SAMPLE}---\n{}", SAMPLE.replace("endpoint1", "endpoint2"));
    let names = |text: &str| -> Vec<String> {
        parse(text)
            .expect("valid")
            .into_iter()
            .map(|m| m.name)
            .collect()
    };
    assert_eq!(names(&two), ["endpoint1", "endpoint2"]);
    let list = "apiVersion: projectcalico.org/v3\nkind: HostEndpointList\nmetadata:\n  resourceVersion: \"9\"\nitems:\n- metadata:\n    name: a\n- kind: HostEndpoint\n  metadata:\n    name: b\n";
    assert_eq!(names(list), ["a", "b"]);
    let sequence =
        "- apiVersion: projectcalico.org/v3\n  kind: HostEndpoint\n  metadata:\n    name: a\n";
    assert_eq!(names(sequence), ["a"]);
    let json = r#"{"kind": "HostEndpoint", "apiVersion": "projectcalico.org/v3", "metadata": {"name": "j"}}
[{"kind": "HostEndpoint", "apiVersion": "projectcalico.org/v3", "metadata": {"name": "k"}}]"#;
    assert_eq!(names(json), ["j", "k"]);
    assert_eq!(names("---\n---\n"), Vec::<String>::new());
}

#[test]
fn unknown_fields_are_named_with_their_document_and_path() {
    let text = format!(
        "{SAMPLE}---\n{}",
        SAMPLE.replace("node: host1", "nodes: host1")
    );
    assert_eq!(
        error(&text),
        "document 2: field in document is not recognized or is in the wrong location: spec.nodes"
    );
    let in_port = SAMPLE.replace("port: 1234", "port: 1234\n    targetPort: 1");
    assert_eq!(
        error(&in_port),
        "document 1: field in document is not recognized or is in the wrong location: spec.ports[0].targetPort"
    );
    let status = format!("{SAMPLE}status: {{}}\n");
    assert!(error(&status).ends_with("location: status"));
}

#[test]
fn field_names_match_exactly() {
    let text = SAMPLE.replace("interfaceName:", "InterfaceName:");
    assert_eq!(
        error(&text),
        "document 1: field in document is not recognized or is in the wrong location: spec.InterfaceName"
    );
}

#[test]
fn wrong_kinds_and_versions_are_named() {
    assert_eq!(
        error(&SAMPLE.replace("kind: HostEndpoint", "kind: GlobalNetworkPolicy")),
        "document 1: kind: unknown resource type (GlobalNetworkPolicy) and/or version (projectcalico.org/v3)"
    );
    assert_eq!(
        error(&SAMPLE.replace("projectcalico.org/v3", "projectcalico.org/v1")),
        "document 1: apiVersion: unknown resource type (HostEndpoint) and/or version (projectcalico.org/v1)"
    );
    let item = "apiVersion: projectcalico.org/v3\nkind: HostEndpointList\nitems:\n- kind: Node\n";
    assert_eq!(
        error(item),
        "document 1: items[0].kind: unknown resource type (Node) and/or version ()"
    );
}

#[test]
fn a_namespace_is_kept_for_the_command_to_refuse() {
    let text = SAMPLE.replace(
        "  name: endpoint1",
        "  name: endpoint1\n  namespace: default",
    );
    let manifests = parse(&text).expect("a namespace is a field of ObjectMeta");
    assert_eq!(manifests[0].namespace.as_deref(), Some("default"));
    let empty = SAMPLE.replace("  name: endpoint1", "  name: endpoint1\n  namespace: \"\"");
    assert_eq!(parse(&empty).expect("valid")[0].namespace, None);
}

#[test]
fn protocols_are_numbers_or_strings_and_ports_are_uint16() {
    let numeric = SAMPLE.replace("protocol: TCP", "protocol: 6");
    let hep = parse(&numeric).expect("valid")[0]
        .to_model(0)
        .expect("valid");
    assert_eq!(hep.spec.ports[0].protocol.to_string(), "6");
    let quoted = SAMPLE.replace("protocol: TCP", "protocol: \"17\"");
    let hep = parse(&quoted).expect("valid")[0]
        .to_model(0)
        .expect("valid");
    assert_eq!(hep.spec.ports[0].protocol.to_string(), "17");
    // Numbers out of range reach validation, which names the field.
    for (from, to, field) in [
        ("protocol: TCP", "protocol: 256", "spec.ports[0].protocol"),
        ("port: 1234", "port: 65536", "spec.ports[0].port"),
    ] {
        let manifest = parse(&SAMPLE.replace(from, to)).expect("decodes").remove(0);
        let violations = manifest.to_model(0).expect_err("out of range");
        assert_eq!(violations.0[0].field, field);
    }
    assert_eq!(
        error(&SAMPLE.replace("port: 1234", "port: \"80\"")),
        "document 1: spec.ports[0].port: invalid type: string \"80\", expected u32"
    );
}

#[test]
fn scalars_become_strings_and_server_metadata_is_ignored() {
    let text = SAMPLE.replace(
        "  name: endpoint1",
        "  name: endpoint1\n  uid: from-the-user\n  resourceVersion: 7\n  generation: 3\n  creationTimestamp: \"2020-01-01T00:00:00Z\"",
    )
    .replace("node: host1", "node: 123");
    let manifest = parse(&text).expect("valid").remove(0);
    assert_eq!(manifest.resource_version.as_deref(), Some("7"));
    let hep = manifest.to_model(0).expect("valid");
    assert_eq!(hep.spec.node, "123");
    assert_eq!(hep.metadata.uid, "", "uid is never taken from a document");
    assert_eq!(hep.metadata.creation_timestamp, None);
}

#[test]
fn syntax_errors_and_duplicates_name_the_document() {
    let bad = format!("{SAMPLE}---\nkind: [\n");
    assert!(error(&bad).starts_with("document 2: "), "{}", error(&bad));
    let duplicate = SAMPLE.replace("node: host1", "node: host1\n  node: host2");
    assert!(
        error(&duplicate).contains("duplicate key \"node\""),
        "{}",
        error(&duplicate)
    );
    assert_eq!(
        error("just text\n"),
        "document 1: expected a HostEndpoint, a HostEndpointList or a list of them, found string \"just text\""
    );
}

#[test]
fn invalid_objects_fail_validation_not_parsing() {
    let text = SAMPLE.replace("protocol: TCP", "protocol: tcp");
    let manifest = parse(&text).expect("decodes").remove(0);
    let violations = manifest
        .to_model(0)
        .expect_err("tcp is not a valid protocol");
    assert_eq!(violations.0[0].field, "spec.ports[0].protocol");
}
