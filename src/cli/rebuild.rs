//! `standby rebuild REGION [ENV] [--role ROLE]`: bring a failed or cold region to a standby
//! role, as a reviewed plan.

use super::converge::{approved, finish};
use super::{render, EnvArg, GlobalArgs, Outcome};
use crate::config::Role;
use crate::dr::RebuildRequest;
use crate::ops::{self, Context};
use crate::state::Failover;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// The region to rebuild
    pub region: String,
    #[command(flatten)]
    pub env: EnvArg,
    /// The role it gets
    #[arg(long, default_value = "warm-standby", value_parser = parse_role, value_name = "ROLE")]
    pub role: Role,
    /// A region to treat as down: no request goes to it (repeatable)
    #[arg(long = "assume-down", value_name = "REGION")]
    pub assume_down: Vec<String>,
    /// Give up another promote or rebuild that was interrupted (its history entry says
    /// abandoned) and start from the roles it reached
    #[arg(long)]
    pub abandon_interrupted: bool,
    /// Rebuild without asking
    #[arg(long)]
    pub auto_approve: bool,
    /// Actions run at once
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub parallelism: usize,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse_declared(s)
        .ok_or_else(|| format!("{s:?} is not a role: use primary, warm-standby or cold-standby"))
}

pub async fn run(args: RebuildArgs, g: &GlobalArgs, cx: &Context) -> Result<Outcome> {
    let mut env = g.load(&args.env.env)?;
    env.state_failover = Failover::AssumeDown(args.assume_down.iter().cloned().collect());
    let req = RebuildRequest {
        region: args.region.clone(),
        role: args.role,
        assume_down: args.assume_down.iter().cloned().collect(),
        abandon_interrupted: args.abandon_interrupted,
    };
    let prepared = ops::dr::prepare_rebuild(cx, &env, &req).await?;
    cx.shell.out(&render::plan(&prepared.plan));
    let question = format!("Rebuild {} as {}", args.region, args.role);
    let declined = "Rebuild cancelled: nothing changed.";
    if let Some(prepared) = approved(cx, prepared, &question, args.auto_approve, declined).await? {
        let ran = finish(cx, prepared.run(cx, args.parallelism).await?)?;
        cx.shell.err(&render::not_made(&ran.report));
    }
    Ok(Outcome::Success)
}
