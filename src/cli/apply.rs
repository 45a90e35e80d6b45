//! `standby apply [ENV | PLAN_FILE]`: show the plan, ask, converge.

use super::converge::{approved, finish};
use super::{output, plan::addresses, render, GlobalArgs, Outcome};
use crate::environment::PlanOptions;
use crate::ops::{self, Context};
use crate::plan::{load_plan, Plan};
use crate::state::Failover;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Environment directory, or a plan file saved by `standby plan --out`
    #[arg(value_name = "ENV | PLAN_FILE", default_value = ".")]
    pub path: PathBuf,
    /// Apply without asking
    #[arg(long)]
    pub auto_approve: bool,
    /// Actions run at once
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub parallelism: usize,
    /// Apply only this address and what lies inside it, plus what it needs (repeatable);
    /// for exceptional situations, such as recovering from errors
    #[arg(long, value_name = "ADDRESS")]
    pub target: Vec<String>,
    /// Replace this resource even if nothing about it changed (repeatable)
    #[arg(long, value_name = "ADDRESS")]
    pub replace: Vec<String>,
}

pub async fn run(args: ApplyArgs, g: &GlobalArgs, cx: &Context) -> Result<Outcome> {
    if args.path.is_file() {
        return apply_saved(args, g, cx).await;
    }
    let mut env = g.load(&args.path)?;
    // After a promote failed the backend's region, the DNS steps it left are finished here.
    env.state_failover = Failover::IfFailed;
    let opts = PlanOptions {
        refresh: true,
        targets: addresses(&args.target),
        replace: addresses(&args.replace),
        ..Default::default()
    };
    let prepared = ops::apply::prepare(cx, &env, &opts).await?;
    cx.shell.out(&render::plan(&prepared.plan));
    if !prepared.plan.has_changes() {
        cx.shell.out(&output::listing(&prepared.plan.outputs));
        prepared.release(cx).await?;
        return Ok(Outcome::Success);
    }
    let (question, declined) = ("Apply these actions", "Apply cancelled: nothing changed.");
    let Some(prepared) = approved(cx, prepared, question, args.auto_approve, declined).await?
    else {
        return Ok(Outcome::Success);
    };
    let ran = finish(cx, prepared.run(cx, args.parallelism).await?)?;
    print_outputs(cx, &ran.plan);
    Ok(Outcome::Success)
}

/// `apply PLAN_FILE`: the saved plan, as it was made, if the state has not moved since.
async fn apply_saved(args: ApplyArgs, g: &GlobalArgs, cx: &Context) -> Result<Outcome> {
    if !args.target.is_empty() || !args.replace.is_empty() {
        anyhow::bail!(
            "a saved plan is applied as it was made: give --target and --replace to \
             `standby plan --out` instead"
        );
    }
    let plan = load_plan(&args.path)?;
    let prepared = ops::apply::prepare_saved(cx, plan, g.lock_timeout).await?;
    cx.shell.err(&render::plan(&prepared.plan));
    let ran = finish(cx, prepared.run(cx, args.parallelism).await?)?;
    print_outputs(cx, &ran.plan);
    Ok(Outcome::Success)
}

/// After `apply complete`: a targeted plan's warning, then the outputs, as Terraform
/// prints them.
fn print_outputs(cx: &Context, plan: &Plan) {
    cx.shell.err(&render::targeted_apply_warning(plan));
    cx.shell.out(&output::listing(&plan.outputs));
}
