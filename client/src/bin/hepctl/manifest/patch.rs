//! `patch -p PATCH -t TYPE`: a patch applied to a stored host endpoint's JSON document.
//!
//! - `merge` is RFC 7386 and `json` is RFC 6902, both by the `json-patch` crate.
//! - `strategic` (the default, and the only kind calicoctl applies) is Kubernetes' strategic
//!   merge patch. None of HostEndpoint's lists has a merge strategy (no `patchStrategy` tag in
//!   Calico's Go types), so it merges as RFC 7386 does (maps key by key, `null` removes,
//!   lists replaced) apart from its `$patch` directives. `json-patch` has no strategic merge,
//!   hence the few lines here that handle `$patch: replace` and `$patch: delete` on a map
//!   before the merge; other directives (`$retainKeys`, `$setElementOrder/...`,
//!   `$deleteFromPrimitiveList/...`) only matter for merge-keyed lists and are refused.

use serde_json::{Map, Value};

/// How a patch is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PatchType {
    /// Kubernetes' strategic merge patch (calicoctl's).
    Strategic,
    /// JSON Merge Patch, RFC 7386.
    Merge,
    /// JSON Patch, RFC 6902: a list of operations.
    Json,
}

/// The strategic merge directive key.
const DIRECTIVE: &str = "$patch";

/// Applies `patch` (JSON text) to `document`, calicoctl's message on failure.
pub(crate) fn apply(document: &mut Value, patch: &str, kind: PatchType) -> Result<(), String> {
    let fail = |err: &dyn std::fmt::Display| format!("performing {} patch: {err}", kind.name());
    let patch: Value = serde_json::from_str(patch).map_err(|e| fail(&e))?;
    match kind {
        PatchType::Merge => json_patch::merge(document, &patch),
        PatchType::Json => {
            let operations: json_patch::Patch =
                serde_json::from_value(patch).map_err(|e| fail(&e))?;
            json_patch::patch(document, &operations).map_err(|e| fail(&e))?;
        }
        PatchType::Strategic => strategic(document, patch).map_err(|e| fail(&e))?,
    }
    Ok(())
}

impl PatchType {
    fn name(self) -> &'static str {
        match self {
            Self::Strategic => "strategic merge",
            Self::Merge => "JSON merge",
            Self::Json => "JSON",
        }
    }
}

/// A strategic merge of a patch into a document whose lists all replace.
fn strategic(document: &mut Value, patch: Value) -> Result<(), String> {
    let Value::Object(mut fields) = patch else {
        return Err("a strategic merge patch is a JSON object".into());
    };
    match fields.remove(DIRECTIVE) {
        None => {}
        Some(Value::String(d)) if d == "replace" => {
            *document = Value::Object(without_directives(fields)?);
            return Ok(());
        }
        Some(Value::String(d)) if d == "delete" => {
            *document = Value::Null;
            return Ok(());
        }
        Some(other) => return Err(format!("unknown {DIRECTIVE} directive {other}")),
    }
    if let Some(key) = fields.keys().find(|k| k.starts_with('$')) {
        return Err(format!("the directive {key} is not supported here"));
    }
    if !document.is_object() {
        *document = Value::Object(Map::new());
    }
    let Value::Object(target) = document else {
        return Ok(());
    };
    for (key, value) in fields {
        match value {
            Value::Null => {
                target.remove(&key);
            }
            Value::Object(_) => {
                let slot = target.entry(key.clone()).or_insert(Value::Null);
                strategic(slot, value)?;
                // `$patch: delete` leaves the field empty: remove it, as null does.
                if slot.is_null() {
                    target.remove(&key);
                }
            }
            other => {
                target.insert(key, other);
            }
        }
    }
    Ok(())
}

/// A replacing map, whose own maps may not carry directives.
fn without_directives(fields: Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut merged = Value::Object(Map::new());
    strategic(&mut merged, Value::Object(fields))?;
    match merged {
        Value::Object(map) => Ok(map),
        _ => Ok(Map::new()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patched(document: Value, patch: &str, kind: PatchType) -> Result<Value, String> {
        let mut document = document;
        apply(&mut document, patch, kind).map(|()| document)
    }

    fn stored() -> Value {
        json!({
            "metadata": {"name": "a", "labels": {"x": "1", "y": "2"}},
            "spec": {"node": "n1", "expectedIPs": ["10.0.0.1", "10.0.0.2"]}
        })
    }

    #[test]
    fn strategic_merges_maps_replaces_lists_and_removes_nulls() {
        let out = patched(
            stored(),
            r#"{"metadata": {"labels": {"y": null, "z": "3"}}, "spec": {"expectedIPs": ["10.0.0.9"]}}"#,
            PatchType::Strategic,
        )
        .expect("a valid patch");
        assert_eq!(
            out,
            json!({
                "metadata": {"name": "a", "labels": {"x": "1", "z": "3"}},
                "spec": {"node": "n1", "expectedIPs": ["10.0.0.9"]}
            })
        );
    }

    #[test]
    fn strategic_directives_replace_or_delete_a_map() {
        let replaced = patched(
            stored(),
            r#"{"metadata": {"labels": {"$patch": "replace", "only": "this"}}}"#,
            PatchType::Strategic,
        )
        .expect("replace");
        assert_eq!(replaced["metadata"]["labels"], json!({"only": "this"}));
        let deleted = patched(
            stored(),
            r#"{"metadata": {"labels": {"$patch": "delete"}}}"#,
            PatchType::Strategic,
        )
        .expect("delete");
        assert_eq!(deleted["metadata"], json!({"name": "a"}));
        let unknown = patched(
            stored(),
            r#"{"$retainKeys": ["spec"]}"#,
            PatchType::Strategic,
        );
        assert_eq!(
            unknown,
            Err(
                "performing strategic merge patch: the directive $retainKeys is not supported here"
                    .into()
            )
        );
    }

    #[test]
    fn merge_and_json_patches_are_the_rfcs() {
        let merged =
            patched(stored(), r#"{"spec": {"node": "n2"}}"#, PatchType::Merge).expect("merge");
        assert_eq!(merged["spec"]["node"], "n2");
        let ops = r#"[{"op": "add", "path": "/spec/expectedIPs/-", "value": "10.0.0.3"},
                      {"op": "remove", "path": "/metadata/labels/x"}]"#;
        let json = patched(stored(), ops, PatchType::Json).expect("json patch");
        assert_eq!(json["spec"]["expectedIPs"][2], "10.0.0.3");
        assert_eq!(json["metadata"]["labels"], json!({"y": "2"}));
        let bad = patched(
            stored(),
            r#"[{"op": "remove", "path": "/nope"}]"#,
            PatchType::Json,
        )
        .expect_err("no such path");
        assert!(
            bad.starts_with("performing JSON patch: operation '/0' failed"),
            "{bad}"
        );
    }

    #[test]
    fn a_patch_that_is_not_json_says_so() {
        let err = patched(stored(), "{spec", PatchType::Strategic).expect_err("not JSON");
        assert!(
            err.starts_with("performing strategic merge patch: key must be a string"),
            "{err}"
        );
    }
}
