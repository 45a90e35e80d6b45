//! `standby apply [ENV | PLAN_FILE]`: show the plan, ask, converge.

use super::{confirm, progress, render, GlobalArgs, Outcome};
use crate::apply::{apply, ApplyOptions};
use crate::environment::{check_plan_is_current, Environment, PlanOptions};
use crate::plan::{load_plan, Plan};
use crate::provider::aws::AwsProvider;
use crate::provider::Provider;
use crate::state::{HistoryEntry, StateStore};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch};

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Environment directory, or a plan file saved by `standby plan --out`
    #[arg(value_name = "ENV | PLAN_FILE", default_value = ".")]
    pub target: PathBuf,
    /// Apply without asking
    #[arg(long)]
    pub auto_approve: bool,
    /// Actions run at once
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub parallelism: usize,
}

pub async fn run(args: ApplyArgs, g: &GlobalArgs) -> Result<Outcome> {
    let provider: Arc<dyn Provider> = Arc::new(AwsProvider::from_env().await?);
    if args.target.is_file() {
        let plan = load_plan(&args.target)?;
        let path = StateStore::path_for(&plan.env_dir, &plan.environment);
        let mut store = StateStore::open(&path, &plan.environment, "apply")?;
        check_plan_is_current(&plan, store.state(), store.exists())?;
        eprint!("{}", render::plan(&plan));
        return execute(&plan, provider, &mut store, args.parallelism, "apply").await;
    }
    let env = g.load(&args.target)?;
    let mut store = env.open_state("apply")?;
    let plan = make_plan(
        &env,
        &*provider,
        &store,
        PlanOptions {
            refresh: true,
            ..Default::default()
        },
    )
    .await?;
    print!("{}", render::plan(&plan));
    if !plan.has_changes() {
        return Ok(Outcome::Success);
    }
    refuse_blocked(&plan)?;
    if !confirm::approve("Apply these actions", args.auto_approve)? {
        eprintln!("Apply cancelled: nothing changed.");
        return Ok(Outcome::Success);
    }
    execute(&plan, provider, &mut store, args.parallelism, "apply").await
}

/// Stops before asking when the plan deletes something protected.
pub(super) fn refuse_blocked(plan: &Plan) -> Result<()> {
    if plan.blocked.is_empty() {
        return Ok(());
    }
    anyhow::bail!("refusing to apply this plan: {}", plan.blocked.join("; "))
}

/// Plans against the locked state (a new environment has none yet).
pub(super) async fn make_plan(
    env: &Environment,
    provider: &dyn Provider,
    store: &StateStore,
    opts: PlanOptions,
) -> Result<Plan> {
    let state = store.exists().then(|| store.state());
    env.plan(provider, state, &opts).await
}

/// Runs a plan with progress and Ctrl-C handling, records it in the history, reports.
pub(super) async fn execute(
    plan: &Plan,
    provider: Arc<dyn Provider>,
    store: &mut StateStore,
    parallelism: usize,
    operation: &str,
) -> Result<Outcome> {
    let started_at = crate::state::history_now();
    let clock = Instant::now();
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let steps = crate::graph::apply_graph(&plan.actions, &plan.stages)?.node_count();
    let renderer = tokio::spawn(progress::render(steps, events_rx));
    let interrupt = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping: no new actions start; waiting for the ones in flight, then saving the state");
            let _ = cancel_tx.send(true);
        }
    });
    let result = apply(
        plan,
        provider,
        store,
        ApplyOptions {
            parallelism,
            cancel: cancel_rx,
            events: events_tx,
        },
    )
    .await;
    interrupt.abort();
    let _ = renderer.await;
    let report = result?;
    let entry = HistoryEntry {
        operation: operation.to_string(),
        user: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
        host: hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
        started_at,
        duration_ms: clock.elapsed().as_millis() as u64,
        outcome: if report.succeeded() {
            "succeeded".into()
        } else if report.cancelled {
            "interrupted".into()
        } else {
            "failed".into()
        },
        steps: Vec::new(),
        details: serde_json::json!({ "actions": plan.actions.len(), "failures": report.failures.len() }),
    };
    store.state_mut().history.push(entry);
    store.save()?;
    eprint!("{}", render::apply_report(&report, operation));
    if report.succeeded() {
        Ok(Outcome::Success)
    } else {
        Err(super::Reported(format!("{operation} did not complete")).into())
    }
}
