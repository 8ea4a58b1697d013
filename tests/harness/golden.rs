//! Golden files under `tests/golden/`: what a binary prints, compared whole, rewritten with
//! `UPDATE_GOLDEN=1` after an intended change; and calicoctl's own output, never rewritten.

use crate::tools::workspace_root;

/// Compares `actual` with `tests/golden/<dir>/<name>`, or rewrites it with UPDATE_GOLDEN=1.
pub fn assert_golden(dir: &str, name: &str, actual: &str) {
    let path = workspace_root().join("tests/golden").join(dir).join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("golden files have a directory"))
            .expect("the golden directory can be created");
        std::fs::write(&path, actual).expect("the golden file can be written");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "{}: {err}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert!(
        actual == expected,
        "{} differs (run with UPDATE_GOLDEN=1 to accept the new output)\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

/// Compares `actual` with `tests/golden/calicoctl/<name>`: what calicoctl v3.32.0 prints, written
/// by hand from its source and documentation (`tests/golden/calicoctl/README.md` says where
/// each comes from). Never rewritten by UPDATE_GOLDEN: hepctl's output is not the reference.
pub fn assert_calicoctl(name: &str, actual: &str) {
    let path = workspace_root().join("tests/golden/calicoctl").join(name);
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    assert!(
        actual == expected,
        "{} differs from calicoctl's output\n--- calicoctl\n{expected}\n--- hepctl\n{actual}",
        path.display()
    );
}

/// The values the server chooses for an object, and the placeholders golden files hold.
pub const SERVER_CHOSEN: [(&str, &str); 3] = [
    ("uid", "<UID>"),
    ("creationTimestamp", "<TIMESTAMP>"),
    ("resourceVersion", "<RV>"),
];

/// `text` with the value of each of `fields` (a key, YAML's `key: v` or JSON's `"key": v`, of
/// its own on its line) replaced by its placeholder, keeping the value's quoting.
pub fn mask(text: &str, fields: &[(&str, &str)]) -> String {
    let mut masked: Vec<String> = text.lines().map(|line| mask_line(line, fields)).collect();
    if text.ends_with('\n') {
        masked.push(String::new());
    }
    masked.join("\n")
}

fn mask_line(line: &str, fields: &[(&str, &str)]) -> String {
    for (key, placeholder) in fields {
        for pattern in [format!("{key}: "), format!("\"{key}\": ")] {
            let Some(at) = line.find(&pattern) else {
                continue;
            };
            // Only a key of its own: after indentation or a sequence's dash.
            if !line[..at].chars().all(|c| c == ' ' || c == '-') {
                continue;
            }
            let start = at + pattern.len();
            let value = &line[start..];
            let rest = match value.strip_prefix('"') {
                Some(quoted) => {
                    let end = quoted.find('"').map_or(quoted.len(), |i| i + 1);
                    return format!("{}\"{placeholder}\"{}", &line[..start], &quoted[end..]);
                }
                None => &value[value.find(',').unwrap_or(value.len())..],
            };
            return format!("{}{placeholder}{rest}", &line[..start]);
        }
    }
    line.to_owned()
}
