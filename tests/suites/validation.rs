//! Calico's validation rules for a HostEndpoint (spec sections 1 and 2), end to end: every rule
//! with accepted and rejected values, through CreateHostEndpoint and UpdateHostEndpoint alike;
//! one violation per bad field with its JSON path; rejected writes change nothing; Get and
//! Delete check the name.
//!
//! Each rule is a table of rows. Every row is a small edit of a valid object with a name of its
//! own, and [`Table::check`] sends it through both Create and Update (see [`Row::check`]), so
//! one server serves a whole table.

use hostendpoint_api::pb;
use hostendpoint_tests::*;
use tonic::{Code, Status};

/// The node of every row's base object.
const NODE: &str = "node-1";

/// The message of a name that fails the DNS-1123 subdomain regex (spec §2.1).
const NAME_REGEX_REASON: &str = "lower case alphanumeric characters, '-' or '.'";
const NAME_REGEX: &str = r"regex: [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

/// One case: an object and the fields it must be rejected for (none: it is valid).
#[derive(Debug)]
struct Row {
    what: String,
    hep: pb::HostEndpoint,
    /// The violated field paths, in order; empty when the object is valid.
    bad: Vec<String>,
    /// Text the description of the (single) violation must contain.
    reason: Option<String>,
}

/// The rows of one rule. Each row starts from `mk_hep("<prefix>-<row number>", NODE)`.
#[derive(Debug)]
struct Table {
    prefix: &'static str,
    rows: Vec<Row>,
}

impl Table {
    fn new(prefix: &'static str) -> Self {
        Self {
            prefix,
            rows: Vec::new(),
        }
    }

    fn row(&mut self, what: String, edit: impl FnOnce(&mut pb::HostEndpoint), bad: &[&str]) {
        let mut hep = mk_hep(&format!("{}-{}", self.prefix, self.rows.len()), NODE);
        edit(&mut hep);
        self.rows.push(Row {
            what,
            hep,
            bad: bad.iter().map(|f| (*f).to_owned()).collect(),
            reason: None,
        });
    }

    /// A valid variant: Create and Update accept it and store it as written.
    fn ok(&mut self, what: impl Into<String>, edit: impl FnOnce(&mut pb::HostEndpoint)) {
        self.row(what.into(), edit, &[]);
    }

    /// An invalid variant, rejected for exactly `fields`, in this order.
    fn bad(
        &mut self,
        what: impl Into<String>,
        fields: &[&str],
        edit: impl FnOnce(&mut pb::HostEndpoint),
    ) {
        self.row(what.into(), edit, fields);
    }

    /// An invalid variant with one violation, on `field`, whose description contains `reason`.
    fn bad_because(
        &mut self,
        what: impl Into<String>,
        field: &str,
        reason: &str,
        edit: impl FnOnce(&mut pb::HostEndpoint),
    ) {
        self.row(what.into(), edit, &[field]);
        if let Some(row) = self.rows.last_mut() {
            row.reason = Some(reason.to_owned());
        }
    }

    /// Runs every row against a fresh server.
    async fn check(self) {
        assert!(!self.rows.is_empty());
        let server = ServerProcess::start();
        let mut client = server.client().await;
        for row in self.rows {
            row.check(&mut client).await;
        }
    }
}

impl Row {
    /// A valid row: Create stores it as written, and an Update with it is accepted.
    ///
    /// An invalid row: Create is rejected and stores nothing; an Update of an existing object
    /// with that name is rejected and leaves the object and the revision as they were; an
    /// Update with `allow_missing` creates nothing.
    async fn check(self, client: &mut ApiClient) {
        let what = &self.what;
        let name = meta(&self.hep).name.clone();
        if self.bad.is_empty() {
            let created = create(client, self.hep.clone()).await;
            assert_eq!(spec(&created), spec(&self.hep), "{what}: stored spec");
            assert_eq!(meta(&created).labels, meta(&self.hep).labels, "{what}");
            assert_eq!(
                meta(&created).annotations,
                meta(&self.hep).annotations,
                "{what}"
            );
            let updated = update(client, self.hep.clone(), false).await;
            let updated = updated.unwrap_or_else(|e| panic!("{what}: update rejected: {e:?}"));
            assert_eq!(updated, created, "{what}: an update with the same content");
            return;
        }

        let before = revision(client).await;
        let created = client
            .create_host_endpoint(pb::CreateHostEndpointRequest {
                host_endpoint: Some(self.hep.clone()),
            })
            .await;
        self.expect_rejected("create", created);
        assert_eq!(revision(client).await, before, "{what}: create wrote");
        let name_is_valid = !self.bad.iter().any(|f| f == "metadata.name");
        if !name_is_valid {
            let upsert = update(client, self.hep.clone(), true).await;
            self.expect_rejected("update with allow_missing", upsert);
            assert_eq!(revision(client).await, before, "{what}: update wrote");
            return;
        }
        assert_code(get(client, &name).await, Code::NotFound);

        let base = create(client, mk_hep(&name, "base-node")).await;
        for allow_missing in [false, true] {
            let updated = update(client, self.hep.clone(), allow_missing).await;
            self.expect_rejected("update", updated);
        }
        let after = get(client, &name).await.expect("the base object is there");
        assert_eq!(after, base, "{what}: a rejected update changed the object");
        assert_eq!(
            revision(client).await,
            meta(&base).resource_version,
            "{what}: a rejected update made a revision"
        );
    }

