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
