//! `standby plan`: refresh, diff and show; optionally save the plan or print it as JSON.

use super::{render, EnvArg, GlobalArgs, Outcome};
use crate::address::Address;
use crate::environment::PlanOptions;
use crate::provider::aws::AwsProvider;
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
    /// Read live AWS before diffing; with --refresh=false the state is taken as the truth
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
}

pub async fn run(args: PlanArgs, g: &GlobalArgs) -> anyhow::Result<Outcome> {
    let env = g.load(&args.env.env)?;
    let state = env.read_state().await?;
    let provider = AwsProvider::from_env().await?;
    let opts = PlanOptions {
        refresh: args.refresh,
        targets: args
            .target
            .iter()
            .map(|t| Address::new(t.as_str()))
            .collect(),
        ..Default::default()
    };
    let plan = env.plan(&provider, state.as_ref(), &opts).await?;
    if args.json {
        eprint!("{}", render::plan(&plan));
        println!("{}", render::plan_json(&plan));
    } else {
        print!("{}", render::plan(&plan));
    }
    if let Some(out) = &args.out {
        crate::plan::save_plan(&plan, out)?;
        eprintln!(
            "Saved the plan to {}: apply it with `standby apply {}`.",
            out.display(),
            out.display()
        );
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Outcome::ChangesPresent
    } else {
        Outcome::Success
    })
}
