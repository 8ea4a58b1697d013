//! External tools the tests drive: grpcurl and Python with grpcio-tools (installed by
//! `./tests/run` under `.tools/`).

use std::{
    path::PathBuf,
    process::{Command, Output},
};

/// The root of the workspace.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

/// The first ```` ```lang ```` block of the README after `marker` (an HTML comment that marks
/// a block a test runs), without its fences.
pub fn readme_block_after(marker: &str, lang: &str) -> String {
    let readme =
        std::fs::read_to_string(workspace_root().join("README.md")).expect("README.md is readable");
    let (_, after) = readme
        .split_once(marker)
        .unwrap_or_else(|| panic!("the README has the marker {marker:?}"));
    let (_, block) = after
        .split_once(&format!("```{lang}\n"))
        .unwrap_or_else(|| panic!("a ```{lang} block follows {marker:?}"));
    let (block, _) = block.split_once("```").expect("the block is closed");
    block.to_owned()
}

/// An external tool: the path in `$env_var`, else `installed` under the workspace root, where
/// `./tests/run` installs it.
pub fn tool_path(env_var: &str, installed: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var) {
        return PathBuf::from(path);
    }
    let path = workspace_root().join(installed);
    assert!(
        path.exists(),
        "{} is missing: ./tests/run installs it (or set {env_var})",
        path.display()
    );
    path
}

/// The grpcurl binary: `$GRPCURL`, else the one `./tests/run` installs.
pub fn grpcurl_path() -> PathBuf {
    tool_path("GRPCURL", ".tools/venv/bin/grpcurl")
}

/// The Python with grpcio-tools: `$PYTHON`, else the venv `./tests/run` installs.
pub fn python_path() -> PathBuf {
    tool_path("PYTHON", ".tools/venv/bin/python")
}

/// Runs grpcurl with `args` and returns its output.
pub fn grpcurl(args: &[&str]) -> Output {
    Command::new(grpcurl_path())
        .args(args)
        .output()
        .expect("grpcurl runs")
}

/// Runs `tests/python/<script>` with the Python of [`python_path`], passing the `proto/`
/// directory and a fresh directory for the generated stubs before `args`, and returns its
/// output.
pub fn python_script(script: &str, args: &[&std::ffi::OsStr]) -> Output {
    let stubs = tempfile::tempdir().expect("a directory for the stubs");
    let root = workspace_root();
    Command::new(python_path())
        .arg(root.join("tests/python").join(script))
        .arg(root.join("proto"))
        .arg(stubs.path())
        .args(args)
        .output()
        .expect("python runs")
}

/// Asserts that grpcurl succeeded and returns its stdout.
pub fn grpcurl_ok(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "grpcurl failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Asserts that grpcurl succeeded and parses its JSON output.
pub fn grpcurl_json(output: &Output) -> serde_json::Value {
    let text = grpcurl_ok(output);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("grpcurl printed no JSON ({e}):\n{text}"))
}

/// Asserts that grpcurl failed with a gRPC error (not a connection failure) and returns its
/// stderr.
pub fn grpcurl_error(output: &Output) -> String {
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "grpcurl must fail:\nstdout:\n{}\nstderr:\n{err}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(err.starts_with("ERROR:\n"), "not a gRPC error:\n{err}");
    err
}