    fn expect_rejected(&self, call: &str, result: Result<impl std::fmt::Debug, Status>) {
        let what = &self.what;
        let status = match result {
            Ok(accepted) => panic!("{what}: {call} accepted it: {accepted:?}"),
            Err(status) => status,
        };
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        let violations = field_violations(&status);
        let fields: Vec<_> = violations.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, self.bad, "{what}: {call}: {violations:?}");
        if let (Some(reason), [(_, description)]) = (&self.reason, violations.as_slice()) {
            assert!(
                description.contains(reason.as_str()),
                "{what}: {description:?} should say {reason:?}"
            );
        }
        for field in &self.bad {
            assert!(
                status.message().contains(field.as_str()),
                "{what}: the message names {field}: {}",
                status.message()
            );
        }
    }
}

/// The store's revision, as a listing reports it.
async fn revision(client: &mut ApiClient) -> u64 {
    list(client, "", 0, "").await.resource_version
}

fn label_path(key: &str) -> String {
    format!("metadata.labels[{key:?}]")
}

fn annotation_path(key: &str) -> String {
    format!("metadata.annotations[{key:?}]")
}

fn set_name(hep: &mut pb::HostEndpoint, name: &str) {
    meta_mut(hep).name = name.into();
}

fn set_label(hep: &mut pb::HostEndpoint, key: &str, value: &str) {
    meta_mut(hep).labels.insert(key.into(), value.into());
}

fn set_annotation(hep: &mut pb::HostEndpoint, key: &str, value: &str) {
    meta_mut(hep).annotations.insert(key.into(), value.into());
}

/// A DNS-1123 subdomain of exactly `len` bytes, made of dot-separated 63-character labels.
fn long_subdomain(len: usize) -> String {
    let mut name = String::new();
    while name.len() < len {
        if !name.is_empty() {
            name.push('.');
        }
        let label = (len - name.len()).min(63);
        name.push_str(&"a".repeat(label));
    }
    assert_eq!(name.len(), len);
    name
}

#[tokio::test]
async fn name_must_be_a_lower_case_dns1123_subdomain() {
    let mut t = Table::new("name");
    for name in [
        "a",
        "0",
        "endpoint1",
        "host1-auto-hep",
        "a-b.c-d",
        "1.2.3.4",
        "knp.default.fun",
    ] {
        t.ok(format!("name {name:?}"), |h| set_name(h, name));
    }
    let regex_failures = [
        (
            "underscore, which the docs allow but the code rejects",
            "node_01",
        ),
        ("upper case", "Endpoint1"),
        ("all upper case", "EP"),
        ("leading '-'", "-a"),
        ("trailing '-'", "a-"),
        ("leading '.'", ".a"),
        ("trailing '.'", "a."),
        ("empty label", "a..b"),
        ("label ending in '-'", "a-.b"),
        ("space", "a b"),
        ("slash", "a/b"),
        ("colon", "a:b"),
        ("non-ASCII", "caf\u{e9}"),
        ("newline", "a\n"),
    ];
    for (what, name) in regex_failures {
        t.bad_because(
            format!("{what}: {name:?}"),
            "metadata.name",
            NAME_REGEX_REASON,
            |h| set_name(h, name),
        );
    }
    t.bad_because("the regex is quoted", "metadata.name", NAME_REGEX, |h| {
        set_name(h, "Upper")
    });
    t.bad("empty", &["metadata.name"], |h| set_name(h, ""));
    t.ok("253 bytes in 63-character labels", |h| {
        set_name(h, &long_subdomain(253))
    });
    t.ok("253 bytes in one label", |h| set_name(h, &"b".repeat(253)));
    t.bad_because(
        "254 bytes",
        "metadata.name",
        "name is too long by 1 bytes",
        |h| set_name(h, &long_subdomain(254)),
    );
    t.bad_because(
        "300 bytes",
        "metadata.name",
        "name is too long by 47 bytes",
        |h| set_name(h, &"c".repeat(300)),
    );
    t.bad_because(
        "127 two-byte characters are 254 bytes",
        "metadata.name",
        "name is too long by 1 bytes",
        |h| set_name(h, &"\u{e9}".repeat(127)),
    );
    t.check().await;
}

