//! The command line, in clap's derive style: the doc comments below are the `--help` text.
#![deny(missing_docs)]

use std::{path::PathBuf, time::Duration};

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use clap_complete::{ArgValueCandidates, ArgValueCompleter};
use hostendpoint_api::flag_values::positive_duration;

use crate::{
    commands::completion::{host_endpoint_names, kinds},
    manifest::patch::PatchType,
};

/// A calicoctl-style command line for the Calico host endpoints kept by hostendpointd.
///
/// Files are YAML or JSON `projectcalico.org/v3` documents, as calicoctl reads them: one
/// `HostEndpoint`, several separated by `---`, a `HostEndpointList`, or a list. Resource types
/// on the command line are hostendpoint, hostendpoints, hep and heps, in any case.
#[derive(Debug, Parser)]
#[command(
    name = "hepctl",
    version = hostendpoint_api::build_info::long_version(),
    propagate_version = true
)]
pub(crate) struct Cli {
    /// The hostendpointd gRPC endpoint: an http:// or https:// URL, or host:port (TLS when a
    /// TLS file is given) [default: the config file's, else http://127.0.0.1:50051].
    #[arg(long, global = true, env = "HEPCTL_SERVER", value_name = "URL")]
    pub(crate) server: Option<String>,

    /// A connection file in calicoctl's CalicoAPIConfig style (apiVersion projectcalico.org/v3,
    /// kind CalicoAPIConfig, spec: server, caCertFile, certFile, keyFile); each flag above or
    /// below overrides its field. The default file is read only if it exists
    /// [default: /etc/calico/hepctl.cfg].
    #[arg(
        short = 'c',
        long,
        global = true,
        env = "HEPCTL_CONFIG",
        value_name = "FILE"
    )]
    pub(crate) config: Option<PathBuf>,

    /// Accepted for calicoctl compatibility (its kubeconfig context); hepctl has none.
    #[arg(long, global = true, env = "HEPCTL_CONTEXT", value_name = "CONTEXT")]
    pub(crate) context: Option<String>,

    /// Accepted for calicoctl compatibility; hepctl and hostendpointd never refuse each
    /// other's versions (`hepctl version` shows both).
    #[arg(long, global = true, env = "HEPCTL_ALLOW_VERSION_MISMATCH")]
    pub(crate) allow_version_mismatch: bool,

    /// The CA certificate (PEM) the server's certificate must chain to; without it, the
    /// system's roots.
    #[arg(long, global = true, env = "HEPCTL_CA_CERT_FILE", value_name = "FILE")]
    pub(crate) ca_cert_file: Option<PathBuf>,

    /// The client certificate (PEM) presented to a server that requires one.
    #[arg(
        long,
        global = true,
        env = "HEPCTL_CERT_FILE",
        value_name = "FILE",
        requires = "key_file"
    )]
    pub(crate) cert_file: Option<PathBuf>,

    /// The private key (PEM) of --cert-file.
    #[arg(
        long,
        global = true,
        env = "HEPCTL_KEY_FILE",
        value_name = "FILE",
        requires = "cert_file"
    )]
    pub(crate) key_file: Option<PathBuf>,

    /// The longest the connection to the server may take to open (TCP and TLS), such as
    /// 10s or 1m.
    #[arg(
        long,
        global = true,
        env = "HEPCTL_DIAL_TIMEOUT",
        default_value = "10s",
        value_parser = positive_duration,
        value_name = "DURATION"
    )]
    pub(crate) dial_timeout: Duration,

    /// The longest to wait for the server's answer to each call (for watch: until the watch is
    /// open; its events may take as long as they take); 0 waits forever.
    #[arg(
        long,
        global = true,
        env = "HEPCTL_REQUEST_TIMEOUT",
        default_value = "30s",
        value_parser = humantime::parse_duration,
        value_name = "DURATION"
    )]
    pub(crate) request_timeout: Duration,

    /// Diagnostics written to stderr: off, error, warn, info, debug (or a tracing filter).
    #[arg(
        short = 'l',
        long,
        global = true,
        env = "HEPCTL_LOG",
        default_value = "warn",
        value_parser = hostendpoint_api::logging::check_filter,
        value_name = "LEVEL"
    )]
    pub(crate) log_level: String,

    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create host endpoints from a file or stdin; existing ones are an error.
    Create(CreateArgs),
    /// Create host endpoints, or replace the ones that exist.
    ///
    /// A document without metadata.resourceVersion replaces the stored object whatever its
    /// version (retrying on a concurrent change); with one, the stored object must still have
    /// that version, else the update fails with "update conflict".
    Apply(FileArgs),
    /// Replace existing host endpoints; one that fails does not stop the others.
    ///
    /// The complete spec must be given: it is not a merge. metadata.resourceVersion, when
    /// given, must be the stored one. As calicoctl, the report counts every document sent
    /// to the server, failed ones too, and names the last failure.
    Replace(FileArgs),
    /// Delete host endpoints by type and name, or by file.
    Delete(DeleteArgs),
    /// Print host endpoints: all of them, or the ones named.
    Get(GetArgs),
    /// Set or remove a label of a host endpoint.
    Label(LabelArgs),
    /// Change some fields of a host endpoint in place, by a patch of its JSON document.
    ///
    /// The patch is applied to the stored object, which is then updated with the version
    /// read: a concurrent change makes the update fail, and the patch is applied again to the
    /// new object (up to 5 tries, a second apart), so neither change is lost. A patch that
    /// sets metadata.resourceVersion is not tried again: that version must be the stored one.
    Patch(PatchArgs),
    /// Check documents offline, with the server's own validation; no server is needed.
    ///
    /// Every document is checked; the report says how many passed, and why each other one
    /// did not, as create would.
    Validate(ValidateArgs),
    /// Print hepctl's version and commit, and the server's version.
    ///
    /// The server states its version in every answer; a server that cannot be reached is an
    /// error after hepctl's own lines.
    Version(VersionArgs),
    /// Print every change to host endpoints until interrupted (Ctrl-C).
    ///
    /// The host endpoints that exist when the watch starts come first, each ADDED, then each
    /// change as it happens: ADDED, MODIFIED or DELETED. After a reconnection, only what
    /// changed meanwhile is printed.
    ///
    /// The table (`-o ps`, the default) has a line per event: EVENT, NAME, NODE and
    /// RESOURCEVERSION. A SYNCED line, with the revision, follows the host endpoints that
    /// existed at the start (and the changes found by a listing again after a long
    /// disconnection). Columns are as wide as that first listing needs, and widen for a longer
    /// value later.
    ///
    /// With `-o json` or `-o yaml`, each change is one document: {"type": "ADDED" | "MODIFIED" |
    /// "DELETED", "object": the HostEndpoint as `get -o json` prints it}, with no SYNCED
    /// marker. JSON documents are indented and each ends with a newline; YAML documents each
    /// start with `---`.
    Watch(WatchArgs),
    /// Print a completion script for a shell, such as `source <(hepctl completion bash)`.
    ///
    /// The script runs hepctl at each TAB: host endpoint names after `get hep`, `delete hep`,
    /// `label hep` and `patch hep` come from the server that the line (--server, -c, the TLS
    /// flags), the environment or the config file names, within 2 seconds; a server that is
    /// down completes nothing.
    Completion(CompletionArgs),
}

