//! `standby destroy [ENV]`: delete everything the environment manages, in reverse order.

use super::{
    apply::{execute, make_plan, refuse_blocked, release_after},
    confirm, render, EnvArg, GlobalArgs, Outcome,
};
use crate::environment::PlanOptions;
use crate::provider::aws::AwsProvider;
use crate::provider::Provider;
use crate::state::Operation;
use anyhow::Result;
use clap::Args;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Destroy without asking
    #[arg(long)]
    pub auto_approve: bool,
    /// Actions run at once
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub parallelism: usize,
}

pub async fn run(args: DestroyArgs, g: &GlobalArgs) -> Result<Outcome> {
    let env = g.load(&args.env.env)?;
    let provider: Arc<dyn Provider> = Arc::new(AwsProvider::from_env().await?);
    let mut store = env.open_state("destroy").await?;
    let result = run_locked(&env, args, provider, &mut store).await;
    release_after(&mut store, result).await
}

async fn run_locked(
    env: &crate::environment::Environment,
    args: DestroyArgs,
    provider: Arc<dyn Provider>,
    store: &mut crate::state::StateStore,
) -> Result<Outcome> {
    let plan = make_plan(
        env,
        &*provider,
        store,
        PlanOptions {
            refresh: true,
            destroy: true,
            ..Default::default()
        },
    )
    .await?;
    print!("{}", render::plan(&plan));
    if !plan.has_changes() {
        return Ok(Outcome::Success);
    }
    refuse_blocked(&plan)?;
    if !confirm::approve("Destroy everything listed", args.auto_approve).await? {
        eprintln!("Destroy cancelled: nothing changed.");
        return Ok(Outcome::Success);
    }
    execute(&plan, provider, store, args.parallelism, Operation::Destroy).await?;
    Ok(Outcome::Success)
}
