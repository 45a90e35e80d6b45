//! `standby destroy [ENV]`: delete everything the environment manages, in reverse order.

use super::converge::{approved, finish};
use super::{render, EnvArg, GlobalArgs, Outcome};
use crate::environment::PlanOptions;
use crate::ops::{self, Context};
use anyhow::Result;
use clap::Args;

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

pub async fn run(args: DestroyArgs, g: &GlobalArgs, cx: &Context) -> Result<Outcome> {
    let env = g.load(&args.env.env)?;
    let opts = PlanOptions {
        refresh: true,
        destroy: true,
        ..Default::default()
    };
    let prepared = ops::apply::prepare(cx, &env, &opts).await?;
    cx.shell.out(&render::plan(&prepared.plan));
    if !prepared.plan.has_changes() {
        prepared.release(cx).await?;
        return Ok(Outcome::Success);
    }
    let question = "Destroy everything listed";
    let declined = "Destroy cancelled: nothing changed.";
    if let Some(prepared) = approved(cx, prepared, question, args.auto_approve, declined).await? {
        finish(cx, prepared.run(cx, args.parallelism).await?)?;
    }
    Ok(Outcome::Success)
}
