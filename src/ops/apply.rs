//! Changing AWS under the state lock: plan against the locked state, run the plan with
//! progress, Ctrl-C handling (finish what is in flight, save) and its history entry, and
//! release the lock whatever happened. Shared by apply, destroy, promote and rebuild.

use super::{history, Context};
use crate::apply::{apply, ApplyOptions, ApplyReport};
use crate::environment::{check_plan_is_current, Environment, PlanOptions};
use crate::plan::Plan;
use crate::shell::{progress, Shell};
use crate::state::{Backend, Failover, Journal, OpenOptions, Operation, State, StateStore};
use anyhow::Result;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What running a plan did.
pub struct Executed {
    pub report: ApplyReport,
    /// The promote or rebuild the plan belongs to, when it stopped before its end.
    pub stopped: Option<Journal>,
}

/// The state, locked for one operation until `release` (or, as a fallback, drop).
pub struct Locked {
    store: StateStore,
}

impl Locked {
    /// Locks the environment's state for `operation` ("apply", "promote us-west-2").
    pub async fn open(env: &Environment, operation: &str) -> Result<Locked> {
        Ok(Locked {
            store: env.open_state(operation).await?,
        })
    }

    /// Locks the state a saved plan was made against, through the backend the plan names (so
    /// a remote state is found from any checkout), and checks the plan is still current.
    pub async fn open_saved(
        cx: &Context,
        plan: &Plan,
        lock_timeout: Option<Duration>,
    ) -> Result<Locked> {
        let backend = plan.backend.clone().unwrap_or_else(|| Backend::Local {
            path: StateStore::path_for(&plan.env_dir, &plan.environment),
        });
        let options = OpenOptions {
            lock_timeout,
            failover: Failover::IfFailed,
            ..Default::default()
        };
        let store = backend.open(&plan.environment, "apply", &options).await?;
        let locked = Locked { store };
        let current = check_plan_is_current(plan, locked.store.state(), locked.store.exists())
            .and_then(|()| match plan.journal {
                None => locked.refuse_interrupted(),
                Some(_) => Ok(()),
            });
        match current {
            Ok(()) => Ok(locked),
            Err(e) => locked.release(cx, Err(e)).await,
        }
    }

    /// The state, when the environment has one yet.
    pub fn state(&self) -> Option<&State> {
        self.store.exists().then(|| self.store.state())
    }

    /// Refuses to apply while a promote or rebuild is interrupted: apply would record the
    /// roles it leads to before making them true, and skip its stages.
    pub fn refuse_interrupted(&self) -> Result<()> {
        match &self.store.state().journal {
            Some(j) => anyhow::bail!("{} before applying", j.note()),
            None => Ok(()),
        }
    }

    /// Plans against the locked state.
    pub async fn plan(&self, cx: &Context, env: &Environment, opts: &PlanOptions) -> Result<Plan> {
        env.plan(&*cx.provider().await?, self.state(), opts).await
    }

    /// Runs `plan`; see `execute`.
    pub async fn execute(
        &mut self,
        cx: &Context,
        plan: &Plan,
        parallelism: usize,
        op: Operation,
    ) -> Result<Executed> {
        execute(cx, plan, &mut self.store, parallelism, op).await
    }

    /// Releases the lock after `result`, whatever it was; a failed release is reported after
    /// the result's own error.
    pub async fn release<T>(mut self, cx: &Context, result: Result<T>) -> Result<T> {
        release_after(&cx.shell, &mut self.store, result).await
    }
}

/// Runs `plan` with progress and Ctrl-C handling and records it in the history; `Err` only
/// when it could not run (a failed action is in the report).
async fn execute(
    cx: &Context,
    plan: &Plan,
    store: &mut StateStore,
    parallelism: usize,
    op: Operation,
) -> Result<Executed> {
    let started_at = crate::state::history_now();
    let clock = Instant::now();
    // Ctrl-C is handled here (finish what is in flight, save); the lock goes afterwards.
    let deferred = cx.cancel.defer(
        &cx.shell,
        "stopping: no new actions start; waiting for the ones in flight, then saving the state",
    );
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let steps = crate::graph::apply_graph(&plan.actions, &plan.stages)?.node_count();
    let renderer = tokio::spawn(progress::render(cx.shell.clone(), steps, events_rx));
    let options = ApplyOptions {
        parallelism,
        cancel: deferred.stop.clone(),
        events: events_tx,
    };
    let result = apply(plan, cx.provider().await?, store, options).await;
    drop(deferred);
    let _ = renderer.await;
    let report = result?;
    if plan.journal.is_none() {
        history::record_apply(store, plan, &report, op, started_at, clock).await?;
    }
    let stopped = store
        .state()
        .journal
        .clone()
        .filter(|_| plan.journal.is_some());
    Ok(Executed { report, stopped })
}

/// Releases `store`'s lock after `result`, whatever it was; a failed release is reported
/// after the result's own error. (Dropping the store releases it too, as a fallback.)
pub async fn release_after<T>(
    shell: &Shell,
    store: &mut StateStore,
    result: Result<T>,
) -> Result<T> {
    match (result, store.release().await) {
        (Ok(v), Ok(())) => Ok(v),
        (Ok(_), Err(e)) => Err(e),
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(release)) => {
            shell.error(&format!("{release:#}"));
            Err(e)
        }
    }
}

/// Stops before asking when the plan deletes something protected.
pub fn refuse_blocked(plan: &Plan) -> Result<()> {
    if plan.blocked.is_empty() {
        return Ok(());
    }
    anyhow::bail!("refusing to apply this plan: {}", plan.blocked.join("; "))
}