/// Where the documents come from: a file, stdin, or a directory of files, as calicoctl reads
/// them.
#[derive(Debug, Args)]
pub(crate) struct Files {
    /// The YAML or JSON file to read; `-` reads stdin. A directory: each of its .yaml, .yml
    /// and .json files, in name order; the first that cannot be read ends the command.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub(crate) filename: Option<String>,

    /// With -f DIR: the files of its subdirectories too, at any depth.
    #[arg(short = 'R', long, requires = "filename")]
    pub(crate) recursive: bool,

    /// A file, or a directory, with no documents is no error: there is nothing to do.
    #[arg(long, requires = "filename")]
    pub(crate) skip_empty: bool,
}

/// The documents of create, apply and replace.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("input").required(true).args(["filename"])))]
pub(crate) struct FileArgs {
    /// Where the documents come from.
    #[command(flatten)]
    pub(crate) files: Files,

    /// The namespace option of calicoctl.
    #[command(flatten)]
    pub(crate) namespace: NamespaceArgs,
}

/// Arguments of `create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The documents to create.
    #[command(flatten)]
    pub(crate) file: FileArgs,

    /// Count host endpoints that already exist as created instead of failing.
    #[arg(long)]
    pub(crate) skip_exists: bool,
}

/// Arguments of `delete`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["kind", "filename"])))]
pub(crate) struct DeleteArgs {
    /// The resource type: hostendpoint, hostendpoints, hep or heps (any case).
    #[arg(conflicts_with = "filename", add = ArgValueCandidates::new(kinds))]
    pub(crate) kind: Option<String>,

