//! `-o go-template=...` and `-o go-template-file=...`: Go's text/template by the `gtmpl`
//! crate, over the data calicoctl gives its templates.
//!
//! As calicoctl, the template's dot is the list of results (one HostEndpointList for a
//! listing, one HostEndpoint per name), with Go's field names: `.Items`, `.Kind`,
//! `.ObjectMeta.Name` or the promoted `.Name`, `.Labels`, `.Spec.Node`, `.Spec.ExpectedIPs`,
//! `.Spec.Ports`, each port's `.Name`, `.Protocol` and `.Port`; and calicoctl's functions
//! `join` and `joinAndTruncate`. A timestamp prints as Go prints a `metav1.Time`.
//!
//! gtmpl differs from Go where it prints a whole list or map (in Rust's debug form) and where
//! it ranges over a map (in no set order): join them, or index a map (`index .Labels "k"`).

use std::{collections::HashMap, time::SystemTime};

use gtmpl::{Context, FuncError, Template, Value};
use hostendpoint_api::model::{EndpointPort, HostEndpoint, ObjectMeta, Revision, StringMap};

use super::Fetched;
use crate::kind::{API_VERSION, KIND, LIST_KIND};

/// The text of `template` over `results`, or why it cannot be had.
pub(crate) fn render(template: &str, results: &[Fetched]) -> Result<String, String> {
    let mut parsed = Template::default();
    parsed.add_funcs(&[
        ("join", join as gtmpl::Func),
        ("joinAndTruncate", join_and_truncate as gtmpl::Func),
    ]);
    parsed.parse(template).map_err(|e| e.to_string())?;
    let data = Value::Array(results.iter().map(resource).collect());
    parsed
        .render(&Context::from(data))
        .map_err(|e| e.to_string())
}

fn resource(result: &Fetched) -> Value {
    match result {
        Fetched::One(hep) => host_endpoint(hep),
        Fetched::List { items, revision } => list(items, *revision),
    }
}

/// A HostEndpointList: TypeMeta and ListMeta, whose fields Go promotes, and Items.
fn list(items: &[HostEndpoint], revision: Revision) -> Value {
    let list_meta = object([
        ("SelfLink", string("")),
        ("ResourceVersion", string(&revision.to_string())),
        ("Continue", string("")),
    ]);
    let mut fields = type_meta(LIST_KIND);
    fields.extend(promoted(&list_meta));
    fields.insert("ListMeta".into(), list_meta);
    fields.insert(
        "Items".into(),
        Value::Array(items.iter().map(host_endpoint).collect()),
    );
    Value::Object(fields)
}

/// A HostEndpoint: TypeMeta and ObjectMeta, whose fields Go promotes, and Spec.
fn host_endpoint(hep: &HostEndpoint) -> Value {
    let meta = object_meta(&hep.metadata);
    let spec = &hep.spec;
    let mut fields = type_meta(KIND);
    fields.extend(promoted(&meta));
    fields.insert("ObjectMeta".into(), meta);
    fields.insert(
        "Spec".into(),
        object([
            ("Node", string(&spec.node)),
            ("InterfaceName", string(&spec.interface_name)),
            ("ExpectedIPs", strings(&spec.expected_ips)),
            ("Profiles", strings(&spec.profiles)),
            ("Ports", Value::Array(spec.ports.iter().map(port).collect())),
        ]),
    );
    Value::Object(fields)
}

fn type_meta(kind: &str) -> HashMap<String, Value> {
    let type_meta = object([("Kind", string(kind)), ("APIVersion", string(API_VERSION))]);
    let mut fields = promoted(&type_meta);
    fields.insert("TypeMeta".into(), type_meta);
    fields
}

fn object_meta(meta: &ObjectMeta) -> Value {
    object([
        ("Name", string(&meta.name)),
        ("Namespace", string("")),
        ("UID", string(&meta.uid)),
        (
            "ResourceVersion",
            string(&revision_text(meta.resource_version)),
        ),
        (
            "CreationTimestamp",
            string(&go_time(meta.creation_timestamp)),
        ),
        ("Labels", string_map(&meta.labels)),
        ("Annotations", string_map(&meta.annotations)),
    ])
}

fn port(port: &EndpointPort) -> Value {
    object([
        ("Name", string(&port.name)),
        ("Protocol", string(&port.protocol.to_string())),
        ("Port", Value::from(u64::from(port.port))),
    ])
}

/// The fields of an embedded struct, which Go lets a template name directly.
fn promoted(embedded: &Value) -> HashMap<String, Value> {
    match embedded {
        Value::Object(fields) => fields.clone(),
        _ => HashMap::new(),
    }
}

/// Go's empty string for no revision.
fn revision_text(revision: Revision) -> String {
    if revision == 0 {
        String::new()
    } else {
        revision.to_string()
    }
}