#[tokio::test]
async fn get_and_delete_reject_an_invalid_name_before_looking_it_up() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    create(&mut client, mk_hep("present", NODE)).await;
    let too_long = "d".repeat(254);
    for name in [
        "",
        "Present",
        "pre_sent",
        "-present",
        "a b",
        too_long.as_str(),
    ] {
        let status = assert_code(get(&mut client, name).await, Code::InvalidArgument);
        let violations = field_violations(&status);
        assert_eq!(violations.len(), 1, "get {name:?}: {violations:?}");
        assert_eq!(violations[0].0, "name", "get {name:?}");
        assert_invalid(delete(&mut client, name, 0, "").await, &["name"]);
    }
    let status = assert_code(get(&mut client, &too_long).await, Code::InvalidArgument);
    assert!(
        status.message().contains("name is too long by 1 bytes"),
        "{status:?}"
    );
    assert_code(get(&mut client, "absent").await, Code::NotFound);
    assert_code(delete(&mut client, "absent", 0, "").await, Code::NotFound);
    assert_eq!(revision(&mut client).await, rev(1), "nothing was deleted");
    get(&mut client, "present").await.expect("still there");
}

#[tokio::test]
async fn label_keys_must_be_qualified_names_with_a_lower_case_prefix() {
    let mut t = Table::new("label-key");
    let name_63 = "k".repeat(63);
    let prefix_253 = format!("{}/k", long_subdomain(253));
    for key in [
        "a",
        "type",
        "A",
        "Upper_Name.part-1",
        "0",
        "example.com/key",
        "projectcalico.org/Label",
        "a/b",
        "x.y-z/Name_1",
        name_63.as_str(),
        prefix_253.as_str(),
    ] {
        t.ok(format!("label key {key:?}"), |h| set_label(h, key, "v"));
    }
    let name_64 = "k".repeat(64);
    let prefix_254 = format!("{}/k", long_subdomain(254));
    let prefixed_64 = format!("example.com/{name_64}");
    for (what, key) in [
        ("upper-case prefix", "ProjectCalico.org/Label"),
        ("upper-case prefix", "Example.com/a"),
        ("empty", ""),
        ("empty prefix", "/a"),
        ("empty name part", "a/"),
        ("two slashes", "a/b/c"),
        ("prefix with '_'", "ex_ample.com/a"),
        ("prefix with an empty label", "example..com/a"),
        ("leading '-'", "-a"),
        ("trailing '-'", "a-"),
        ("leading '_'", "_a"),
        ("trailing '.'", "a."),
        ("space", "a b"),
        ("colon", "a:b"),
        ("at sign", "a@b"),
        ("name part of 64", name_64.as_str()),
        ("prefixed name part of 64", prefixed_64.as_str()),
        ("prefix of 254", prefix_254.as_str()),
    ] {
        t.bad(
            format!("{what}: label key {key:?}"),
            &[label_path(key).as_str()],
            |h| set_label(h, key, "v"),
        );
    }
    t.check().await;
}

#[tokio::test]
async fn label_values_may_be_empty_and_are_at_most_63_characters() {
    let mut t = Table::new("label-value");
    let value_63 = "v".repeat(63);
    for value in [
        "",
        "database",
        "A",
        "0",
        "Mixed-Case_value.1",
        value_63.as_str(),
    ] {
        t.ok(format!("label value {value:?}"), |h| {
            set_label(h, "key", value)
        });
    }
    let value_64 = "v".repeat(64);
    for (what, value) in [
        ("64 characters", value_64.as_str()),
        ("leading '-'", "-a"),
        ("trailing '-'", "a-"),
        ("leading '_'", "_a"),
        ("trailing '.'", "a."),
        ("space", "a b"),
        ("slash", "a/b"),
        ("colon", "a:b"),
        ("non-ASCII", "caf\u{e9}"),
    ] {
        t.bad(
            format!("{what}: label value {value:?}"),
            &[label_path("key").as_str()],
            |h| set_label(h, "key", value),
        );
    }
    t.check().await;
}

