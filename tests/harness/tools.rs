//! External tools the tests drive: grpcurl (installed by `./tests/run` under `.tools/`).

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

/// The grpcurl binary: `$GRPCURL`, else the one `./tests/run` installs.
pub fn grpcurl_path() -> PathBuf {
    if let Some(path) = std::env::var_os("GRPCURL") {
        return PathBuf::from(path);
    }
    let path = workspace_root().join(".tools/venv/bin/grpcurl");
    assert!(
        path.exists(),
        "grpcurl is missing at {}: ./tests/run installs it",
        path.display()
    );
    path
}

/// Runs grpcurl with `args` and returns its output.
pub fn grpcurl(args: &[&str]) -> Output {
    Command::new(grpcurl_path())
        .args(args)
        .output()
        .expect("grpcurl runs")
}
