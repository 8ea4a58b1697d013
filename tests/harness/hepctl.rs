//! Running the `hepctl` binary: a command with nothing taken from the caller's environment,
//! what one run of it did, and the documents it reads.

use std::{
    io::Write as _,
    process::{Child, Command, Stdio},
};

use crate::binary;

/// The environment variables hepctl reads; [`hepctl`] removes them all.
const HEPCTL_ENV: [&str; 10] = [
    "HEPCTL_SERVER",
    "HEPCTL_CONFIG",
    "HEPCTL_CONTEXT",
    "HEPCTL_ALLOW_VERSION_MISMATCH",
    "HEPCTL_LOG",
    "HEPCTL_CA_CERT_FILE",
    "HEPCTL_CERT_FILE",
    "HEPCTL_KEY_FILE",
    "HEPCTL_DIAL_TIMEOUT",
    "HEPCTL_REQUEST_TIMEOUT",
];

/// A minimal host endpoint document `name` on `node`, on interface eth0, as hepctl reads it.
pub fn mk_doc(name: &str, node: &str) -> String {
    format!(
        "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: {name}\n\
         spec:\n  node: {node}\n  interfaceName: eth0\n"
    )
}

/// What one run of hepctl did.
#[derive(Debug)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Everything printed on stdout.
    pub stdout: String,
    /// Everything printed on stderr.
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code and both outputs exactly.
    pub fn expect(&self, code: i32, stdout: &str, stderr: &str) {
        assert_eq!(
            (self.code, self.stdout.as_str(), self.stderr.as_str()),
            (code, stdout, stderr),
            "hepctl exit code, stdout, stderr"
        );
    }

    /// Asserts success and returns stdout.
    pub fn ok(self) -> String {
        assert_eq!(self.code, 0, "hepctl failed: {self:?}");
        self.stdout
    }
}

/// The hepctl binary, with nothing taken from the caller's environment.
pub fn hepctl() -> Command {
    let mut command = Command::new(binary("hepctl"));
    without_hepctl_env(&mut command);
    command
}

/// Keeps the caller's hepctl configuration from `command` (such as a shell that runs hepctl).
pub fn without_hepctl_env(command: &mut Command) -> &mut Command {
    for var in HEPCTL_ENV {
        command.env_remove(var);
    }
    command
}

/// Runs `command` with `stdin` as its input, to the end.
pub fn run(command: &mut Command, stdin: &str) -> Run {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hepctl starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("hepctl reads its stdin");
    finish(child)
}

/// Waits for a hepctl started with piped outputs and returns what it did.
pub fn finish(child: Child) -> Run {
    let output = child.wait_with_output().expect("hepctl runs to the end");
    Run {
        code: output.status.code().expect("hepctl exits, not killed"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}
