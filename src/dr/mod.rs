//! DR operations: promote and rebuild, each building an ordinary `Plan` that is shown,
//! approved and applied by the same engine.
//!
//! Invariant: nothing here calls AWS except through the provider's reads (refresh, replica
//! lag), and never in a region assumed down; every change is an action of the plan.

mod drill;
mod estimate;
mod from_backups;
mod promote;
mod rebuild;

use crate::config::Role;
use crate::environment::Environment;
use crate::state::{Journal, Operation, State};
use std::collections::BTreeMap;

pub use drill::{
    cleanup_drills, drill_state_path, prepare_drill, run_drill, DrillReport, DrillRequest,
    DrillStep, DrillStepOutcome, DrillVerdict, PreparedDrill,
};
pub use estimate::{Basis, Estimate, EstimatedStep};
pub use promote::{plan_promote, PromotePlan, PromoteRequest, RpoGate};
pub use rebuild::{plan_rebuild, RebuildRequest};
mod status;

pub use status::{
    status, BucketRole, DatabaseRole, DatabaseStatus, Interrupted, RegionStatus, Replication,
    Status,
};
mod drift;

pub use drift::{
    drift, kind_name, Checked, DriftKind, DriftOptions, DriftReport, DriftSummary, Drifted,
    Ignored, RoleDifference,
};

/// The journal this run resumes: the state's open one when it is the same operation; another
/// operation's is refused unless the user gives it up (apply then records it as abandoned).
fn resuming<'a>(
    state: &'a State,
    operation: &Operation,
    abandon: bool,
) -> anyhow::Result<Option<&'a Journal>> {
    match &state.journal {
        Some(j) if abandon => {
            tracing::info!(operation = %j.operation, "giving up the interrupted operation");
            Ok(None)
        }
        Some(j) if j.operation == *operation => Ok(Some(j)),
        Some(j) => anyhow::bail!(
            "{} was interrupted at {}: run `{}` to finish it first, or pass --abandon-interrupted to give it up and start from the roles it reached",
            j.operation,
            j.position(),
            j.resume
        ),
        None => Ok(None),
    }
}

/// The roles that are true now: the state's, without those an interrupted operation leads to.
fn true_roles(env: &Environment, state: &State) -> BTreeMap<String, Role> {
    crate::topology::effective_roles(&env.spec, &state.roles)
}

/// Replaces the plan's note about the interrupted operation with what this run does with it.
fn explain_resumption(plan: &mut crate::plan::Plan, state: &State, resumed: bool) {
    let Some(j) = &state.journal else { return };
    let note = j.note();
    plan.notes.retain(|n| *n != note);
    plan.notes.insert(
        0,
        if resumed {
            format!("resuming {}, interrupted at {}", j.operation, j.position())
        } else {
            format!(
                "giving up {}, interrupted at {}: its history entry says abandoned",
                j.operation,
                j.position()
            )
        },
    );
}
