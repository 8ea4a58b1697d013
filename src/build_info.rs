//! What this build is: the crate version and the git commit it was built from, as every binary
//! prints it in `--version` and the server logs it at start-up.

use std::sync::LazyLock;

/// The release version of the workspace.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The response header in which hostendpointd states its [`long_version`] on every answer.
pub const VERSION_HEADER: &str = "hostendpointd-version";

/// The git commit the build was made from, abbreviated as git abbreviates it
/// (`VERGEN_IDEMPOTENT_OUTPUT` when built outside a git checkout).
pub const COMMIT: &str = env!("VERGEN_GIT_SHA");

/// `0.1.0 (commit 0123456)`: what `--version` prints after the binary's name.
pub fn long_version() -> &'static str {
    static LONG: LazyLock<String> = LazyLock::new(|| format!("{VERSION} (commit {COMMIT})"));
    LONG.as_str()
}
