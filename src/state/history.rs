//! The state's history: who ran which operation when, and how long each step took.
//!
//! Invariant: entries are only ever appended.

use super::{RunOutcome, StepOutcome};
use crate::config::Role;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub operation: Operation,
    pub user: String,
    pub host: String,
    /// RFC 3339.
    pub started_at: String,
    pub duration_ms: u64,
    pub outcome: RunOutcome,
    pub steps: Vec<Step>,
    pub details: serde_json::Value,
    /// Runs of a DR operation that stopped before the same command finished it.
    pub interruptions: Vec<Interruption>,
    /// The state replica the run read, locked and wrote because the backend's region was
    /// down: `s3://bucket/key in us-west-2`.
    pub state_replica: Option<String>,
}

/// A run that stopped part-way; the next run of the same command resumed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Interruption {
    /// Where it stopped: `stage 2/5 (promote the database in us-west-2)`.
    pub at: String,
    pub reason: String,
    /// RFC 3339.
    pub resumed_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: String,
    pub started_at: String,
    pub duration_ms: u64,
    pub outcome: StepOutcome,
}

/// Who runs this process and where: `$USER` and the host name.
pub fn who() -> (String, String) {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let host = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into());
    (user, host)
}

/// The current time as RFC 3339.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// What a history entry (or the journal of a run under way) records having run.
///
/// `Display` is how people read it (`promote us-west-2`); the state file's words are
/// `file::words`'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    Apply,
    Destroy,
    Promote {
        region: String,
    },
    Rebuild {
        region: String,
        role: Role,
    },
    Drill {
        region: String,
    },
    /// `standby restore`: the region's databases restored to an earlier point.
    Restore {
        region: String,
    },
    /// `standby restore --cleanup`: the instances restores kept, deleted.
    RestoreCleanup,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::Apply => f.write_str("apply"),
            Operation::Destroy => f.write_str("destroy"),
            Operation::Promote { region } => write!(f, "promote {region}"),
            Operation::Rebuild { region, role } => write!(f, "rebuild {region} as {role}"),
            Operation::Drill { region } => write!(f, "drill {region}"),
            Operation::Restore { region } => write!(f, "restore {region}"),
            Operation::RestoreCleanup => f.write_str("restore --cleanup"),
        }
    }
}
