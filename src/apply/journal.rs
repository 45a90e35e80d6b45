//! Apply's side of a DR operation's journal (see `state::Journal`): the steps recorded as
//! they end, the stages whose steps have all ended, and the roles that become true with
//! them, saved with the resources in the same state write.

use super::{ApplyReport, StepTiming};
use crate::graph::StepNode;
use crate::plan::Plan;
use crate::state::{State, Step, StepOutcome};
use petgraph::graph::DiGraph;
use std::collections::BTreeMap;
use std::time::Instant;

pub(super) struct StageProgress {
    /// Steps per stage that have not ended well (done, or best effort not made).
    pending: BTreeMap<usize, usize>,
    not_made: BTreeMap<usize, Vec<String>>,
    /// Steps ended since the journal was last written.
    ended: Vec<Step>,
    /// Stages this run completed, from the first.
    completed: usize,
    started: Instant,
}

impl StageProgress {
    pub fn new(graph: &DiGraph<StepNode, ()>) -> StageProgress {
        let mut pending = BTreeMap::new();
        for n in graph.node_indices() {
            *pending.entry(graph[n].stage as usize).or_default() += 1;
        }
        StageProgress {
            pending,
            not_made: BTreeMap::new(),
            ended: Vec::new(),
            completed: 0,
            started: Instant::now(),
        }
    }

    /// One step ended; `finished` when what waits for it may go ahead.
    pub fn step_ended(&mut self, step: StepNode, timing: &StepTiming, finished: bool) {
        let stage = step.stage as usize;
        if finished {
            if let Some(n) = self.pending.get_mut(&stage) {
                *n -= 1;
            }
        }
        if timing.outcome == StepOutcome::NotMade {
            self.not_made
                .entry(stage)
                .or_default()
                .push(timing.address.to_string());
        }
        self.ended.push(Step {
            name: format!("{} {}", timing.verb, timing.address),
            started_at: timing.started_at.clone(),
            duration_ms: timing.duration.as_millis() as u64,
            outcome: timing.outcome,
        });
    }

    /// Writes the ended steps and the stages now complete into the state's journal; the
    /// journal goes into the history once its last stage is complete.
    pub fn record(&mut self, state: &mut State, plan: &Plan) {
        if plan.journal.is_none() {
            return;
        }
        if let Some(j) = state.journal.as_mut() {
            j.steps.append(&mut self.ended);
        }
        self.advance(state, plan);
    }

    /// Completes, in order, the stages none of whose steps is left (at the start of a run:
    /// the stages with no step in this plan).
    pub fn advance(&mut self, state: &mut State, plan: &Plan) {
        if plan.journal.is_none() {
            return;
        }
        let Some(j) = state.journal.as_mut() else {
            return;
        };
        let last = j.stages.len().saturating_sub(1);
        while self.completed < j.stages.len() {
            let i = self.completed;
            // Steps staged beyond the journal's stages belong to its last one.
            let left: usize = self
                .pending
                .iter()
                .filter(|(s, _)| (**s).min(last) == i)
                .map(|(_, n)| n)
                .sum();
            if left > 0 {
                return;
            }
            let roles = j.complete_stage(i, self.not_made.remove(&i).unwrap_or_default());
            state.roles.extend(roles);
            self.completed += 1;
        }
        if let Some(mut done) = state.journal.take() {
            state.roles.extend(done.roles.clone());
            done.duration_ms += self.started.elapsed().as_millis() as u64;
            let outcome = done.success_outcome();
            state.record(done.into_entry(outcome));
        }
    }
}

/// Why a run stopped before its last stage, for the interruption its resumption records.
pub(super) fn why_stopped(report: &ApplyReport) -> String {
    match report.failures.first() {
        Some(f) => format!(
            "{} ({}) failed: {}",
            f.address,
            f.region.as_deref().unwrap_or("global"),
            f.error
        ),
        None if report.cancelled => "interrupted (Ctrl-C)".to_string(),
        None => "stopped".to_string(),
    }
}
