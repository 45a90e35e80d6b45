//! The state's history: who ran which operation when, and how long each step took.
//!
//! Invariant: entries are only ever appended.

use super::{RunOutcome, StepOutcome};
use crate::config::Role;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub operation: Operation,
    pub user: String,
    pub host: String,
    /// RFC 3339.
    pub started_at: String,
    pub duration_ms: u64,
    pub outcome: RunOutcome,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
    /// Runs of a DR operation that stopped before the same command finished it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interruptions: Vec<Interruption>,
    /// The state replica the run read, locked and wrote because the backend's region was
    /// down: `s3://bucket/key in us-west-2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_replica: Option<String>,
}

/// A run that stopped part-way; the next run of the same command resumed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interruption {
    /// Where it stopped: `stage 2/5 (promote the database in us-west-2)`.
    pub at: String,
    pub reason: String,
    /// RFC 3339.
    pub resumed_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
/// The words are the state file's form (`"operation": "promote us-west-2"`): `Display` and
/// `FromStr` here are that format's conversion, so histories written before read as they were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Operation {
    Apply,
    Destroy,
    Promote { region: String },
    Rebuild { region: String, role: Role },
    Drill { region: String },
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::Apply => f.write_str("apply"),
            Operation::Destroy => f.write_str("destroy"),
            Operation::Promote { region } => write!(f, "promote {region}"),
            Operation::Rebuild { region, role } => write!(f, "rebuild {region} as {role}"),
            Operation::Drill { region } => write!(f, "drill {region}"),
        }
    }
}

impl FromStr for Operation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let op = match s.split_once(' ') {
            None if s == "apply" => Operation::Apply,
            None if s == "destroy" => Operation::Destroy,
            Some(("promote", r)) => Operation::Promote { region: r.into() },
            Some(("drill", r)) => Operation::Drill { region: r.into() },
            Some(("rebuild", rest)) => {
                let (r, role) = rest
                    .split_once(" as ")
                    .ok_or_else(|| format!("{s:?} names no role"))?;
                let role = serde_json::from_value(role.into()).map_err(|e| e.to_string())?;
                Operation::Rebuild {
                    region: r.into(),
                    role,
                }
            }
            _ => return Err(format!("{s:?} is not an operation standby records")),
        };
        Ok(op)
    }
}

impl From<Operation> for String {
    fn from(o: Operation) -> String {
        o.to_string()
    }
}

impl TryFrom<String> for Operation {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_reads_back_from_its_words() {
        let r = || "us-west-2".to_string();
        for o in [
            Operation::Apply,
            Operation::Destroy,
            Operation::Promote { region: r() },
            Operation::Rebuild {
                region: r(),
                role: Role::WarmStandby,
            },
            Operation::Drill { region: r() },
        ] {
            assert_eq!(o.to_string().parse::<Operation>(), Ok(o.clone()), "{o}");
        }
        assert_eq!(
            Operation::Rebuild {
                region: r(),
                role: Role::ColdStandby
            }
            .to_string(),
            "rebuild us-west-2 as cold-standby"
        );
        assert!("restore".parse::<Operation>().is_err());
    }
}