#[tokio::test]
async fn annotation_keys_are_lower_cased_before_the_qualified_name_check() {
    let mut t = Table::new("annotation-key");
    let upper_prefix_253 = format!("{}/k", long_subdomain(253).to_uppercase());
    for key in [
        "ProjectCalico.org/Label",
        "Example.COM/Key",
        "a",
        "note",
        "example.com/some-note",
        upper_prefix_253.as_str(),
    ] {
        t.ok(format!("annotation key {key:?}"), |h| {
            set_annotation(h, key, "any text: even / spaces, \"quotes\" and \u{e9}")
        });
    }
    t.bad(
        "the same key as a label key",
        &[label_path("ProjectCalico.org/Label").as_str()],
        |h| set_label(h, "ProjectCalico.org/Label", "v"),
    );
    t.ok("the annotation value may be empty", |h| {
        set_annotation(h, "a", "")
    });
    let name_64 = "k".repeat(64);
    let prefix_254 = format!("{}/k", long_subdomain(254));
    for (what, key) in [
        ("empty", ""),
        ("empty prefix", "/a"),
        ("empty name part", "ProjectCalico.org/"),
        ("two slashes", "a/b/c"),
        ("prefix with '_'", "Ex_ample.com/a"),
        ("leading '-'", "-a"),
        ("space", "a b"),
        ("name part of 64", name_64.as_str()),
        ("prefix of 254", prefix_254.as_str()),
    ] {
        t.bad(
            format!("{what}: annotation key {key:?}"),
            &[annotation_path(key).as_str()],
            |h| set_annotation(h, key, "v"),
        );
    }
    t.check().await;
}

#[tokio::test]
async fn annotations_total_at_most_256_kib_of_keys_and_values() {
    const LIMIT: usize = 256 * 1024;
    let mut t = Table::new("annotation-size");
    t.ok("one annotation of exactly 256 KiB", |h| {
        set_annotation(h, "big", &"x".repeat(LIMIT - 3))
    });
    t.ok("two annotations totalling exactly 256 KiB", |h| {
        set_annotation(h, "a", &"x".repeat(LIMIT / 2 - 1));
        set_annotation(h, "b", &"x".repeat(LIMIT / 2 - 1));
    });
    t.bad_because(
        "one annotation one byte over",
        "metadata.annotations",
        "262144",
        |h| set_annotation(h, "big", &"x".repeat(LIMIT - 2)),
    );
    t.bad_because(
        "two annotations one byte over together, each well under",
        "metadata.annotations",
        "262144",
        |h| {
            set_annotation(h, "a", &"x".repeat(LIMIT / 2 - 1));
            set_annotation(h, "bb", &"x".repeat(LIMIT / 2 - 1));
        },
    );
    t.bad_because(
        "the limit counts bytes, not characters",
        "metadata.annotations",
        "262144",
        |h| set_annotation(h, "big", &"\u{e9}".repeat(LIMIT / 2)),
    );
    t.ok("labels do not count towards it", |h| {
        set_annotation(h, "big", &"x".repeat(LIMIT - 3));
        set_label(h, "key", &"v".repeat(63));
    });
    t.check().await;
}

#[tokio::test]
async fn node_is_required_and_must_be_a_lower_case_dns1123_subdomain() {
    let mut t = Table::new("node");
    let node_253 = long_subdomain(253);
    for node in ["host1", "0", "node-1.example.com", node_253.as_str()] {
        t.ok(format!("node {node:?}"), |h| spec_mut(h).node = node.into());
    }
    t.bad_because("missing", "spec.node", "node must be specified", |h| {
        spec_mut(h).node.clear()
    });
    let node_254 = long_subdomain(254);
    for (what, node) in [
        ("upper case", "Node01"),
        ("underscore", "node_01"),
        ("leading '-'", "-node"),
        ("trailing '.'", "node."),
        ("space", "node 1"),
        ("254 characters", node_254.as_str()),
    ] {
        t.bad(format!("{what}: node {node:?}"), &["spec.node"], |h| {
            spec_mut(h).node = node.into()
        });
    }
    t.bad(
        "no node and no interface or IPs: two violations",
        &["spec.node", "spec.interfaceName"],
        |h| *spec_mut(h) = pb::HostEndpointSpec::default(),
    );
    t.check().await;
}

