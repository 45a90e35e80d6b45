//! `standby destroy [ENV]`: delete everything the environment manages, in reverse order.

use super::converge::{approved, finish};
use super::{render, EnvArg, GlobalArgs, Outcome};
use crate::environment::PlanOptions;
use crate::ops::apply::Locked;
use crate::ops::Context;
use crate::state::Operation;
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
    let mut locked = Locked::open(&env, "destroy").await?;
    let opts = PlanOptions {
        refresh: true,
        destroy: true,
        ..Default::default()
    };
    let result = async {
        let plan = locked.plan(cx, &env, &opts).await?;
        cx.shell.out(&render::plan(&plan));
        let (question, declined) = (
            "Destroy everything listed",
            "Destroy cancelled: nothing changed.",
        );
        if !plan.has_changes()
            || !approved(&cx.shell, &plan, question, args.auto_approve, declined).await?
        {
            return Ok(());
        }
        let executed = locked
            .execute(cx, &plan, args.parallelism, Operation::Destroy)
            .await?;
        finish(&cx.shell, executed, "destroy").map(drop)
    }
    .await;
    locked.release(cx, result).await?;
    Ok(Outcome::Success)
}
