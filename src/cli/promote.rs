//! `standby promote REGION [ENV]`: make a standby the primary, as a reviewed plan.

use super::apply::{execute, refuse_blocked};
use super::{confirm, render, EnvArg, GlobalArgs, Outcome};
use crate::dr::{plan_promote, PromoteRequest};
use crate::provider::aws::AwsProvider;
use crate::provider::Provider;
use crate::state::{history_now, Operation, Step};
use anyhow::{bail, Result};
use clap::Args;
use std::sync::Arc;
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
    /// Promote even when the replica lags beyond the RPO or its lag is unknown
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
}

pub async fn run(args: PromoteArgs, g: &GlobalArgs) -> Result<Outcome> {
    let clock = Instant::now();
    let mut env = g.load(&args.env.env)?;
    env.state_failover = Some(args.assume_down.iter().cloned().collect());
    let provider: Arc<dyn Provider> = Arc::new(AwsProvider::from_env().await?);
    let name = Operation::Promote {
        region: args.region.clone(),
    };
    let mut store = env.open_state(&name.to_string()).await?;
    if !store.exists() {
        bail!(
            "environment {} has no state yet: apply it before promoting",
            env.spec.environment
        );
    }
    let req = PromoteRequest {
        region: args.region.clone(),
        assume_down: args.assume_down.iter().cloned().collect(),
        accept_data_loss: args.accept_data_loss,
        abandon_interrupted: args.abandon_interrupted,
    };
    let gate_started = history_now();
    let gate_clock = Instant::now();
    let mut promote = plan_promote(&env, &*provider, store.state(), &req).await?;
    let gate_step = Step {
        name: "rpo gate and plan".into(),
        started_at: gate_started,
        duration_ms: gate_clock.elapsed().as_millis() as u64,
        outcome: promote.gate.verdict.clone(),
    };
    eprintln!("RPO gate: {}", promote.gate.verdict);
    print!("{}", render::plan(&promote.plan));
    refuse_blocked(&promote.plan)?;
    let question = if promote.resumed {
        format!("Finish promoting {}", args.region)
    } else {
        format!("Promote {}", args.region)
    };
    if !confirm::approve(&question, args.auto_approve).await? {
        eprintln!("Promote cancelled: nothing changed.");
        return Ok(Outcome::Success);
    }
    if let Some(j) = promote.plan.journal.as_mut() {
        j.steps.push(gate_step);
    }
    let report = execute(
        &promote.plan,
        provider,
        &mut store,
        args.parallelism,
        name.clone(),
    )
    .await?;
    eprint!("{}", render::not_made(&report));
    let rto = env.spec.service.rto;
    let total = clock.elapsed();
    eprintln!(
        "{} is the primary after {} (rto {}: {})",
        args.region,
        humantime::format_duration(std::time::Duration::from_millis(total.as_millis() as u64)),
        humantime::format_duration(rto),
        if total <= rto { "met" } else { "missed" }
    );
    Ok(Outcome::Success)
}
