//! `standby plan`: refresh, diff and show; optionally save the plan or print it as JSON.

use super::{render, EnvArg, GlobalArgs, Outcome};
use crate::address::Address;
use crate::environment::PlanOptions;
use crate::ops::Context;
use clap::{ArgAction, Args};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Save the plan to FILE for `standby apply FILE`
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the plan as JSON on stdout (human output goes to stderr)
    #[arg(long)]
    pub json: bool,
    /// Exit 2 when the plan has changes, 0 when it has none
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan only this address and what lies inside it, plus what it needs (repeatable)
    #[arg(long, value_name = "ADDRESS")]
    pub target: Vec<String>,
    /// Replace this resource even if nothing about it changed (repeatable)
    #[arg(long, value_name = "ADDRESS")]
    pub replace: Vec<String>,
    /// Plan to delete everything the environment manages (what `standby destroy` would do)
    #[arg(long)]
    pub destroy: bool,
    /// Read live AWS before diffing; with --refresh=false the state is taken as the truth
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
}

pub async fn run(args: PlanArgs, g: &GlobalArgs, cx: &Context) -> anyhow::Result<Outcome> {
    let env = g.load(&args.env.env)?;
    let opts = PlanOptions {
        refresh: args.refresh,
        targets: addresses(&args.target),
        replace: addresses(&args.replace),
        destroy: args.destroy,
        ..Default::default()
    };
    let plan = crate::ops::read::plan(cx, &env, &opts).await?;
    if args.json {
        cx.shell.err(&render::plan(&plan));
        cx.shell.document(&render::plan_json(&plan));
    } else {
        cx.shell.out(&render::plan(&plan));
    }
    if let Some(out) = &args.out {
        crate::plan::save_plan(&plan, out)?;
        cx.shell.status(&format!(
            "Saved the plan to {}: apply it with `standby apply {}`.",
            out.display(),
            out.display()
        ));
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Outcome::ChangesPresent
    } else {
        Outcome::Success
    })
}

/// `--target` and `--replace` values.
pub(super) fn addresses(args: &[String]) -> Vec<Address> {
    args.iter().map(|a| Address::new(a.as_str())).collect()
}
