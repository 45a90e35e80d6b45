//! `standby promote REGION [ENV]`: make a standby the primary, as a reviewed plan.

use super::converge::{approved, finish};
use super::{render, EnvArg, GlobalArgs, Outcome};
use crate::dr::{Estimate, PromoteRequest};
use crate::ops::apply::refuse_blocked;
use crate::ops::{self, Context};
use crate::plan::Plan;
use crate::shell::Shell;
use crate::state::Failover;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The standby region that becomes the primary
    pub region: String,
    #[command(flatten)]
    pub env: EnvArg,
    /// A region to treat as down: no request goes to it (repeatable)
    #[arg(long = "assume-down", value_name = "REGION")]
    pub assume_down: Vec<String>,
    /// Promote even when the replica lags beyond the RPO or its lag is unknown (for a cold
    /// standby: when its replicated backups are older than the RPO)
    #[arg(long)]
    pub accept_data_loss: bool,
    /// Give up another promote or rebuild that was interrupted (its history entry says
    /// abandoned) and start from the roles it reached
    #[arg(long)]
    pub abandon_interrupted: bool,
    /// Promote without asking
    #[arg(long)]
    pub auto_approve: bool,
    /// Actions run at once
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub parallelism: usize,
    /// Save the promote plan to FILE for `standby apply FILE`, without promoting
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the promote plan as JSON on stdout (human output goes to stderr), without
    /// promoting
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: PromoteArgs, g: &GlobalArgs, cx: &Context) -> Result<Outcome> {
    let mut env = g.load(&args.env.env)?;
    env.state_failover = Failover::AssumeDown(args.assume_down.iter().cloned().collect());
    let req = PromoteRequest {
        region: args.region.clone(),
        assume_down: args.assume_down.iter().cloned().collect(),
        accept_data_loss: args.accept_data_loss,
        abandon_interrupted: args.abandon_interrupted,
    };
    let mut promote = ops::dr::prepare_promote(cx, &env, &req).await?;
    cx.shell
        .status(&format!("RPO gate: {}", promote.gate.verdict));
    let (plan, estimate) = (&promote.prepared.plan, &promote.estimate);
    if args.out.is_some() || args.json {
        let result = preview(&cx.shell, plan, estimate, &args);
        return promote.prepared.release_with(cx, result).await;
    }
    cx.shell.out(&format!("{}{estimate}", render::plan(plan)));
    let question = if promote.resumed {
        format!("Finish promoting {}", args.region)
    } else {
        format!("Promote {}", args.region)
    };
    let declined = "Promote cancelled: nothing changed.";
    let approval = approved(cx, promote.prepared, &question, args.auto_approve, declined);
    let Some(prepared) = approval.await? else {
        return Ok(Outcome::Success);
    };
    promote.prepared = prepared;
    let (rto, promoted) = (promote.rto, promote.run(cx, args.parallelism).await?);
    let ran = finish(cx, promoted.ran)?;
    cx.shell.err(&render::not_made(&ran.report));
    let total = promoted.recovery;
    cx.shell.status(&format!(
        "{} is the primary after {} (rto {}: {})",
        args.region,
        humantime::format_duration(Duration::from_millis(total.as_millis() as u64)),
        humantime::format_duration(rto),
        if total <= rto { "met" } else { "missed" }
    ));
    Ok(Outcome::Success)
}

/// `--out` and `--json`: the plan and its estimate, shown and saved; nothing changes and
/// nothing asks, so it runs without a terminal.
fn preview(shell: &Shell, plan: &Plan, estimate: &Estimate, args: &PromoteArgs) -> Result<Outcome> {
    if args.json {
        shell.err(&format!("{}{estimate}", render::plan(plan)));
        shell.document(&render::promote_json(plan, estimate));
    } else {
        shell.out(&format!("{}{estimate}", render::plan(plan)));
    }
    refuse_blocked(plan)?;
    if let Some(out) = &args.out {
        crate::plan::save_plan(plan, out)?;
        shell.status(&format!(
            "Saved the promote plan to {}: run it with `standby apply {}`.",
            out.display(),
            out.display()
        ));
    }
    Ok(Outcome::Success)
}
