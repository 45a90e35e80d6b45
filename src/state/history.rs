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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub started_at: String,
    pub duration_ms: u64,
    pub outcome: String,
}

/// The current time as RFC 3339.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
