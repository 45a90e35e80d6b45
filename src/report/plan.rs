//! `plan --json` (and `promote --json`, `show PLAN --json`): the document and its
//! conversion from a `Plan` and a promote's `Estimate`.

use super::ChangeFile;
use crate::dr::{Basis, Estimate, EstimatedStep};
use crate::plan::{Action, Change, ChangeReason, Plan, Summary};
use crate::state::file::RoleWord;
use crate::topology::Kind;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Version of the `plan --json` document (a saved plan file has its own, `plan::file`'s).
pub const VERSION: u32 = 1;

/// The `before` of an attribute a create sets.
static NONE: Value = Value::Null;

#[derive(Debug, Serialize)]
struct PlanFile<'a> {
    format_version: u32,
    environment: &'a str,
    state_lineage: Option<&'a str>,
    state_serial: u64,
    summary: SummaryFile,
    notes: &'a [String],
    roles: BTreeMap<&'a str, RoleWord>,
    /// Failed regions that answer and could still take writes or traffic, as warned.
    split_brain: Vec<String>,
    actions: Vec<ActionFile<'a>>,
    /// A promote plan's recovery-time estimate.
    #[serde(skip_serializing_if = "Option::is_none")]
    estimate: Option<EstimateFile<'a>>,
}

#[derive(Debug, Serialize)]
struct SummaryFile {
    create: usize,
    update: usize,
    replace: usize,
    delete: usize,
}

/// What an action does, in the document's words.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
enum ActionWord {
    Create,
    Update,
    Replace,
    Delete,
    /// A fence's stop of a failed region's database.
    Stop,
}

#[derive(Debug, Serialize)]
struct ActionFile<'a> {
    address: &'a str,
    action: ActionWord,
    kind: Kind,
    region: Option<&'a str>,
    reason: Option<String>,
    changes: Vec<ChangeFile<'a>>,
}

#[derive(Debug, Serialize)]
struct EstimateFile<'a> {
    critical_path: Vec<StepFile<'a>>,
    /// Whole seconds.
    total: u64,
    rto: u64,
}

#[derive(Debug, Serialize)]
struct StepFile<'a> {
    stage: u32,
    step: &'a str,
    /// Whole seconds.
    duration: u64,
    basis: BasisWord,
}

/// Where a step's duration comes from, in the document's words.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
enum BasisWord {
    Recorded,
    DatabasePromote,
    InstanceLaunch,
    DnsFailover,
    ApiCall,
}

/// `plan --json`, pretty-printed.
pub fn json(plan: &Plan) -> String {
    document(plan, None)
}

/// `promote --json`: the plan as `plan --json` shows it, with its recovery-time estimate.
pub fn promote_json(plan: &Plan, estimate: &Estimate) -> String {
    document(plan, Some(estimate))
}

fn document(plan: &Plan, estimate: Option<&Estimate>) -> String {
    let file = PlanFile {
        format_version: VERSION,
        environment: &plan.environment,
        state_lineage: plan.state_lineage.as_deref(),
        state_serial: plan.state_serial,
        summary: plan.summary().into(),
        notes: &plan.notes,
        roles: plan
            .roles
            .iter()
            .map(|(r, role)| (r.as_str(), (*role).into()))
            .collect(),
        split_brain: plan.split_brain.iter().map(ToString::to_string).collect(),
        actions: plan.actions.iter().map(Into::into).collect(),
        estimate: estimate.map(Into::into),
    };
    serde_json::to_string_pretty(&file).unwrap_or_default()
}

impl From<Summary> for SummaryFile {
    fn from(s: Summary) -> Self {
        SummaryFile {
            create: s.create,
            update: s.update,
            replace: s.replace,
            delete: s.delete,
        }
    }
}

impl<'a> From<&'a Action> for ActionFile<'a> {
    fn from(a: &'a Action) -> Self {
        let (action, changes) = match a {
            Action::Create { desired } => (
                ActionWord::Create,
                desired
                    .attrs
                    .iter()
                    .map(|(k, v)| ChangeFile {
                        key: k,
                        before: &NONE,
                        after: v,
                    })
                    .collect(),
            ),
            Action::Update {
                changes,
                reason: Some(ChangeReason::FenceStop),
                ..
            } => (ActionWord::Stop, changes_of(changes)),
            Action::Update { changes, .. } => (ActionWord::Update, changes_of(changes)),
            Action::Replace { changes, .. } => (ActionWord::Replace, changes_of(changes)),
            Action::Delete { .. } => (ActionWord::Delete, Vec::new()),
        };
        ActionFile {
            address: a.address().as_str(),
            action,
            kind: a.kind(),
            region: a.region(),
            reason: a.reason().map(ToString::to_string),
            changes,
        }
    }
}

fn changes_of(changes: &[Change]) -> Vec<ChangeFile<'_>> {
    changes.iter().map(Into::into).collect()
}

impl<'a> From<&'a Estimate> for EstimateFile<'a> {
    fn from(e: &'a Estimate) -> Self {
        EstimateFile {
            critical_path: e.critical_path.iter().map(Into::into).collect(),
            total: e.total.as_secs(),
            rto: e.rto.as_secs(),
        }
    }
}

impl<'a> From<&'a EstimatedStep> for StepFile<'a> {
    fn from(s: &'a EstimatedStep) -> Self {
        StepFile {
            stage: s.stage,
            step: &s.step,
            duration: s.duration.as_secs(),
            basis: s.basis.into(),
        }
    }
}

impl From<Basis> for BasisWord {
    fn from(b: Basis) -> Self {
        match b {
            Basis::Recorded => BasisWord::Recorded,
            Basis::DatabasePromote => BasisWord::DatabasePromote,
            Basis::InstanceLaunch => BasisWord::InstanceLaunch,
            Basis::DnsFailover => BasisWord::DnsFailover,
            Basis::ApiCall => BasisWord::ApiCall,
        }
    }
}
