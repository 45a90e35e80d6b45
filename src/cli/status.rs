//! `standby status [ENV] [--json]`: regions, roles, instances, replica lag, replication,
//! DNS, last promote and drill.

use super::{render, EnvArg, GlobalArgs, Outcome};
use crate::ops::Context;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Print the status as JSON (format version 1, documented in the README)
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: StatusArgs, g: &GlobalArgs, cx: &Context) -> Result<Outcome> {
    let env = g.load(&args.env.env)?;
    let status = crate::ops::read::status(cx, &env).await?;
    if args.json {
        cx.shell.document(&crate::report::status::json(&status));
    } else {
        cx.shell.out(&render::status(&status));
    }
    Ok(Outcome::Success)
}