#[tokio::test]
async fn interface_name_is_star_or_a_linux_name_of_at_most_15_characters() {
    let mut t = Table::new("interface");
    for name in [
        "*",
        "eth0",
        "bond0.2103",
        "Eth0",
        "br_ex",
        "veth-1a2b",
        "a",
        "-",
        "abcdefghijklmno",
        "ens3f0.100",
    ] {
        t.ok(format!("interface {name:?}"), |h| {
            spec_mut(h).interface_name = name.into()
        });
    }
    for (what, name) in [
        ("16 characters", "abcdefghijklmnop"),
        ("a glob", "eth*"),
        ("two stars", "**"),
        ("star and space", "* "),
        ("an alias with ':'", "eth0:1"),
        ("'#'", "eth#0"),
        ("'&'", "a&b"),
        ("space", "eth 0"),
        ("slash", "eth0/1"),
        ("trailing newline", "eth0\n"),
        ("non-ASCII", "eth\u{e9}"),
    ] {
        t.bad(
            format!("{what}: interface {name:?}"),
            &["spec.interfaceName"],
            |h| spec_mut(h).interface_name = name.into(),
        );
    }
    t.check().await;
}

#[tokio::test]
async fn interface_name_or_expected_ips_must_be_given() {
    let mut t = Table::new("either");
    t.ok("interface only", |h| {
        spec_mut(h).interface_name = "eth1".into()
    });
    t.ok("expected IPs only", |h| {
        let s = spec_mut(h);
        s.interface_name.clear();
        s.expected_ips = vec!["10.0.0.1".into()];
    });
    t.ok("both", |h| {
        spec_mut(h).expected_ips = vec!["fd00::1".into()]
    });
    t.ok("'*' with expected IPs", |h| {
        let s = spec_mut(h);
        s.interface_name = "*".into();
        s.expected_ips = vec!["10.0.0.1".into(), "10.0.0.2".into()];
    });
    t.bad_because(
        "neither",
        "spec.interfaceName",
        "at least one of interfaceName or expectedIPs must be specified",
        |h| spec_mut(h).interface_name.clear(),
    );
    t.bad_because(
        "an empty expectedIPs list counts as absent",
        "spec.interfaceName",
        "at least one of interfaceName or expectedIPs must be specified",
        |h| {
            let s = spec_mut(h);
            s.interface_name.clear();
            s.expected_ips = Vec::new();
            s.profiles = vec!["prof1".into()];
        },
    );
    t.bad(
        "an invalid IP still counts as given",
        &["spec.expectedIPs[0]"],
        |h| {
            let s = spec_mut(h);
            s.interface_name.clear();
            s.expected_ips = vec!["not-an-ip".into()];
        },
    );
    t.check().await;
}

#[tokio::test]
async fn expected_ips_must_be_bare_ipv4_or_ipv6_addresses() {
    let mut t = Table::new("ip");
    for ip in [
        "192.168.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "10.0.0.10",
        "fd00::1",
        "::",
        "::1",
        "FE80::1",
        "2001:db8:0:0:0:0:0:1",
        "::ffff:10.1.2.3",
        "::10.1.2.3",
    ] {
        t.ok(format!("expected IP {ip:?}"), |h| {
            spec_mut(h).expected_ips = vec![ip.into()]
        });
    }
    t.ok("duplicates", |h| {
        spec_mut(h).expected_ips = vec!["10.0.0.1".into(), "10.0.0.1".into()]
    });
    t.ok("IPv4 and IPv6 mixed, order kept", |h| {
        spec_mut(h).expected_ips = vec!["fd00::2".into(), "10.0.0.9".into(), "fd00::1".into()]
    });
    for (what, ip) in [
        ("CIDR", "10.0.0.0/24"),
        ("CIDR /32", "10.0.0.1/32"),
        ("IPv6 CIDR", "fd00::/64"),
        ("IPv6 /128", "fd00::1/128"),
        ("zone", "fe80::1%eth0"),
        ("empty", ""),
        ("leading space", " 10.0.0.1"),
        ("trailing space", "10.0.0.1 "),
        ("trailing newline", "10.0.0.1\n"),
        ("leading zero", "010.0.0.1"),
        ("leading zero in the last octet", "10.0.0.01"),
        ("three octets", "10.0.0"),
        ("five octets", "1.2.3.4.5"),
        ("octet over 255", "256.0.0.1"),
        ("a host name", "host1"),
        ("two '::'", "1::2::3"),
        ("IPv6 group of five digits", "fd00::12345"),
        ("brackets", "[fd00::1]"),
        ("with a port", "10.0.0.1:80"),
    ] {
        t.bad(
            format!("{what}: expected IP {ip:?}"),
            &["spec.expectedIPs[0]"],
            |h| spec_mut(h).expected_ips = vec![ip.into()],
        );
    }
    t.bad_because(
        "the path names the bad element",
        "spec.expectedIPs[2]",
        "10.0.0.0/8",
        |h| {
            spec_mut(h).expected_ips =
                vec!["10.0.0.1".into(), "fd00::1".into(), "10.0.0.0/8".into()]
        },
    );
    t.bad(
        "every bad element is named",
        &["spec.expectedIPs[0]", "spec.expectedIPs[2]"],
        |h| spec_mut(h).expected_ips = vec!["x".into(), "10.0.0.1".into(), "y".into()],
    );
    t.check().await;
}

