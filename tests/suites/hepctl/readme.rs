//! The README's hepctl first steps, run as written: the shell block in a fresh directory, with
//! the built hepctl first on `PATH`, against a real server; its output must be the README's.

use std::process::Command;

use hostendpoint_tests::{ServerProcess, binary, tools::workspace_root};

use super::mask;

/// The marker before the README's runnable hepctl block.
const MARKER: &str = "<!-- hepctl:first-steps";

/// The ```sh block after the marker and the ```text block after it.
fn first_steps() -> (String, String) {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README.md");
    let after = &readme[readme
        .find(MARKER)
        .expect("the README marks its first steps")..];
    let block = |lang: &str, from: &str| -> (String, usize) {
        let open = format!("```{lang}\n");
        let start = from.find(&open).expect("a fenced block") + open.len();
        let len = from[start..].find("\n```").expect("a closed block");
        (from[start..start + len].to_owned(), start + len)
    };
    let (script, end) = block("sh", after);
    let (shown, _) = block("text", &after[end..]);
    (script, shown)
}

#[test]
fn the_readme_first_steps_print_what_the_readme_shows() {
    let server = ServerProcess::start();
    let (script, shown) = first_steps();
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
    let printed: Vec<String> = stdout.lines().map(|l| l.trim_end().to_owned()).collect();
    assert_eq!(mask(&printed.join("\n")), mask(&shown));
}
