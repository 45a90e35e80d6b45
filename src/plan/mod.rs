//! Plans: the actions that take live AWS (as refreshed into `prior`) to the desired layout.
//!
//! Invariant: a plan is computed without mutating anything, and apply executes exactly its
//! actions. A saved plan remembers the state's lineage and serial it was made against and
//! is refused once the state moved on.

mod diff;
mod fence;
mod file;
mod reason;

pub use diff::{diff, unfulfilled, DiffOptions};
pub use fence::{fence_stop, split_brain, writable_database, SplitBrain};
pub use file::{load_plan, save_plan};
pub use reason::{ChangeReason, ZoneKept};

use crate::address::Address;
use crate::config::Role;
use crate::provider::Observed;
use crate::topology::{Desired, Kind};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Not `Serialize`: a saved plan is `file`'s types, `plan --json` `report::plan`'s document.
#[derive(Debug, Clone)]
pub struct Plan {
    pub environment: String,
    /// The environment directory the plan was made from.
    pub env_dir: PathBuf,
    /// Where the state lives, so that `apply FILE` finds a remote state from any checkout;
    /// absent in older plans: the local file beside `env_dir`.
    pub backend: Option<crate::state::Backend>,
    /// `None` when the environment had no state yet.
    pub state_lineage: Option<String>,
    pub state_serial: u64,
    /// The roles the state holds once this plan is applied.
    pub roles: BTreeMap<String, Role>,
    /// Live resources as refreshed (or the state's, with `--refresh=false`).
    pub prior: Vec<Observed>,
    pub actions: Vec<Action>,
    /// `--target`: the plan was narrowed to these addresses, so it may not converge
    /// everything (shown as a warning at plan and apply).
    pub targets: Vec<Address>,
    /// Things a person should know that are not actions (state roles differ from the spec ...).
    pub notes: Vec<String>,
    /// Why this plan must not be applied (a deletion of a `prevent_destroy` resource); apply
    /// refuses a plan that has any.
    pub blocked: Vec<String>,
    /// DR plans run in stages (fence, promote, scale, DNS, replication): an action starts only
    /// after every action of an earlier stage finished. Absent: stage 0.
    pub stages: BTreeMap<Address, u32>,
    /// Actions whose failure is reported but does not stop the plan (Route 53 changes during
    /// a promote, when its control plane may be impaired).
    pub best_effort: std::collections::BTreeSet<Address>,
    /// A DR plan's journal: apply records it in the state, marks its stages done as their
    /// steps complete, and moves it into the history when the last one is.
    pub journal: Option<crate::state::Journal>,
    /// What the history entry of this plan's run records besides its steps (a restore:
    /// the instances it replaced and where they are kept).
    pub details: Value,
    /// Failed regions that answer and could still take writes or traffic.
    pub split_brain: Vec<SplitBrain>,
    /// Outputs evaluated from the spec.
    pub outputs: BTreeMap<String, Value>,
}

/// One attribute that changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub key: String,
    /// `null` when the attribute is new.
    pub before: Value,
    pub after: Value,
}

/// What happens to one address. A closed set: apply handles each.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Create {
        desired: Desired,
    },
    Update {
        desired: Desired,
        current: Observed,
        changes: Vec<Change>,
        /// Why, when the spec does not ask for it (a fence's stop).
        reason: Option<ChangeReason>,
    },
    Replace {
        desired: Desired,
        current: Observed,
        changes: Vec<Change>,
        reason: ChangeReason,
    },
    Delete {
        current: Observed,
        reason: ChangeReason,
    },
}

impl Action {
    pub fn address(&self) -> &Address {
        match self {
            Action::Create { desired }
            | Action::Update { desired, .. }
            | Action::Replace { desired, .. } => &desired.address,
            Action::Delete { current, .. } => &current.address,
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Action::Create { desired }
            | Action::Update { desired, .. }
            | Action::Replace { desired, .. } => desired.kind,
            Action::Delete { current, .. } => current.kind,
        }
    }

    pub fn region(&self) -> Option<&str> {
        match self {
            Action::Create { desired }
            | Action::Update { desired, .. }
            | Action::Replace { desired, .. } => desired.region.as_deref(),
            Action::Delete { current, .. } => current.region.as_deref(),
        }
    }

    /// Why, when the spec alone does not say (replacements, deletions, a fence's stop).
    pub fn reason(&self) -> Option<&ChangeReason> {
        match self {
            Action::Replace { reason, .. } | Action::Delete { reason, .. } => Some(reason),
            Action::Update { reason, .. } => reason.as_ref(),
            Action::Create { .. } => None,
        }
    }

    /// Whether it fences a failed region (its bucket replication removed, its database
    /// stopped): such actions run before anything else in their plan, but for a promote's
    /// stop of the old primary's database, which waits until no replica follows it.
    pub fn fences(&self) -> bool {
        matches!(
            self.reason(),
            Some(ChangeReason::Fence | ChangeReason::FenceStop)
        )
    }

    /// `+`, `~`, `-/+` or `-`.
    pub fn symbol(&self) -> &'static str {
        match self {
            Action::Create { .. } => "+",
            Action::Update { .. } => "~",
            Action::Replace { .. } => "-/+",
            Action::Delete { .. } => "-",
        }
    }

    pub fn verb(&self) -> &'static str {
        match self {
            Action::Create { .. } => "create",
            Action::Update {
                reason: Some(ChangeReason::FenceStop),
                ..
            } => "stop",
            Action::Update { .. } => "update",
            Action::Replace { .. } => "replace",
            Action::Delete { .. } => "delete",
        }
    }
}

/// Counts per action type, for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for a in &self.actions {
            match a {
                Action::Create { .. } => s.create += 1,
                Action::Update { .. } => s.update += 1,
                Action::Replace { .. } => s.replace += 1,
                Action::Delete { .. } => s.delete += 1,
            }
        }
        s
    }

    pub fn has_changes(&self) -> bool {
        !self.actions.is_empty()
    }
}
