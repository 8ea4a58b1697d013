//! `hepctl completion SHELL`: shell completion scripts, generated from the command line.

use clap::CommandFactory as _;

use crate::{
    args::{Cli, CompletionArgs},
    error::Result,
    output,
};

/// Prints the completion script for the shell.
pub(crate) fn run(args: CompletionArgs) -> Result<()> {
    let CompletionArgs { shell } = args;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "hepctl", &mut script);
    output::print(&String::from_utf8_lossy(&script))
}
