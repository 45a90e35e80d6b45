//! Changing AWS under the state lock: a plan made against the locked state (`Prepared`),
//! shown and approved by the caller, then run with progress, Ctrl-C handling (finish what
//! is in flight, save) and its history entry, and the lock released whatever happened.
//! Apply and destroy are here; promote, rebuild and restore prepare theirs in `ops::dr`.

use super::{history, Context};
use crate::apply::{apply, ApplyOptions, ApplyReport};
use crate::environment::{check_plan_is_current, Environment, PlanOptions};
use crate::plan::Plan;
use crate::shell::{progress, Shell};
use crate::state::{Backend, Failover, Journal, OpenOptions, Operation, State, StateStore};
use anyhow::Result;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A plan made (or loaded) under the state lock, to be shown and approved, then run or
/// released; the lock is held until then (dropping it releases it too, as a fallback).
pub struct Prepared {
    locked: Locked,
    pub plan: Plan,
    op: Operation,
}

/// What running a plan did.
pub struct Ran {
    pub plan: Plan,
    pub op: Operation,
    pub report: ApplyReport,
    /// The promote or rebuild the plan belongs to, when it stopped before its end.
    pub stopped: Option<Journal>,
}

/// `standby apply` (or, with `opts.destroy`, `standby destroy`): the plan against the
/// locked state. Apply refuses while a promote or rebuild is interrupted: it would record
/// the roles that leads to before making them true, and skip its stages.
pub async fn prepare(cx: &Context, env: &Environment, opts: &PlanOptions) -> Result<Prepared> {
    let op = if opts.destroy {
        Operation::Destroy
    } else {
        Operation::Apply
    };
    let locked = Locked::open(env, &op.to_string()).await?;
    let planned = async {
        if op == Operation::Apply {
            refuse_interrupted(locked.store.state())?;
        }
        env.plan(&*cx.provider().await?, locked.state(), opts).await
    }
    .await;
    locked.prepared(cx, planned, op).await
}

/// `standby apply PLAN_FILE`: a saved plan, locked through the backend it names (so a remote
/// state is found from any checkout), if the state has not moved since it was made.
pub async fn prepare_saved(
    cx: &Context,
    plan: Plan,
    lock_timeout: Option<Duration>,
) -> Result<Prepared> {
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
    let (state, exists) = (locked.store.state(), locked.store.exists());
    let current = check_plan_is_current(&plan, state, exists).and_then(|()| match plan.journal {
        None => refuse_interrupted(state),
        Some(_) => Ok(()),
    });
    let current = current.map(|()| plan);
    locked.prepared(cx, current, Operation::Apply).await
}

/// Refuses to apply while a promote or rebuild is interrupted.
fn refuse_interrupted(state: &State) -> Result<()> {
    match &state.journal {
        Some(j) => anyhow::bail!("{} before applying", j.note()),
        None => Ok(()),
    }
}

impl Prepared {
    /// Runs the plan with progress and Ctrl-C handling, records it in the history and
    /// releases the lock; `Err` only when it could not run (a failed action is in the
    /// report).
    pub async fn run(self, cx: &Context, parallelism: usize) -> Result<Ran> {
        let Prepared {
            mut locked,
            plan,
            op,
        } = self;
        let result = execute(cx, &plan, &mut locked.store, parallelism, op.clone()).await;
        let (report, stopped) = locked.release(cx, result).await?;
        Ok(Ran {
            plan,
            op,
            report,
            stopped,
        })
    }

    /// Releases the lock without running anything (nothing to do, or not approved).
    pub async fn release(self, cx: &Context) -> Result<()> {
        self.locked.release(cx, Ok(())).await
    }

    /// Releases the lock after `result` (a refusal before running).
    pub async fn release_with<T>(self, cx: &Context, result: Result<T>) -> Result<T> {
        self.locked.release(cx, result).await
    }
}

/// The state, locked for one operation until `release` (or, as a fallback, drop).
pub(super) struct Locked {
    store: StateStore,
}

impl Locked {
    /// Locks the environment's state for `operation` ("apply", "promote us-west-2").
    pub(super) async fn open(env: &Environment, operation: &str) -> Result<Locked> {
        Ok(Locked {
            store: env.open_state(operation).await?,
        })
    }

    /// Locks the state for `operation`, which must exist (`missing` says what to do
    /// otherwise), and plans with `make`; the lock is released when that fails.
    pub(super) async fn existing<T>(
        cx: &Context,
        env: &Environment,
        operation: &str,
        missing: &str,
        make: impl AsyncFnOnce(&State) -> Result<T>,
    ) -> Result<(Locked, T)> {
        let locked = Locked::open(env, operation).await?;
        let made = match locked.state() {
            Some(state) => make(state).await,
            None => Err(anyhow::anyhow!(
                "environment {} has no state yet: {missing}",
                env.spec.environment
            )),
        };
        match made {
            Ok(made) => Ok((locked, made)),
            Err(e) => locked.release(cx, Err(e)).await,
        }
    }

    /// The state, when the environment has one yet.
    pub(super) fn state(&self) -> Option<&State> {
        self.store.exists().then(|| self.store.state())
    }

    /// `planned` as a `Prepared` for `op`, or its error with the lock released.
    pub(super) async fn prepared(
        self,
        cx: &Context,
        planned: Result<Plan>,
        op: Operation,
    ) -> Result<Prepared> {
        match planned {
            Ok(plan) => Ok(Prepared {
                locked: self,
                plan,
                op,
            }),
            Err(e) => self.release(cx, Err(e)).await,
        }
    }

    /// Releases the lock after `result`, whatever it was.
    pub(super) async fn release<T>(mut self, cx: &Context, result: Result<T>) -> Result<T> {
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
) -> Result<(ApplyReport, Option<Journal>)> {
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
    Ok((report, stopped))
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