    /// The names of the host endpoints to delete.
    #[arg(requires = "kind", add = ArgValueCompleter::new(host_endpoint_names))]
    pub(crate) names: Vec<String>,

    /// Delete the host endpoints the files name (see -f below); a resourceVersion in a
    /// document must be the stored one.
    #[command(flatten)]
    pub(crate) files: Files,

    /// Count host endpoints that do not exist as deleted instead of failing.
    #[arg(short = 's', long)]
    pub(crate) skip_not_exists: bool,

    /// The namespace option of calicoctl.
    #[command(flatten)]
    pub(crate) namespace: NamespaceArgs,
}

/// Arguments of `get`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["kind", "filename"])))]
pub(crate) struct GetArgs {
    /// The resource type: hostendpoint, hostendpoints, hep or heps (any case).
    #[arg(conflicts_with = "filename", add = ArgValueCandidates::new(kinds))]
    pub(crate) kind: Option<String>,

    /// The names of the host endpoints to print; none prints them all as a HostEndpointList.
    #[arg(requires = "kind", add = ArgValueCompleter::new(host_endpoint_names))]
    pub(crate) names: Vec<String>,

    /// Print the host endpoints the files name (see -f below), each by its name; a document
    /// without a name lists them all.
    #[command(flatten)]
    pub(crate) files: Files,

    /// With names: print them without what the server set (uid, resourceVersion,
    /// creationTimestamp), ready to create elsewhere. Ignored by listings and -f, as calicoctl
    /// ignores it there.
    #[arg(long)]
    pub(crate) export: bool,

    /// Output format: ps, wide, yaml, json, name, custom-columns=NAME,NODE,... (columns
    /// NAME, NODE, INTERFACE, IPS, PROFILES), go-template=TEMPLATE or go-template-file=FILE
    /// (Go's text/template over the list of results, with Go's field names such as
    /// {{range .}}{{range .Items}}{{.Name}} {{.Spec.Node}}{{end}}{{end}}, and calicoctl's join
    /// and joinAndTruncate).
    #[arg(short = 'o', long, default_value = "ps", value_name = "FORMAT")]
    pub(crate) output: String,

    /// List only the host endpoints of this node.
    #[arg(long, conflicts_with_all = ["names", "filename"])]
    pub(crate) node: Option<String>,

    /// List only the host endpoints whose labels match this Calico selector, such as
    /// "role == 'db' && has(tier)" (with --node, both must hold).
    #[arg(long, conflicts_with_all = ["names", "filename"])]
    pub(crate) selector: Option<String>,

    /// The namespace option of calicoctl.
    #[command(flatten)]
    pub(crate) namespace: NamespaceArgs,

    /// Accepted for calicoctl compatibility: host endpoints are not namespaced, so it is an
    /// error.
    #[arg(short = 'A', long)]
    pub(crate) all_namespaces: bool,
}

/// Arguments of `label`.
#[derive(Debug, Args)]
pub(crate) struct LabelArgs {
    /// The resource type: hostendpoint, hostendpoints, hep or heps (any case).
    #[arg(add = ArgValueCandidates::new(kinds))]
    pub(crate) kind: String,

    /// The host endpoint's name.
    #[arg(add = ArgValueCompleter::new(host_endpoint_names))]
    pub(crate) name: String,

    /// `key=value` to set a label (the value is what follows the first `=`), or `key` with
    /// --remove.
    #[arg(value_name = "KEY[=VALUE]")]
    pub(crate) label: String,

    /// Replace the value of a label that is already set (without it, that is an error).
    #[arg(long, conflicts_with = "remove")]
    pub(crate) overwrite: bool,

