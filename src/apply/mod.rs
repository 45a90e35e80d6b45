//! Apply: executes a plan's actions over its dependency graph with bounded concurrency.
//!
//! Invariant: only the plan's actions run; the state is saved after every completed action
//! (completions that arrive together are saved together), so an interruption at any point
//! leaves a state that loads. On a failure or a cancel nothing new starts, what is in flight
//! finishes, and the state is saved before returning. A plan without a journal records its
//! roles at the start; a DR plan's journal changes them stage by stage (`journal.rs`).

mod event;
mod journal;

pub use event::{ApplyEvent, ApplyReport, Failure, StepTiming};

use crate::address::Address;
use crate::graph::{apply_graph, Phase, StepNode};
use crate::plan::{Action, Plan};
use crate::provider::{ApplyContext, Observed, Provider};
use crate::state::{RunOutcome, State, StateStore, StepOutcome};
use crate::topology::Desired;
use anyhow::Result;
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

pub struct ApplyOptions {
    pub parallelism: usize,
    /// Becomes true when the user asks to stop (Ctrl-C): nothing new is scheduled.
    pub cancel: watch::Receiver<bool>,
    pub events: mpsc::UnboundedSender<ApplyEvent>,
}

/// The state as actions see it while the apply runs.
struct SharedState(RwLock<State>);

impl ApplyContext for SharedState {
    fn get(&self, address: &Address) -> Option<Observed> {
        self.0.read().ok()?.get(address).cloned()
    }
}

enum Outcome {
    Converged(Box<Observed>),
    Deleted,
}

/// Runs `plan` against `provider`, recording every completed action in `store`.
pub async fn apply(
    plan: &Plan,
    provider: Arc<dyn Provider>,
    store: &mut StateStore,
    opts: ApplyOptions,
) -> Result<ApplyReport> {
    if !plan.blocked.is_empty() {
        anyhow::bail!("the plan cannot be applied: {}", plan.blocked.join("; "));
    }
    let started = Instant::now();
    let graph = apply_graph(&plan.actions, &plan.stages)?;
    let mut stages = journal::StageProgress::new(&graph);
    {
        // The refreshed view becomes the state: adopted resources are recorded and vanished
        // ones dropped before anything changes.
        let state = store.state_mut();
        state.set_resources(plan.prior.clone());
        match &plan.journal {
            // A DR operation changes roles stage by stage, as they become true.
            Some(j) => {
                let other = state.journal.take().filter(|open| {
                    open.operation != j.operation || open.started_at != j.started_at
                });
                if let Some(given_up) = other {
                    state.record(given_up.into_entry(RunOutcome::Abandoned));
                }
                state.journal = Some(j.clone());
                stages.advance(state, plan);
            }
            None => state.roles = plan.roles.clone(),
        }
        state.outputs = plan.outputs.clone();
    }
    store.save().await?;
    let _ = opts.events.send(ApplyEvent::StateSaved {
        serial: store.state().serial,
    });

    let shared = Arc::new(SharedState(RwLock::new(store.state().clone())));
    let mut waiting: Vec<usize> = graph
        .node_indices()
        .map(|n| graph.edges_directed(n, Direction::Incoming).count())
        .collect();
    let mut ready: Vec<petgraph::graph::NodeIndex> = graph
        .node_indices()
        .filter(|n| waiting[n.index()] == 0)
        .collect();
    let parallelism = opts.parallelism.max(1);
    let mut running: JoinSet<(petgraph::graph::NodeIndex, Duration, Result<Outcome>)> =
        JoinSet::new();
    let mut report = ApplyReport {
        total: graph.node_count(),
        ..Default::default()
    };
    let mut stop = false;

    loop {
        if *opts.cancel.borrow() && !report.cancelled {
            report.cancelled = true;
            stop = true;
        }
        if !stop {
            while running.len() < parallelism {
                let Some(node) = ready.pop() else { break };
                let step = graph[node];
                let action = plan.actions[step.action].clone();
                let _ = opts.events.send(ApplyEvent::Started {
                    address: action.address().clone(),
                    verb: step_verb(&action, step),
                });
                let provider = provider.clone();
                let shared = shared.clone();
                running.spawn(async move {
                    let t = Instant::now();
                    let result = run_step(&*provider, &action, step, &*shared).await;
                    (node, t.elapsed(), result)
                });
            }
        }
        if running.is_empty() {
            break;
        }
        let mut cancel = opts.cancel.clone();
        let cancelled = async move {
            // A closed channel means nobody can cancel any more: wait on the actions alone.
            if cancel.changed().await.is_err() {
                std::future::pending::<()>().await
            }
        };
        let joined = tokio::select! {
            j = running.join_next() => j,
            _ = cancelled => continue,
        };
        let Some(joined) = joined else { break };
        let mut batch = vec![joined];
        while let Some(more) = running.try_join_next() {
            batch.push(more);
        }
        for joined in batch {
            let (node, elapsed, result) = joined?;
            let step = graph[node];
            let action = &plan.actions[step.action];
            let address = action.address().clone();
            let verb = step_verb(action, step);
            let not_made = result.is_err() && plan.best_effort.contains(&address);
            let timing = StepTiming {
                address: address.clone(),
                verb,
                started_at: started_at(elapsed),
                duration: elapsed,
                outcome: match &result {
                    Ok(_) => StepOutcome::Done,
                    Err(_) if not_made => StepOutcome::NotMade,
                    Err(_) => StepOutcome::Failed,
                },
            };
            stages.step_ended(step, &timing, result.is_ok() || not_made);
            report.steps.push(timing);
            let release = match result {
                Ok(outcome) => {
                    let mut state = shared
                        .0
                        .write()
                        .expect("no thread panics while holding the state");
                    match outcome {
                        Outcome::Converged(o) => {
                            let mut o = *o;
                            if let Action::Create { desired }
                            | Action::Update { desired, .. }
                            | Action::Replace { desired, .. } = action
                            {
                                o.depends_on = desired.dependencies().cloned().collect();
                                record_name(&mut o, desired);
                            }
                            state.upsert(o);
                        }
                        Outcome::Deleted => {
                            state.remove(&address);
                        }
                    }
                    report.completed += 1;
                    let _ = opts.events.send(ApplyEvent::Finished {
                        address,
                        verb,
                        elapsed,
                    });
                    true
                }
                Err(error) => {
                    let message = format!("{error:#}");
                    let _ = opts.events.send(ApplyEvent::Failed {
                        address: address.clone(),
                        verb,
                        error: message.clone(),
                    });
                    let failure = Failure {
                        address: address.clone(),
                        region: action.region().map(str::to_string),
                        error: message,
                    };
                    if plan.best_effort.contains(&address) {
                        // Reported, and what waits for it goes ahead: the data plane fails over by itself.
                        report.not_made.push(failure);
                        true
                    } else {
                        stop = true;
                        report.failures.push(failure);
                        false
                    }
                }
            };
            if release {
                for e in graph.edges_directed(node, Direction::Outgoing) {
                    let next = e.target();
                    waiting[next.index()] -= 1;
                    if waiting[next.index()] == 0 {
                        ready.push(next);
                    }
                }
            }
        }
        {
            let mut state = shared
                .0
                .write()
                .expect("no thread panics while holding the state");
            stages.record(&mut state, plan);
            // Everything but the serial comes from the shared copy: the store's serial rises
            // on every write.
            let serial = store.state().serial;
            *store.state_mut() = state.clone();
            store.state_mut().serial = serial;
        }
        store.save().await?;
        let _ = opts.events.send(ApplyEvent::StateSaved {
            serial: store.state().serial,
        });
    }
    report.elapsed = started.elapsed();
    let journaled = plan.journal.is_some();
    if let Some(j) = store.state_mut().journal.as_mut().filter(|_| journaled) {
        // The run stopped before the last stage: the next run of the command resumes it.
        j.duration_ms += report.elapsed.as_millis() as u64;
        j.last_error = Some(journal::why_stopped(&report));
        store.save().await?;
    }
    Ok(report)
}

