//! `standby version` and `standby completions SHELL`: about the binary, no spec, no AWS.

use super::{Cli, Outcome};
use crate::ops::Context;
use anyhow::Result;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for; for example `standby completions bash > /etc/bash_completion.d/standby`
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(cx: &Context) -> Result<Outcome> {
    cx.shell.out(&text(
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
    ));
    Ok(Outcome::Success)
}

/// `standby 0.1.0` and the platform, as `terraform version` shows them.
pub fn text(version: &str, os: &str, arch: &str) -> String {
    format!("standby {version}\non {os}_{arch}\n")
}

pub fn completions(args: CompletionsArgs, cx: &Context) -> Result<Outcome> {
    // Generated into a buffer: clap_complete panics on a failed write, and the Shell takes a
    // reader that stops early (`| head`) as no error.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "standby", &mut script);
    cx.shell.out(&String::from_utf8_lossy(&script));
    Ok(Outcome::Success)
}