    /// Remove the label; a label that is not set is an error.
    #[arg(long)]
    pub(crate) remove: bool,

    /// The namespace option of calicoctl.
    #[command(flatten)]
    pub(crate) namespace: NamespaceArgs,
}

/// Arguments of `patch`.
#[derive(Debug, Args)]
pub(crate) struct PatchArgs {
    /// The resource type: hostendpoint, hostendpoints, hep or heps (any case).
    #[arg(add = ArgValueCandidates::new(kinds))]
    pub(crate) kind: String,

    /// The host endpoint's name.
    #[arg(add = ArgValueCompleter::new(host_endpoint_names))]
    pub(crate) name: String,

    /// The patch, in JSON, such as '{"spec":{"profiles":["web"]}}'.
    #[arg(short = 'p', long, value_name = "PATCH")]
    pub(crate) patch: String,

    /// How the patch is read: strategic (Kubernetes' strategic merge patch: maps merge, lists
    /// are replaced, null removes a field), merge (RFC 7386) or json (RFC 6902 operations).
    #[arg(short = 't', long = "type", value_enum, default_value_t = PatchType::Strategic)]
    pub(crate) patch_type: PatchType,

    /// The namespace option of calicoctl.
    #[command(flatten)]
    pub(crate) namespace: NamespaceArgs,
}

/// Arguments of `validate`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("input").required(true).args(["filename"])))]
pub(crate) struct ValidateArgs {
    /// The documents to check.
    #[command(flatten)]
    pub(crate) files: Files,
}

/// Arguments of `version`.
#[derive(Debug, Args)]
pub(crate) struct VersionArgs {
    /// Print hepctl's version only, without asking the server.
    #[arg(long)]
    pub(crate) client: bool,
}

/// Arguments of `watch`.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// The resource type: hostendpoint, hostendpoints, hep or heps (any case).
    #[arg(add = ArgValueCandidates::new(kinds))]
    pub(crate) kind: String,

    /// Watch only the host endpoints of this node.
    #[arg(long)]
    pub(crate) node: Option<String>,

    /// Watch only the host endpoints whose labels match this Calico selector (with --node,
    /// both must hold); one whose labels stop matching is DELETED, one that starts is ADDED.
    #[arg(long)]
    pub(crate) selector: Option<String>,

    /// Output format: ps (a table, for people), json or yaml (a document per event).
    #[arg(short = 'o', long, value_enum, default_value_t = WatchFormat::Ps, value_name = "FORMAT")]
    pub(crate) output: WatchFormat,
}

/// How `watch` prints events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum WatchFormat {
    /// A table, one line per event, with a SYNCED line after the initial listing.
    Ps,
    /// Indented JSON, one document per event.
    Json,
    /// YAML, one `---` document per event.
    Yaml,
}

/// Arguments of `completion`.
#[derive(Debug, Args)]
pub(crate) struct CompletionArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

/// calicoctl's `--namespace`, kept so that scripts written for calicoctl fail the same way.
#[derive(Debug, Default, Args)]
pub(crate) struct NamespaceArgs {
    /// Accepted for calicoctl compatibility: host endpoints are not namespaced, so it is an
    /// error.
    #[arg(short = 'n', long, value_name = "NS")]
    pub(crate) namespace: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn delete_takes_names_or_a_file() {
        let by_name = Cli::try_parse_from(["hepctl", "delete", "hep", "a", "b"]);
        assert!(by_name.is_ok(), "{by_name:?}");
        let by_file = Cli::try_parse_from(["hepctl", "delete", "-f", "x.yaml"]);
        assert!(by_file.is_ok(), "{by_file:?}");
        assert!(Cli::try_parse_from(["hepctl", "delete"]).is_err());
        assert!(Cli::try_parse_from(["hepctl", "delete", "hep", "-f", "x.yaml"]).is_err());
    }

    #[test]
    fn the_server_option_is_global() {
        let cli = Cli::try_parse_from(["hepctl", "get", "hep", "--server", "h:1"])
            .expect("--server after the subcommand");
        assert_eq!(cli.server.as_deref(), Some("h:1"));
    }
}
