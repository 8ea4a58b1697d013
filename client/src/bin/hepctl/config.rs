//! `-c/--config`: a connection file in the style of calicoctl's `CalicoAPIConfig`, read as
//! calicoctl reads its own (`apiconfig.LoadClientConfigFromFile`): strictly, and only when it
//! exists, unless it was named on purpose.
//!
//! ```yaml
//! apiVersion: projectcalico.org/v3
//! kind: CalicoAPIConfig
//! metadata: {}
//! spec:
//!   server: https://hostendpointd.example:50051
//!   caCertFile: /etc/hepctl/ca.pem
//!   certFile: /etc/hepctl/admin.pem
//!   keyFile: /etc/hepctl/admin-key.pem
//! ```
//!
//! A flag, or its environment variable, overrides the file field by field.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::kind::API_VERSION;

/// Where the file is looked for when neither `-c` nor `HEPCTL_CONFIG` names one; a file
/// missing there is no error (the flags and defaults apply).
pub(crate) const DEFAULT_CONFIG: &str = "/etc/calico/hepctl.cfg";

/// The kind of the file, as calicoctl names its own.
const KIND: &str = "CalicoAPIConfig";

/// What the file says; every field may be left out.
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ConfigSpec {
    /// The server, as `--server` takes it.
    pub(crate) server: Option<String>,
    /// As `--ca-cert-file`.
    pub(crate) ca_cert_file: Option<PathBuf>,
    /// As `--cert-file`.
    pub(crate) cert_file: Option<PathBuf>,
    /// As `--key-file`.
    pub(crate) key_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    /// Kept for the shape; nothing in it is used.
    #[serde(default)]
    #[allow(dead_code)]
    metadata: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    spec: ConfigSpec,
}

/// The file named by `-c`/`HEPCTL_CONFIG` (`named`), or the default one if it exists;
/// calicoctl's messages for one that cannot be used.
pub(crate) fn load(named: Option<&Path>) -> Result<ConfigSpec, String> {
    let path = named.unwrap_or(Path::new(DEFAULT_CONFIG));
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(_) if named.is_none() => return Ok(ConfigSpec::default()),
        Err(_) => return Err(format!("Error reading config file: {}", path.display())),
    };
    parse(&text).map_err(|reason| match reason {
        Invalid::Syntax(err) => format!(
            "Failed to create Calico API client: syntax error in {}: failed to parse config as \
             YAML/JSON: {err}",
            path.display()
        ),
        Invalid::Content(err) => format!("Failed to create Calico API client: {err}"),
    })
}

/// Why a file cannot be used.
#[derive(Debug, PartialEq)]
enum Invalid {
    /// Not YAML or JSON of the right shape.
    Syntax(String),
    /// Another apiVersion or kind.
    Content(String),
}

fn parse(text: &str) -> Result<ConfigSpec, Invalid> {
    let file: ConfigFile =
        serde_yaml_ng::from_str(text).map_err(|e| Invalid::Syntax(e.to_string()))?;
    if file.api_version != API_VERSION {
        return Err(Invalid::Content(format!(
            "invalid config file: unknown APIVersion '{}'",
            file.api_version
        )));
    }
    if file.kind != KIND {
        return Err(Invalid::Content(format!(
            "invalid config file: expected kind '{KIND}', got '{}'",
            file.kind
        )));
    }
    Ok(file.spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\n";

    #[test]
    fn the_spec_gives_the_server_and_the_tls_files() {
        let text =
            format!("{HEAD}metadata: {{}}\nspec:\n  server: https://h:1\n  caCertFile: ca.pem\n");
        let spec = parse(&text).expect("valid");
        assert_eq!(spec.server.as_deref(), Some("https://h:1"));
        assert_eq!(spec.ca_cert_file, Some(PathBuf::from("ca.pem")));
        assert_eq!(spec.cert_file, None);
    }

    #[test]
    fn unknown_fields_kinds_and_versions_are_refused() {
        let unknown = parse(&format!("{HEAD}spec:\n  etcdEndpoints: x\n"));
        assert!(
            matches!(&unknown, Err(Invalid::Syntax(e)) if e.contains("unknown field `etcdEndpoints`")),
            "{unknown:?}"
        );
        assert_eq!(
            parse("apiVersion: v1\nkind: CalicoAPIConfig\n"),
            Err(Invalid::Content(
                "invalid config file: unknown APIVersion 'v1'".into()
            ))
        );
        assert_eq!(
            parse("apiVersion: projectcalico.org/v3\nkind: Config\n"),
            Err(Invalid::Content(
                "invalid config file: expected kind 'CalicoAPIConfig', got 'Config'".into()
            ))
        );
    }

    #[test]
    fn a_missing_file_is_an_error_only_when_named() {
        let missing = Path::new("/nonexistent/hepctl.cfg");
        assert_eq!(
            load(Some(missing)),
            Err("Error reading config file: /nonexistent/hepctl.cfg".into())
        );
    }
}
