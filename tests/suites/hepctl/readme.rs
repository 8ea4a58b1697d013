//! The README's hepctl first steps, run as written: the shell block in a fresh directory, with
//! the built hepctl first on `PATH`, against a real server; its output must be the README's.

use std::process::Command;

use hostendpoint_tests::{ServerProcess, binary, tools};

use super::mask;

/// The marker before the README's runnable hepctl block.
const MARKER: &str = "<!-- hepctl:first-steps";

#[test]
fn the_readme_first_steps_print_what_the_readme_shows() {
    let server = ServerProcess::start();
    let script = tools::readme_block_after(MARKER, "sh");
    // The first ```text block after the marker follows the script.
    let shown = tools::readme_block_after(MARKER, "text");
    let dir = tempfile::tempdir().expect("tempdir");
    let bin_dir = binary("hepctl").parent().expect("a directory").to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("HEPCTL_SERVER", server.endpoint())
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    // The README drops the trailing spaces calicoctl's tables print.
    let printed: String = stdout
        .lines()
        .map(|l| format!("{}\n", l.trim_end()))
        .collect();
    assert_eq!(mask(&printed), mask(&shown));
}
