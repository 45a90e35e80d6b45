//! `standby promote REGION [ENV]`: make a standby the primary, as a reviewed plan.

use super::converge::{approved, finish};
use super::{render, EnvArg, GlobalArgs, Outcome};
use crate::dr::{plan_promote, Estimate, PromoteRequest};
use crate::ops::apply::{refuse_blocked, Locked};
use crate::ops::Context;
use crate::plan::Plan;
use crate::shell::Shell;
use crate::state::{history_now, Failover, Operation, Step, StepOutcome};
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

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
    let clock = Instant::now();
    let mut env = g.load(&args.env.env)?;
    env.state_failover = Failover::AssumeDown(args.assume_down.iter().cloned().collect());
    let name = Operation::Promote {
        region: args.region.clone(),
    };
    let mut locked = Locked::open(&env, &name.to_string()).await?;
    let Some(state) = locked.state() else {
        bail!(
            "environment {} has no state yet: apply it before promoting",
            env.spec.environment
        );
    };
    let req = PromoteRequest {
        region: args.region.clone(),
        assume_down: args.assume_down.iter().cloned().collect(),
        accept_data_loss: args.accept_data_loss,
        abandon_interrupted: args.abandon_interrupted,
    };
    let gate_started = history_now();
    let gate_clock = Instant::now();
    let mut promote = plan_promote(&env, &*cx.provider().await?, state, &req).await?;
    let gate_step = Step {
        name: "rpo gate and plan".into(),
        started_at: gate_started,
        duration_ms: gate_clock.elapsed().as_millis() as u64,
        outcome: StepOutcome::Done,
    };
    cx.shell
        .status(&format!("RPO gate: {}", promote.gate.verdict));
    let rto = env.spec.service.rto;
    let estimate = Estimate::of(&promote.plan, state, rto);
    if let Some(j) = promote.plan.journal.as_mut() {
        j.steps.push(gate_step);
    }
    if args.out.is_some() || args.json {
        return preview(&cx.shell, &promote.plan, &estimate, &args);
    }
    cx.shell.out(&render::plan(&promote.plan));
    cx.shell.out(&estimate.to_string());
    let question = if promote.resumed {
        format!("Finish promoting {}", args.region)
    } else {
        format!("Promote {}", args.region)
    };
    let asking = Instant::now();
    let declined = "Promote cancelled: nothing changed.";
    if !approved(
        &cx.shell,
        &promote.plan,
        &question,
        args.auto_approve,
        declined,
    )
    .await?
    {
        return Ok(Outcome::Success);
    }
    // The time at the prompt is the user's, not the recovery's (the history leaves it out too).
    let at_prompt = asking.elapsed();
    let executed = locked
        .execute(cx, &promote.plan, args.parallelism, name.clone())
        .await?;
    let report = finish(&cx.shell, executed, &name.to_string())?;
    cx.shell.err(&render::not_made(&report));
    let total = clock.elapsed().saturating_sub(at_prompt);
    cx.shell.status(&format!(
        "{} is the primary after {} (rto {}: {})",
        args.region,
        humantime::format_duration(std::time::Duration::from_millis(total.as_millis() as u64)),
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