/// `time.Time.String()` of a metav1.Time in UTC (`2024-05-01 10:00:00 +0000 UTC`); the zero
/// time for none, as Go prints it.
fn go_time(time: Option<SystemTime>) -> String {
    match time {
        None => "0001-01-01 00:00:00 +0000 UTC".into(),
        Some(time) => {
            let rfc3339 = humantime::format_rfc3339_seconds(time).to_string();
            let (date, clock) = rfc3339.split_once('T').unwrap_or((&rfc3339, ""));
            format!("{date} {} +0000 UTC", clock.trim_end_matches('Z'))
        }
    }
}

fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn string(text: &str) -> Value {
    Value::String(text.to_owned())
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| string(s)).collect())
}

fn string_map(map: &StringMap) -> Value {
    Value::Map(map.iter().map(|(k, v)| (k.to_owned(), string(v))).collect())
}

// === calicoctl's template functions ===

/// `join LIST SEP`: the items' text joined by SEP (a map's `k=v` pairs, sorted).
fn join(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [items, separator] => Ok(string(&joined(items, &separator.to_string(), 0))),
        _ => Err(FuncError::ExactlyXArgs("join".into(), 2)),
    }
}

/// `joinAndTruncate LIST SEP MAX`: join, cut to MAX characters ending in `...` (0: no limit).
fn join_and_truncate(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [items, separator, Value::Number(max)] => {
            let max = max.as_u64().and_then(|m| usize::try_from(m).ok());
            let max = max.ok_or(FuncError::UnableToConvertFromValue)?;
            Ok(string(&joined(items, &separator.to_string(), max)))
        }
        [_, _, _] => Err(FuncError::UnableToConvertFromValue),
        _ => Err(FuncError::ExactlyXArgs("joinAndTruncate".into(), 3)),
    }
}

fn joined(items: &Value, separator: &str, max: usize) -> String {
    let texts: Vec<String> = match items {
        Value::Nil | Value::NoValue => Vec::new(),
        Value::Array(items) => items.iter().map(Value::to_string).collect(),
        Value::Map(map) | Value::Object(map) => {
            let mut pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
            pairs.sort();
            pairs
        }
        other => vec![other.to_string()],
    };
    let text = texts.join(separator);
    const SUFFIX: &str = "...";
    if max > 0 && text.len() > max {
        let mut cut = max.saturating_sub(SUFFIX.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}{SUFFIX}", &text[..cut])
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use hostendpoint_api::model::HostEndpointSpec;

    use super::*;

    fn mk_hep(name: &str) -> HostEndpoint {
        HostEndpoint {
            metadata: ObjectMeta {
                name: name.into(),
                resource_version: 7,
                labels: [("b", "2"), ("a", "1")].into(),
                creation_timestamp: humantime::parse_rfc3339("2024-05-01T10:00:00Z").ok(),
                ..ObjectMeta::default()
            },
            spec: HostEndpointSpec {
                node: "host1".into(),
                expected_ips: vec!["10.0.0.1".into(), "fd00::1".into()],
                ..HostEndpointSpec::default()
            },
        }
    }

    fn run(template: &str, results: &[Fetched]) -> String {
        render(template, results).expect("the template renders")
    }

    #[test]
    fn templates_see_go_field_names_promoted_fields_and_the_list_of_results() {
        let listing = [Fetched::List {
            items: vec![mk_hep("a"), mk_hep("b")],
            revision: 9,
        }];
        assert_eq!(
            run(
                "{{range .}}{{.Kind}} {{.ResourceVersion}}:{{range .Items}} {{.ObjectMeta.Name}}/{{.Name}}@{{.Spec.Node}}{{end}}{{end}}",
                &listing
            ),
            "HostEndpointList 9: a/a@host1 b/b@host1"
        );
        let one = [Fetched::One(Box::new(mk_hep("a")))];
        assert_eq!(
            run(
                r#"{{range .}}{{join .Spec.ExpectedIPs ","}} {{index .Labels "b"}} {{.CreationTimestamp}}{{end}}"#,
                &one
            ),
            "10.0.0.1,fd00::1 2 2024-05-01 10:00:00 +0000 UTC"
        );
    }

    #[test]
    fn join_sorts_maps_and_join_and_truncate_cuts() {
        let one = [Fetched::One(Box::new(mk_hep("a")))];
        assert_eq!(
            run(r#"{{range .}}{{join .Labels ";"}}{{end}}"#, &one),
            "a=1;b=2"
        );
        assert_eq!(
            run(
                r#"{{range .}}{{joinAndTruncate .Spec.ExpectedIPs "," 10}}{{end}}"#,
                &one
            ),
            "10.0.0...."
        );
    }

    #[test]
    fn a_broken_template_is_an_error() {
        assert!(render("{{range .}", &[]).is_err());
        assert!(render("{{nope .}}", &[]).is_err());
    }
}
