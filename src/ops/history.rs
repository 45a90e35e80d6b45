//! The history entries of apply-like runs (a DR plan's journal records its own, once, when
//! done) and of drills, in one place.

use crate::apply::ApplyReport;
use crate::dr::{DrillReport, DrillStepOutcome, DrillVerdict};
use crate::environment::Environment;
use crate::plan::Plan;
use crate::state::{
    history_now, HistoryEntry, Operation, RunOutcome, StateStore, Step, StepOutcome,
};
use anyhow::Result;
use std::time::Instant;

/// Appends the run to the history and saves the state.
pub(super) async fn record_apply(
    store: &mut StateStore,
    plan: &Plan,
    report: &ApplyReport,
    op: Operation,
    started_at: String,
    clock: Instant,
) -> Result<()> {
    let mut details = serde_json::json!({
        "actions": plan.actions.len(),
        "not_made": report
            .not_made
            .iter()
            .map(|f| f.address.to_string())
            .collect::<Vec<_>>(),
    });
    if let (Some(all), Some(more)) = (details.as_object_mut(), plan.details.as_object()) {
        all.extend(more.clone());
    }
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
    record(
        store,
        HistoryEntry {
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
        },
    )
    .await
}

/// Appends the drill to the production state's history, for `status`.
pub(super) async fn record_drill(env: &Environment, report: &DrillReport) -> Result<()> {
    let mut store = env.open_state(&format!("drill {}", report.region)).await?;
    if !store.exists() {
        return Ok(());
    }
    let (user, host) = crate::state::who();
    let entry = HistoryEntry {
        operation: Operation::Drill {
            region: report.region.clone(),
        },
        user,
        host,
        started_at: report.started_at.clone(),
        duration_ms: report
            .steps
            .iter()
            .map(|s| ((s.offset_s + s.duration_s) * 1000.0) as u64)
            .max()
            .unwrap_or(0),
        outcome: match report.verdict {
            DrillVerdict::Met => RunOutcome::Met,
            DrillVerdict::Missed => RunOutcome::Missed,
            DrillVerdict::Failed => RunOutcome::Failed,
        },
        steps: report
            .steps
            .iter()
            .map(|s| Step {
                name: s.name.clone(),
                started_at: s.started_at.clone(),
                duration_ms: (s.duration_s * 1000.0) as u64,
                outcome: match s.outcome {
                    DrillStepOutcome::Ok => StepOutcome::Done,
                    DrillStepOutcome::Failed => StepOutcome::Failed,
                },
            })
            .collect(),
        details: serde_json::json!({ "id": report.id, "recovery_time_s": report.recovery_time_s, "rto_s": report.rto_s, "recorded_at": history_now() }),
        interruptions: Vec::new(),
        state_replica: None,
    };
    record(&mut store, entry).await?;
    store.release().await
}

/// Appends `entry` and saves.
pub(super) async fn record(store: &mut StateStore, entry: HistoryEntry) -> Result<()> {
    store.state_mut().record(entry);
    store.save().await
}
