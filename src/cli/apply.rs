//! `standby apply [ENV | PLAN_FILE]`: show the plan, ask, converge.

use super::{confirm, progress, render, GlobalArgs, Outcome};
use crate::apply::ApplyReport;
use crate::apply::{apply, ApplyOptions};
use crate::environment::{check_plan_is_current, Environment, PlanOptions};
use crate::plan::{load_plan, Plan};
use crate::provider::aws::AwsProvider;
use crate::provider::Provider;
use crate::state::{Backend, HistoryEntry, Operation, RunOutcome, StateStore, Step};
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

pub async fn run(args: ApplyArgs, g: &GlobalArgs) -> Result<Outcome> {
    let provider: Arc<dyn Provider> = Arc::new(AwsProvider::from_env().await?);
    if args.path.is_file() {
        return apply_saved(args, g, provider).await;
    }
    let env = g.load(&args.path)?;
    let mut store = env.open_state("apply").await?;
    let result = match refuse_interrupted(&store) {
        Ok(()) => converge(&env, args, provider, &mut store).await,
        Err(e) => Err(e),
    };
    release_after(&mut store, result).await
}

/// `apply PLAN_FILE`: the saved plan, as it was made, if the state has not moved since.
async fn apply_saved(
    args: ApplyArgs,
    g: &GlobalArgs,
    provider: Arc<dyn Provider>,
) -> Result<Outcome> {
    if !args.target.is_empty() || !args.replace.is_empty() {
        anyhow::bail!(
            "a saved plan is applied as it was made: give --target and --replace to \
             `standby plan --out` instead"
        );
    }
    let plan = load_plan(&args.path)?;
    // The plan names its backend, so a remote state is found from any checkout.
    let backend = plan.backend.clone().unwrap_or_else(|| Backend::Local {
        path: StateStore::path_for(&plan.env_dir, &plan.environment),
    });
    let mut store = backend
        .open(
            &plan.environment,
            "apply",
            &crate::state::OpenOptions {
                lock_timeout: g.lock_timeout,
                ..Default::default()
            },
        )
        .await?;
    let result = async {
        check_plan_is_current(&plan, store.state(), store.exists())?;
        if plan.journal.is_none() {
            refuse_interrupted(&store)?;
        }
        eprint!("{}", render::plan(&plan));
        execute(
            &plan,
            provider,
            &mut store,
            args.parallelism,
            Operation::Apply,
        )
        .await
    }
    .await;
    release_after(&mut store, result).await?;
    print_outputs(&plan);
    Ok(Outcome::Success)
}

/// Refuses to apply while a promote or rebuild is interrupted: apply would record the roles
/// it leads to before making them true, and skip its stages.
fn refuse_interrupted(store: &StateStore) -> Result<()> {
    match &store.state().journal {
        Some(j) => anyhow::bail!("{} before applying", j.note()),
        None => Ok(()),
    }
}

/// Plans against the locked state, asks, and applies.
async fn converge(
    env: &Environment,
    args: ApplyArgs,
    provider: Arc<dyn Provider>,
    store: &mut StateStore,
) -> Result<Outcome> {
    let plan = make_plan(
        env,
        &*provider,
        store,
        PlanOptions {
            refresh: true,
            targets: super::plan::addresses(&args.target),
            replace: super::plan::addresses(&args.replace),
            ..Default::default()
        },
    )
    .await?;
    print!("{}", render::plan(&plan));
    if !plan.has_changes() {
        print!("{}", super::output::listing(&plan.outputs));
        return Ok(Outcome::Success);
    }
    refuse_blocked(&plan)?;
    if !confirm::approve("Apply these actions", args.auto_approve).await? {
        eprintln!("Apply cancelled: nothing changed.");
        return Ok(Outcome::Success);
    }
    execute(&plan, provider, store, args.parallelism, Operation::Apply).await?;
    print_outputs(&plan);
    Ok(Outcome::Success)
}

/// After `apply complete`: a targeted plan's warning, then the outputs, as Terraform
/// prints them.
fn print_outputs(plan: &Plan) {
    eprint!("{}", render::targeted_apply_warning(plan));
    print!("{}", super::output::listing(&plan.outputs));
}

/// Releases the state lock after `result`, whatever it was; a failed release is reported
/// after the result's own error. (Dropping the store releases it too, as a fallback.)
pub(super) async fn release_after<T>(store: &mut StateStore, result: Result<T>) -> Result<T> {
    match (result, store.release().await) {
        (Ok(v), Ok(())) => Ok(v),
        (Ok(_), Err(e)) => Err(e),
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(release)) => {
            eprintln!("{} {release:#}", render::error_prefix());
            Err(e)
        }
    }
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

/// Runs a plan with progress and Ctrl-C handling, records it in the history and prints the
/// report; `Err` when it did not complete.
pub(super) async fn execute(
    plan: &Plan,
    provider: Arc<dyn Provider>,
    store: &mut StateStore,
    parallelism: usize,
    op: Operation,
) -> Result<ApplyReport> {
    let started_at = crate::state::history_now();
    let clock = Instant::now();
    let op_name = op.to_string();
    // Ctrl-C is handled here (finish what is in flight, save); the lock goes afterwards.
    let _interrupts = crate::state::defer_interrupts();
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
    let options = ApplyOptions {
        parallelism,
        cancel: cancel_rx,
        events: events_tx,
    };
    let result = apply(plan, provider, store, options).await;
    interrupt.abort();
    let _ = renderer.await;
    let report = result?;
    if plan.journal.is_none() {
        record(store, plan, &report, op, started_at, clock).await?;
    }
    eprint!("{}", render::apply_report(&report, &op_name));
    if let Some(j) = store
        .state()
        .journal
        .as_ref()
        .filter(|_| plan.journal.is_some())
    {
        eprintln!(
            "{} stopped at {}: run `{}` to finish it",
            j.operation,
            j.position(),
            j.resume
        );
    }
    if report.succeeded() {
        Ok(report)
    } else {
        Err(super::Reported(format!("{op_name} did not complete")).into())
    }
}

/// Appends the run to the history (a DR plan's journal does so itself, once, when done).
async fn record(
    store: &mut StateStore,
    plan: &Plan,
    report: &ApplyReport,
    op: Operation,
    started_at: String,
    clock: Instant,
) -> Result<()> {
    let details = serde_json::json!({
        "actions": plan.actions.len(),
        "not_made": report
            .not_made
            .iter()
            .map(|f| f.address.to_string())
            .collect::<Vec<_>>(),
    });
    let outcome = if report.succeeded() {
        RunOutcome::SUCCEEDED
    } else if report.cancelled {
        RunOutcome::Interrupted
    } else {
        RunOutcome::Failed
    };
    let steps = report
        .steps
        .iter()
        .map(|t| Step {
            name: format!("{} {}", t.verb, t.address),
            started_at: t.started_at.clone(),
            duration_ms: t.duration.as_millis() as u64,
            outcome: t.outcome,
        })
        .collect();
    let (user, host) = crate::state::who();
    let entry = HistoryEntry {
        operation: op,
        user,
        host,
        started_at,
        duration_ms: clock.elapsed().as_millis() as u64,
        outcome,
        steps,
        details,
        interruptions: Vec::new(),
        state_replica: None,
    };
    store.state_mut().record(entry);
    store.save().await
}
