//! What apply reports while it runs and when it ends; only the CLI renders these.
//!
//! Invariant: events carry addresses and plain text, never a secret.

use crate::address::Address;
use std::time::Duration;

#[derive(Debug, Clone)]
pub enum ApplyEvent {
    Started {
        address: Address,
        verb: &'static str,
    },
    Finished {
        address: Address,
        verb: &'static str,
        elapsed: Duration,
    },
    Failed {
        address: Address,
        verb: &'static str,
        error: String,
    },
    StateSaved {
        serial: u64,
    },
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub address: Address,
    pub region: Option<String>,
    /// The whole error chain: operation, region, request id.
    pub error: String,
}

/// When one step ran and how long it took (for the history and reports).
#[derive(Debug, Clone)]
pub struct StepTiming {
    pub address: Address,
    pub verb: &'static str,
    /// RFC 3339.
    pub started_at: String,
    pub duration: Duration,
    pub outcome: crate::state::StepOutcome,
}

#[derive(Debug, Clone, Default)]
pub struct ApplyReport {
    /// Steps in the plan's graph (a replacement is two).
    pub total: usize,
    pub completed: usize,
    pub failures: Vec<Failure>,
    /// Best-effort actions that failed: reported, not fatal.
    pub not_made: Vec<Failure>,
    pub steps: Vec<StepTiming>,
    pub cancelled: bool,
    pub elapsed: Duration,
}

impl ApplyReport {
    pub fn succeeded(&self) -> bool {
        self.failures.is_empty() && !self.cancelled
    }
}
