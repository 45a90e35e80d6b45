//! `standby graph [ENV]`: the resource dependency graph as DOT, from the spec alone.

use super::{EnvArg, GlobalArgs, Outcome};
use crate::ops::Context;
use clap::Args;

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub env: EnvArg,
}

pub async fn run(args: GraphArgs, g: &GlobalArgs, cx: &Context) -> anyhow::Result<Outcome> {
    let env = g.load(&args.env.env)?;
    let state = env.read_state().await?;
    let desired = env.desired(&env.roles(state.as_ref()))?;
    cx.shell.out(&crate::graph::to_dot(&desired)?);
    Ok(Outcome::Success)
}