#[tokio::test]
async fn profiles_must_be_dns1123_subdomains() {
    let mut t = Table::new("profile");
    for profile in [
        "knp.default.fun",
        "knp.default.funner.11234-a",
        "fun-funner1234",
        "projectcalico-default-allow",
        "0",
    ] {
        t.ok(format!("profile {profile:?}"), |h| {
            spec_mut(h).profiles = vec![profile.into()]
        });
    }
    t.ok("order is kept", |h| {
        spec_mut(h).profiles = vec!["b".into(), "a".into(), "c".into()]
    });
    t.ok("duplicates", |h| {
        spec_mut(h).profiles = vec!["p".into(), "p".into()]
    });
    for (what, profile) in [
        ("leading '.'", ".fun"),
        ("trailing '.'", "fun."),
        ("empty", ""),
        ("upper case", "Fun"),
        ("underscore", "fun_1"),
        ("leading '-'", "-fun"),
        ("space", "a b"),
        ("slash", "knp/fun"),
    ] {
        t.bad(
            format!("{what}: profile {profile:?}"),
            &["spec.profiles[0]"],
            |h| spec_mut(h).profiles = vec![profile.into()],
        );
    }
    t.bad(
        "the path names the bad element",
        &["spec.profiles[1]"],
        |h| spec_mut(h).profiles = vec!["ok".into(), ".fun".into()],
    );
    t.check().await;
}

#[tokio::test]
async fn port_names_follow_the_iana_service_name_rule() {
    let mut t = Table::new("port-name");
    for name in [
        "http",
        "web-8080",
        "a",
        "a1-b2",
        "8080a",
        "abcdefghijklmno",
        "some-port",
    ] {
        t.ok(format!("port name {name:?}"), |h| {
            spec_mut(h).ports = vec![mk_port(name, "TCP", 80)]
        });
    }
    t.ok("two ports with the same name", |h| {
        spec_mut(h).ports = vec![
            mk_port("a-valid-port", "TCP", 1234),
            mk_port("a-valid-port", "UDP", 5456),
        ]
    });
    t.ok("two identical ports", |h| {
        spec_mut(h).ports = vec![mk_port("http", "TCP", 80), mk_port("http", "TCP", 80)]
    });
    for (what, name) in [
        ("upper case", "HTTP"),
        ("no letter", "8080"),
        ("'--'", "a--b"),
        ("leading '-'", "-http"),
        ("trailing '-'", "http-"),
        ("underscore", "a_b"),
        ("dot", "a.b"),
        ("16 characters", "abcdefghijklmnop"),
        ("space", "a b"),
        ("non-ASCII", "caf\u{e9}"),
        ("empty", ""),
    ] {
        t.bad(
            format!("{what}: port name {name:?}"),
            &["spec.ports[0].name"],
            |h| spec_mut(h).ports = vec![mk_port(name, "TCP", 80)],
        );
    }
    t.check().await;
}

#[tokio::test]
async fn port_protocol_is_tcp_udp_or_sctp_by_case_sensitive_name_or_number() {
    let mut t = Table::new("protocol");
    for protocol in ["TCP", "UDP", "SCTP", "6", "17", "132"] {
        t.ok(format!("protocol {protocol:?}"), |h| {
            spec_mut(h).ports = vec![mk_port("p", protocol, 80)]
        });
    }
    let no_ports = "EndpointPort protocol does not support ports";
    for protocol in ["ICMP", "ICMPv6", "UDPLite", "1", "0", "58", "123", "255"] {
        t.bad_because(
            format!("protocol {protocol:?} has no ports"),
            "spec.ports[0].protocol",
            no_ports,
            |h| spec_mut(h).ports = vec![mk_port("p", protocol, 80)],
        );
    }
    let bad_name = "protocol name invalid";
    for (what, protocol) in [
        ("lower case", "tcp"),
        ("lower case", "udp"),
        ("lower case", "sctp"),
        ("mixed case", "Tcp"),
        ("lower-case ICMP", "icmp"),
        ("over 255, so a name", "256"),
        ("signed, so a name", "+6"),
        ("negative", "-6"),
        ("spaces", " TCP"),
        ("unknown", "foo"),
    ] {
        t.bad_because(
            format!("{what}: protocol {protocol:?}"),
            "spec.ports[0].protocol",
            bad_name,
            |h| spec_mut(h).ports = vec![mk_port("p", protocol, 80)],
        );
    }
    t.bad("empty", &["spec.ports[0].protocol"], |h| {
        spec_mut(h).ports = vec![mk_port("p", "", 80)]
    });
    t.check().await;
}

