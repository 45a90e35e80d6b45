//! `standby validate [ENV]`: check the spec without calling AWS.

use super::{EnvArg, GlobalArgs, Outcome};
use crate::shell::Shell;
use clap::Args;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub env: EnvArg,
}

pub fn run(args: ValidateArgs, g: &GlobalArgs, shell: &Shell) -> anyhow::Result<Outcome> {
    let env = g.load(&args.env.env)?;
    let roles = env.roles(None);
    let resources = env.desired(&roles)?.len();
    let s = &env.spec;
    shell.out_line(&format!(
        "The spec of environment {} is valid: service {}, {} regions, {} clusters, {} databases, {} buckets, {} dns names ({} resources).",
        s.environment,
        s.service.name,
        s.regions.len(),
        s.clusters.len(),
        s.databases.len(),
        s.buckets.len(),
        s.dns.len(),
        resources
    ));
    Ok(Outcome::Success)
}
