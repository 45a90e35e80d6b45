//! The state's history: who ran which operation when, and how long each step took.
//!
//! Invariant: entries are only ever appended.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// `apply`, `destroy`, `promote us-west-2` ...
    pub operation: String,
    pub user: String,
    pub host: String,
    /// RFC 3339.
    pub started_at: String,
    pub duration_ms: u64,
    pub outcome: String,
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
    pub outcome: String,
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
