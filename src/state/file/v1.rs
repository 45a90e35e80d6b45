//! The state file, version 1: what standby wrote before version 2, read only and upgraded.
//!
//! Version 1 is version 2's layout with looser rules: `service`, `roles`, `resources`,
//! `outputs` and `history` may be absent (early files), and a step's outcome was free
//! words: drills wrote `ok` and a promote's RPO gate its verdict, both steps that ended well.

use super::v2::{Entry, JournalFile, Resource, StateFile};
use super::words::RoleWord;
use crate::state::StepOutcome;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

pub const VERSION: u32 = 1;

#[derive(Debug, Deserialize)]
pub struct StateFileV1 {
    pub serial: u64,
    pub lineage: String,
    #[serde(default)]
    pub service: String,
    pub environment: String,
    #[serde(default)]
    pub roles: BTreeMap<String, RoleWord>,
    #[serde(default)]
    pub resources: Vec<Resource>,
    #[serde(default)]
    pub outputs: BTreeMap<String, Value>,
    #[serde(default)]
    pub history: Vec<Entry<StepText>>,
    #[serde(default)]
    pub journal: Option<JournalFile<StepText>>,
}

/// A version 1 step outcome: any words.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct StepText(String);

impl From<StepText> for StepOutcome {
    fn from(StepText(s): StepText) -> StepOutcome {
        match s.as_str() {
            "not made" => StepOutcome::NotMade,
            "failed" => StepOutcome::Failed,
            // `done`, `ok`, or a passed RPO gate's verdict (a refused gate records nothing).
            _ => StepOutcome::Done,
        }
    }
}

impl StateFileV1 {
    /// The same state as version 2, its absent fields empty and its step outcomes closed.
    pub fn upgrade(self) -> anyhow::Result<crate::state::State> {
        StateFile {
            format_version: super::v2::VERSION,
            serial: self.serial,
            lineage: self.lineage,
            service: self.service,
            environment: self.environment,
            roles: self.roles,
            resources: self.resources,
            outputs: self.outputs,
            history: self.history,
            journal: self.journal,
        }
        .into_state()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_step_words_read_as_done() {
        let step = |s: &str| StepOutcome::from(StepText(s.into()));
        assert_eq!(step("ok"), StepOutcome::Done);
        assert_eq!(step("done"), StepOutcome::Done);
        assert_eq!(
            step("replica lag 0s in us-west-2 is within the rpo of 15m"),
            StepOutcome::Done
        );
        assert_eq!(step("not made"), StepOutcome::NotMade);
        assert_eq!(step("failed"), StepOutcome::Failed);
    }
}