#[tokio::test]
async fn port_protocol_number_with_leading_zeros_is_that_number() {
    // Calico decodes a protocol string that is a base-10 uint8 as the number, so "06" is TCP
    // and reads back as 6.
    let server = ServerProcess::start();
    let mut client = server.client().await;
    for (i, (written, read)) in [("06", "6"), ("0017", "17"), ("0132", "132")]
        .into_iter()
        .enumerate()
    {
        let mut hep = mk_hep(&format!("leading-zero-{i}"), NODE);
        spec_mut(&mut hep).ports = vec![mk_port("p", written, 80)];
        let created = create(&mut client, hep).await;
        assert_eq!(spec(&created).ports, [mk_port("p", read, 80)], "{written}");
    }
    let mut hep = mk_hep("leading-zero-icmp", NODE);
    spec_mut(&mut hep).ports = vec![mk_port("p", "01", 80)];
    assert_invalid(
        client
            .create_host_endpoint(pb::CreateHostEndpointRequest {
                host_endpoint: Some(hep),
            })
            .await,
        &["spec.ports[0].protocol"],
    );
}

#[tokio::test]
async fn port_number_is_1_to_65535() {
    let mut t = Table::new("port-number");
    for port in [1, 80, 65535] {
        t.ok(format!("port {port}"), |h| {
            spec_mut(h).ports = vec![mk_port("p", "TCP", port)]
        });
    }
    for port in [0, 65536, 70000, u32::MAX] {
        t.bad(format!("port {port}"), &["spec.ports[0].port"], |h| {
            spec_mut(h).ports = vec![mk_port("p", "UDP", port)]
        });
    }
    t.bad(
        "an empty port breaks all three rules",
        &[
            "spec.ports[0].name",
            "spec.ports[0].protocol",
            "spec.ports[0].port",
        ],
        |h| spec_mut(h).ports = vec![pb::EndpointPort::default()],
    );
    t.bad(
        "paths name the bad ports",
        &["spec.ports[1].name", "spec.ports[2].port"],
        |h| {
            spec_mut(h).ports = vec![
                mk_port("ok", "TCP", 80),
                mk_port("Bad", "TCP", 81),
                mk_port("zero", "SCTP", 0),
            ]
        },
    );
    t.check().await;
}

#[tokio::test]
async fn every_bad_field_gets_one_violation_in_field_order_and_the_message_sums_them_up() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    let mut hep = mk_sample();
    set_name(&mut hep, "Bad_Name");
    set_label(&mut hep, "a b", "v");
    set_annotation(&mut hep, "a/b/c", "v");
    {
        let s = spec_mut(&mut hep);
        s.node = "Host1".into();
        s.interface_name = "eth0:1".into();
        s.expected_ips = vec!["10.0.0.0/24".into(), "10.0.0.1".into()];
        s.profiles = vec!["prof1".into(), ".fun".into()];
        s.ports = vec![
            mk_port("ok", "TCP", 80),
            mk_port("HTTP", "tcp", 81),
            mk_port("zero", "UDP", 0),
        ];
    }
    let expected = [
        "metadata.name",
        "metadata.labels[\"a b\"]",
        "metadata.annotations[\"a/b/c\"]",
        "spec.node",
        "spec.interfaceName",
        "spec.expectedIPs[0]",
        "spec.profiles[1]",
        "spec.ports[1].name",
        "spec.ports[1].protocol",
        "spec.ports[2].port",
    ];
    let result = client
        .create_host_endpoint(pb::CreateHostEndpointRequest {
            host_endpoint: Some(hep.clone()),
        })
        .await;
    let status = assert_code(result, Code::InvalidArgument);
    let violations = field_violations(&status);
    let fields: Vec<_> = violations.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, expected, "{violations:?}");
    let message = status.message();
    assert!(
        message.starts_with("invalid host endpoint (10 fields): metadata.name: "),
        "{message}"
    );
    // Every violation appears in the message, in order, as "<field>: <description>".
    let mut from = 0;
    for (field, description) in &violations {
        let part = format!("{field}: {description}");
        let at = message[from..]
            .find(&part)
            .unwrap_or_else(|| panic!("{part:?} missing after byte {from} of {message:?}"));
        from += at + part.len();
    }
    assert_eq!(revision(&mut client).await, rev(0), "nothing was stored");

    // The same object through Update, where an object of that name cannot exist.
    assert_invalid(update(&mut client, hep, true).await, &expected);

    // With a single violation the message names it directly.
    let mut one = mk_hep("one", NODE);
    spec_mut(&mut one).node = "Node01".into();
    let status = assert_code(
        client
            .create_host_endpoint(pb::CreateHostEndpointRequest {
                host_endpoint: Some(one),
            })
            .await,
        Code::InvalidArgument,
    );
    let violations = field_violations(&status);
    assert_eq!(
        status.message(),
        format!("invalid host endpoint: spec.node: {}", violations[0].1)
    );
}

