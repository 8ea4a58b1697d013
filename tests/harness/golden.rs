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
