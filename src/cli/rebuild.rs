//! `standby rebuild REGION [ENV] [--role ROLE]`: bring a failed or cold region to a standby
//! role, as a reviewed plan.

use super::apply::{execute, refuse_blocked};
use super::{confirm, render, EnvArg, GlobalArgs, Outcome};
use crate::config::Role;
use crate::dr::{plan_rebuild, RebuildRequest};
use crate::provider::aws::AwsProvider;
use crate::provider::Provider;
use crate::state::{Failover, Operation};
use anyhow::{bail, Result};
use clap::Args;
use std::sync::Arc;

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

pub async fn run(args: RebuildArgs, g: &GlobalArgs) -> Result<Outcome> {
    let mut env = g.load(&args.env.env)?;
    env.state_failover = Failover::AssumeDown(args.assume_down.iter().cloned().collect());
    let provider: Arc<dyn Provider> = Arc::new(AwsProvider::from_env().await?);
    let name = Operation::Rebuild {
        region: args.region.clone(),
        role: args.role,
    };
    let mut store = env.open_state(&name.to_string()).await?;
    if !store.exists() {
        bail!(
            "environment {} has no state yet: apply it first",
            env.spec.environment
        );
    }
    let req = RebuildRequest {
        region: args.region.clone(),
        role: args.role,
        assume_down: args.assume_down.iter().cloned().collect(),
        abandon_interrupted: args.abandon_interrupted,
    };
    let plan = plan_rebuild(&env, &*provider, store.state(), &req).await?;
    print!("{}", render::plan(&plan));
    refuse_blocked(&plan)?;
    if !confirm::approve(
        &format!("Rebuild {} as {}", args.region, args.role),
        args.auto_approve,
    )
    .await?
    {
        eprintln!("Rebuild cancelled: nothing changed.");
        return Ok(Outcome::Success);
    }
    let report = execute(&plan, provider, &mut store, args.parallelism, name.clone()).await?;
    eprint!("{}", render::not_made(&report));
    Ok(Outcome::Success)
}