#[tokio::test]
async fn several_bad_labels_are_reported_in_key_order() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    let keys = ["z z", "-a", "m:m", "b_", "Q/x", "k k", "c@"];
    let mut hep = mk_hep("labels", NODE);
    for key in keys {
        set_label(&mut hep, key, "v");
        set_annotation(&mut hep, key, "v");
    }
    set_label(&mut hep, "fine", "bad value");
    let mut sorted: Vec<&str> = keys.to_vec();
    sorted.push("fine");
    sorted.sort_unstable();
    let mut expected: Vec<String> = sorted.iter().map(|k| label_path(k)).collect();
    // Lower-cased, "Q/x" is a valid annotation key.
    let mut annotation_keys: Vec<&str> = keys.into_iter().filter(|k| *k != "Q/x").collect();
    annotation_keys.sort_unstable();
    expected.extend(annotation_keys.iter().map(|k| annotation_path(k)));
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    // Several requests, since a wrong order could match by chance.
    for _ in 0..5 {
        let result = client
            .create_host_endpoint(pb::CreateHostEndpointRequest {
                host_endpoint: Some(hep.clone()),
            })
            .await;
        assert_invalid(result, &expected);
    }
}

#[tokio::test]
async fn rejected_update_of_an_existing_object_changes_nothing() {
    let server = ServerProcess::start();
    let mut client = server.client().await;
    let stored = create(&mut client, mk_sample()).await;
    create(&mut client, mk_hep("other", NODE)).await;
    let before = list(&mut client, "", 0, "").await;
    assert_eq!(before.resource_version, rev(2));

    type Edit = Box<dyn Fn(&mut pb::HostEndpoint)>;
    let edits: Vec<(&str, Edit, &str)> = vec![
        (
            "label key",
            Box::new(|h| set_label(h, "Bad.Prefix/k", "v")),
            "metadata.labels[\"Bad.Prefix/k\"]",
        ),
        (
            "node cleared",
            Box::new(|h| spec_mut(h).node.clear()),
            "spec.node",
        ),
        (
            "interface and IPs cleared",
            Box::new(|h| {
                let s = spec_mut(h);
                s.interface_name.clear();
                s.expected_ips.clear();
            }),
            "spec.interfaceName",
        ),
        (
            "a CIDR",
            Box::new(|h| spec_mut(h).expected_ips.push("10.0.0.0/8".into())),
            "spec.expectedIPs[1]",
        ),
        (
            "lower-case protocol",
            Box::new(|h| spec_mut(h).ports[0].protocol = "tcp".into()),
            "spec.ports[0].protocol",
        ),
    ];
    for (what, edit, field) in edits {
        for with_version in [false, true] {
            let mut edited = if with_version {
                stored.clone()
            } else {
                mk_sample()
            };
            // A valid change alongside the bad one must not be applied either.
            set_label(&mut edited, "tier", "gold");
            edit(&mut edited);
            let result = update(&mut client, edited, false).await;
            let status = assert_code(result, Code::InvalidArgument);
            assert_eq!(
                field_violations(&status)
                    .iter()
                    .map(|(f, _)| f.as_str())
                    .collect::<Vec<_>>(),
                [field],
                "{what}"
            );
        }
    }
    assert_eq!(list(&mut client, "", 0, "").await, before);
    assert_eq!(get(&mut client, "endpoint1").await.expect("found"), stored);

    // The object is still updatable, and the revision moves by exactly one.
    let mut edited = stored.clone();
    set_label(&mut edited, "tier", "gold");
    let updated = update(&mut client, edited, false).await.expect("valid");
    assert_eq!(meta(&updated).resource_version, rev(3));
}
