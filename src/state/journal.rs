//! The journal of a DR operation in progress (promote, rebuild): what it is for, which of
//! its stages are done, and the steps taken so far, kept in the state while it runs.
//!
//! Invariant: roles in the state only say what is true. A stage's role changes are written
//! in the same save that records the stage done, so no state records a role before the
//! stage that makes it true completed; a promote's old primary leaves `primary` when the
//! fence stage completes, before the stage that promotes the new one starts, so no state
//! ever records two primaries. The journal leaves the state in the save that appends its
//! single history entry.

use super::history::{now_rfc3339, who, HistoryEntry, Interruption, Operation, Step};
use super::stage::Stage;
use super::RunOutcome;
use crate::config::Role;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Journal {
    /// `promote us-west-2`, `rebuild us-east-1 as warm-standby`: the history's name for it.
    pub operation: Operation,
    /// The command that finishes it: `standby promote us-west-2 --assume-down us-east-1`.
    pub resume: String,
    pub user: String,
    pub host: String,
    /// When the first run started, RFC 3339.
    pub started_at: String,
    /// Time spent by the runs that ended (a killed run counts through its steps only).
    pub duration_ms: u64,
    pub stages: Vec<JournalStage>,
    /// Every region's role once the operation is done.
    pub roles: BTreeMap<String, Role>,
    /// Steps of every run so far, in the order they ended.
    pub steps: Vec<Step>,
    pub details: serde_json::Value,
    /// Why earlier runs stopped, recorded when the same command resumed it.
    pub interruptions: Vec<Interruption>,
    /// Why the last run stopped, when it could say so (a failure, Ctrl-C).
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JournalStage {
    /// `promote the database in us-west-2` ...
    pub name: Stage,
    /// Roles that become true when this stage completes.
    pub roles: BTreeMap<String, Role>,
    pub done: bool,
    /// Best-effort changes of this stage that AWS did not make (Route 53 in an outage).
    pub not_made: Vec<String>,
}

impl JournalStage {
    pub fn new(name: Stage, roles: BTreeMap<String, Role>) -> JournalStage {
        JournalStage {
            name,
            roles,
            done: false,
            not_made: Vec::new(),
        }
    }
}

impl Journal {
    pub fn new(
        operation: Operation,
        resume: &str,
        stages: Vec<JournalStage>,
        roles: BTreeMap<String, Role>,
    ) -> Journal {
        let (user, host) = who();
        Journal {
            operation,
            resume: resume.to_string(),
            user,
            host,
            started_at: now_rfc3339(),
            duration_ms: 0,
            stages,
            roles,
            steps: Vec::new(),
            details: serde_json::Value::Null,
            interruptions: Vec::new(),
            last_error: None,
        }
    }

    /// The first stage not done: `None` once every stage is.
    pub fn current_stage(&self) -> Option<usize> {
        self.stages.iter().position(|s| !s.done)
    }

    /// `stage 2/5 (promote the database in us-west-2)`, or `its last step` when every stage
    /// is done and only the history entry is missing.
    pub fn position(&self) -> String {
        match self.current_stage() {
            Some(i) => format!(
                "stage {}/{} ({})",
                i + 1,
                self.stages.len(),
                self.stages[i].name
            ),
            None => "its last step".to_string(),
        }
    }

    /// What `status` and `plan` say about it.
    pub fn note(&self) -> String {
        format!(
            "{} was interrupted at {}: run `{}` to finish it",
            self.operation,
            self.position(),
            self.resume
        )
    }

    /// The same command runs again: the run that stopped is recorded as an interruption.
    pub fn resume_run(&mut self) {
        let reason = self.last_error.take().unwrap_or_else(|| {
            "the run ended without saving why (killed, or the machine stopped)".to_string()
        });
        self.interruptions.push(Interruption {
            at: self.position(),
            reason,
            resumed_at: now_rfc3339(),
        });
    }

    /// Marks stage `i` done with the best-effort changes it could not make; returns the
    /// roles that became true.
    pub fn complete_stage(&mut self, i: usize, not_made: Vec<String>) -> BTreeMap<String, Role> {
        let Some(stage) = self.stages.get_mut(i) else {
            return BTreeMap::new();
        };
        stage.done = true;
        stage.not_made = not_made;
        stage.roles.clone()
    }

    pub fn is_complete(&self) -> bool {
        self.current_stage().is_none()
    }

    /// Every change not made, over all stages.
    pub fn not_made(&self) -> Vec<String> {
        self.stages
            .iter()
            .flat_map(|s| s.not_made.iter().cloned())
            .collect()
    }

    /// The single history entry of the whole operation, over all its runs.
    pub fn into_entry(self, outcome: RunOutcome) -> HistoryEntry {
        let not_made = self.not_made();
        let mut details = self.details;
        if let Some(obj) = details.as_object_mut() {
            obj.insert("not_made".into(), not_made.into());
            obj.insert(
                "stages".into(),
                self.stages
                    .iter()
                    .map(|s| serde_json::json!({ "name": s.name.to_string(), "done": s.done }))
                    .collect(),
            );
        }
        HistoryEntry {
            operation: self.operation,
            user: self.user,
            host: self.host,
            started_at: self.started_at,
            duration_ms: self.duration_ms,
            outcome,
            steps: self.steps,
            details,
            interruptions: self.interruptions,
            state_replica: None,
        }
    }

    /// The outcome of a journal whose stages are all done.
    pub fn success_outcome(&self) -> RunOutcome {
        RunOutcome::Succeeded {
            not_made: self.not_made().len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn promote() -> Journal {
        Journal::new(
            Operation::Promote {
                region: "us-west-2".into(),
            },
            "standby promote us-west-2",
            vec![
                JournalStage::new(
                    Stage::Fence {
                        old_primary: Some("us-east-1".into()),
                    },
                    BTreeMap::from([("us-east-1".into(), Role::Failed)]),
                ),
                JournalStage::new(
                    Stage::PromoteData {
                        region: "us-west-2".into(),
                    },
                    BTreeMap::from([("us-west-2".into(), Role::Primary)]),
                ),
            ],
            BTreeMap::new(),
        )
    }

    #[test]
    fn the_note_names_the_first_stage_not_done_and_the_command() {
        let mut j = promote();
        assert_eq!(
            j.note(),
            "promote us-west-2 was interrupted at stage 1/2 (fence us-east-1): run `standby promote us-west-2` to finish it"
        );
        let roles = j.complete_stage(0, vec![]);
        assert_eq!(roles["us-east-1"], Role::Failed);
        assert!(j
            .note()
            .contains("stage 2/2 (promote the database in us-west-2)"));
        j.complete_stage(1, vec!["dns.api.record.us-east-1".into()]);
        assert!(j.is_complete());
        assert_eq!(
            j.success_outcome().to_string(),
            "succeeded, 1 change not made"
        );
    }

    #[test]
    fn a_resumed_run_records_why_the_last_one_stopped() {
        let mut j = promote();
        j.last_error = Some("region.us-west-2.database.orders: PromoteReadReplica failed".into());
        j.resume_run();
        j.resume_run();
        assert_eq!(j.interruptions.len(), 2);
        assert!(j.interruptions[0].reason.contains("PromoteReadReplica"));
        assert!(j.interruptions[1].reason.contains("killed"));
        assert_eq!(j.interruptions[1].at, "stage 1/2 (fence us-east-1)");
        let entry = j.into_entry(RunOutcome::SUCCEEDED);
        assert_eq!(entry.interruptions.len(), 2);
    }
}