/// Keeps the name the resource was created with (names are fixed at creation: a component
/// renamed after `state mv` keeps its AWS names, see `topology::pin_names`).
fn record_name(o: &mut Observed, desired: &Desired) {
    o.computed
        .entry(crate::topology::NAME_KEY)
        .or_insert_with(|| desired.name.clone().into());
}

/// When a step that just finished after `elapsed` started, as RFC 3339.
fn started_at(elapsed: Duration) -> String {
    let start = time::OffsetDateTime::now_utc() - elapsed;
    start
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn step_verb(action: &Action, step: StepNode) -> &'static str {
    match (action, step.phase) {
        (Action::Replace { .. }, Phase::Delete) => "delete (replace)",
        (Action::Replace { .. }, Phase::Converge) => "create (replace)",
        _ => action.verb(),
    }
}

/// The desired resource with its bound attributes taken from what the state holds now.
fn bind(desired: &Desired, ctx: &dyn ApplyContext) -> Result<Desired> {
    let bound = desired.bind(|a| ctx.get(a).map(|o| o.computed));
    if bound.has_unknowns() {
        anyhow::bail!(
            "{}: a value it takes from another resource is still unknown (is that resource running?)",
            desired.address
        );
    }
    Ok(bound)
}

async fn run_step(
    provider: &dyn Provider,
    action: &Action,
    step: StepNode,
    ctx: &dyn ApplyContext,
) -> Result<Outcome> {
    match (action, step.phase) {
        (Action::Create { desired } | Action::Replace { desired, .. }, Phase::Converge) => provider
            .create(&bind(desired, ctx)?, ctx)
            .await
            .map(|o| Outcome::Converged(Box::new(o))),
        (
            Action::Update {
                desired, current, ..
            },
            _,
        ) => provider
            .update(&bind(desired, ctx)?, current, ctx)
            .await
            .map(|o| Outcome::Converged(Box::new(o))),
        (Action::Delete { current, .. } | Action::Replace { current, .. }, Phase::Delete) => {
            provider
                .delete(current, ctx)
                .await
                .map(|()| Outcome::Deleted)
        }
        (Action::Create { .. }, Phase::Delete) | (Action::Delete { .. }, Phase::Converge) => {
            unreachable!("apply_graph gives creates no delete step and deletes no converge step")
        }
    }
}
