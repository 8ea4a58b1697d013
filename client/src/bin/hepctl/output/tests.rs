use std::time::{Duration, UNIX_EPOCH};

use hostendpoint_api::model::{EndpointPort, HostEndpointSpec, ObjectMeta, PortProtocol, Protocol};

use super::*;

/// The printers but the template's cannot fail.
fn render(format: &OutputFormat, results: &[Fetched]) -> String {
    super::render(format, results).expect("no template to fail")
}

/// The spec's typical single object, as the server stores it.
fn mk_sample() -> HostEndpoint {
    HostEndpoint {
        metadata: ObjectMeta {
            name: "endpoint1".into(),
            labels: [("type".to_owned(), "database".to_owned())].into(),
            annotations: Default::default(),
            uid: "6f1c2b9e-4d0a-4c8e-9a57-1f0e2d3c4b5a".into(),
            resource_version: 1234,
            creation_timestamp: Some(UNIX_EPOCH + Duration::from_secs(1_714_557_600)),
        },
        spec: HostEndpointSpec {
            node: "host1".into(),
            interface_name: "eth0".into(),
            expected_ips: vec!["192.168.0.1".into()],
            profiles: vec!["prof1".into(), "prof2".into()],
            ports: vec![EndpointPort {
                name: "some-port".into(),
                protocol: Protocol {
                    kind: PortProtocol::Tcp,
                    numeric: false,
                },
                port: 1234,
            }],
        },
    }
}

fn mk_hep(name: &str, node: &str) -> HostEndpoint {
    let mut hep = mk_sample();
    hep.metadata.name = name.into();
    hep.spec.node = node.into();
    hep
}

#[test]
fn one_object_prints_as_the_spec_sample() {
    let text = render(&OutputFormat::Yaml, &[Fetched::One(Box::new(mk_sample()))]);
    // The same file the end-to-end suite round-trips through a server.
    let expected = include_str!("../../../../../tests/golden/hepctl/spec_sample.yaml");
    assert_eq!(text, expected);
}

#[test]
fn json_keeps_go_struct_order_without_a_final_newline() {
    let mut hep = mk_sample();
    hep.spec.ports[0].protocol.numeric = true;
    let text = render(&OutputFormat::Json, &[Fetched::One(Box::new(hep))]);
    let expected = r#"{
  "kind": "HostEndpoint",
  "apiVersion": "projectcalico.org/v3",
  "metadata": {
    "name": "endpoint1",
    "uid": "6f1c2b9e-4d0a-4c8e-9a57-1f0e2d3c4b5a",
    "resourceVersion": "1234",
    "creationTimestamp": "2024-05-01T10:00:00Z",
    "labels": {
      "type": "database"
    }
  },
  "spec": {
    "node": "host1",
    "interfaceName": "eth0",
    "expectedIPs": [
      "192.168.0.1"
    ],
    "profiles": [
      "prof1",
      "prof2"
    ],
    "ports": [
      {
        "name": "some-port",
        "protocol": 6,
        "port": 1234
      }
    ]
  }
}"#;
    assert_eq!(text, expected);
}

#[test]
fn an_empty_listing_is_a_list_with_empty_items() {
    let empty = Fetched::List {
        items: vec![],
        revision: 12345,
    };
    let yaml = render(&OutputFormat::Yaml, std::slice::from_ref(&empty));
    assert_eq!(
        yaml,
        "apiVersion: projectcalico.org/v3\nitems: []\nkind: HostEndpointList\nmetadata:\n  resourceVersion: \"12345\"\n"
    );
    let json = render(&OutputFormat::Json, &[empty]);
    assert_eq!(
        json,
        "{\n  \"kind\": \"HostEndpointList\",\n  \"apiVersion\": \"projectcalico.org/v3\",\n  \"metadata\": {\n    \"resourceVersion\": \"12345\"\n  },\n  \"items\": []\n}"
    );
}

#[test]
fn several_results_print_as_a_sequence_and_none_as_null() {
    let two = [
        Fetched::One(Box::new(mk_hep("a", "n1"))),
        Fetched::One(Box::new(mk_hep("b", "n2"))),
    ];
    let yaml = render(&OutputFormat::Yaml, &two);
    assert!(
        yaml.starts_with("- apiVersion: projectcalico.org/v3\n  kind: HostEndpoint\n"),
        "{yaml}"
    );
    assert_eq!(yaml.matches("\n- apiVersion").count(), 1, "{yaml}");
    let json = render(&OutputFormat::Json, &two);
    assert!(
        json.starts_with("[\n  {\n    \"kind\": \"HostEndpoint\""),
        "{json}"
    );
    assert_eq!(render(&OutputFormat::Json, &[]), "null");
    assert_eq!(render(&OutputFormat::Yaml, &[]), "null\n");
}

#[test]
fn tables_follow_each_result_with_a_blank_line() {
    let two = [
        Fetched::One(Box::new(mk_hep("a", "n1"))),
        Fetched::One(Box::new(mk_hep("bb", "n2"))),
    ];
    let ps: OutputFormat = "ps".parse().expect("ps");
    let text = render(&ps, &two);
    assert_eq!(
        text,
        "NAME   NODE   \na      n1     \n\nNAME   NODE   \nbb     n2     \n\n"
    );
    let list = Fetched::List {
        items: vec![mk_hep("a", "n1"), mk_hep("bb", "n2")],
        revision: 3,
    };
    let text = render(&ps, &[list]);
    assert_eq!(text, "NAME   NODE   \na      n1     \nbb     n2     \n\n");
}

#[test]
fn names_print_one_per_line() {
    let list = Fetched::List {
        items: vec![mk_hep("a", "n1"), mk_hep("b", "n1")],
        revision: 3,
    };
    assert_eq!(
        render(&OutputFormat::Name, &[list]),
        "hostendpoint.projectcalico.org/a\nhostendpoint.projectcalico.org/b\n"
    );
}

#[test]
fn output_formats_parse_as_calicoctl_parses_them() {
    assert_eq!("yml".parse(), Ok(OutputFormat::Yaml));
    assert_eq!(
        "custom-columns=IPS,NAME".parse(),
        Ok(OutputFormat::Table(vec![Column::Ips, Column::Name]))
    );
    assert_eq!(
        "xml".parse::<OutputFormat>(),
        Err("unrecognized output format 'xml'".to_owned())
    );
    assert_eq!(
        "custom-columns=".parse::<OutputFormat>(),
        Err("need to specify at least one column".to_owned())
    );
    let unknown = "custom-columns=NAME,AGE".parse::<OutputFormat>();
    assert_eq!(
        unknown,
        Err(
            "Unknown heading AGE, valid values are: NAME, NODE, INTERFACE, IPS, PROFILES"
                .to_owned()
        )
    );
}
