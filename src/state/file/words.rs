//! The words the state file gives its closed enums (`"operation": "promote us-west-2"`,
//! `"outcome": "succeeded, 1 change not made"`, a journal stage's `"name"`): written by
//! version 2, and read by versions 1 and 2, which share them.
//!
//! Invariant: these are the file's words, defined here only; the CLI renders the domain
//! types its own way, so a change of wording there never changes a file.

use crate::config::Role;
use crate::state::{Operation, RunOutcome, Stage, StepOutcome};
use serde::{Deserialize, Serialize};

/// A region's role in the file: `"warm-standby"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleWord {
    Primary,
    WarmStandby,
    ColdStandby,
    Failed,
}

impl From<Role> for RoleWord {
    fn from(r: Role) -> Self {
        match r {
            Role::Primary => RoleWord::Primary,
            Role::WarmStandby => RoleWord::WarmStandby,
            Role::ColdStandby => RoleWord::ColdStandby,
            Role::Failed => RoleWord::Failed,
        }
    }
}

impl From<RoleWord> for Role {
    fn from(r: RoleWord) -> Self {
        match r {
            RoleWord::Primary => Role::Primary,
            RoleWord::WarmStandby => Role::WarmStandby,
            RoleWord::ColdStandby => Role::ColdStandby,
            RoleWord::Failed => Role::Failed,
        }
    }
}

fn role_word(r: &Role) -> String {
    serde_json::to_value(RoleWord::from(*r))
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn parse_role(s: &str) -> Result<Role, String> {
    serde_json::from_value::<RoleWord>(s.into())
        .map(Role::from)
        .map_err(|_| format!("{s:?} is not a role"))
}

const RESTORE_CLEANUP: &str = "restore --cleanup";

pub fn operation(o: &Operation) -> String {
    match o {
        Operation::Apply => "apply".into(),
        Operation::Destroy => "destroy".into(),
        Operation::Promote { region } => format!("promote {region}"),
        Operation::Rebuild { region, role } => format!("rebuild {region} as {}", role_word(role)),
        Operation::Drill { region } => format!("drill {region}"),
        Operation::Restore { region } => format!("restore {region}"),
        Operation::RestoreCleanup => RESTORE_CLEANUP.into(),
    }
}

pub fn parse_operation(s: &str) -> Result<Operation, String> {
    let op = match s.split_once(' ') {
        None if s == "apply" => Operation::Apply,
        None if s == "destroy" => Operation::Destroy,
        _ if s == RESTORE_CLEANUP => Operation::RestoreCleanup,
        Some(("restore", r)) => Operation::Restore { region: r.into() },
        Some(("promote", r)) => Operation::Promote { region: r.into() },
        Some(("drill", r)) => Operation::Drill { region: r.into() },
        Some(("rebuild", rest)) => {
            let (r, role) = rest
                .split_once(" as ")
                .ok_or_else(|| format!("{s:?} names no role"))?;
            Operation::Rebuild {
                region: r.into(),
                role: parse_role(role)?,
            }
        }
        _ => return Err(format!("{s:?} is not an operation standby records")),
    };
    Ok(op)
}

pub fn outcome(o: RunOutcome) -> String {
    match o {
        RunOutcome::Succeeded { not_made: 0 } => "succeeded".into(),
        RunOutcome::Succeeded { not_made: 1 } => "succeeded, 1 change not made".into(),
        RunOutcome::Succeeded { not_made } => format!("succeeded, {not_made} changes not made"),
        RunOutcome::Interrupted => "interrupted".into(),
        RunOutcome::Failed => "failed".into(),
        RunOutcome::Abandoned => "abandoned".into(),
        RunOutcome::Met => "met".into(),
        RunOutcome::Missed => "missed".into(),
    }
}

pub fn parse_outcome(s: &str) -> Result<RunOutcome, String> {
    let not_made = |rest: &str| {
        rest.strip_suffix(" changes not made")
            .or_else(|| rest.strip_suffix(" change not made"))
            .and_then(|n| n.parse().ok())
    };
    Ok(match s {
        "succeeded" => RunOutcome::SUCCEEDED,
        "interrupted" => RunOutcome::Interrupted,
        "failed" => RunOutcome::Failed,
        "abandoned" => RunOutcome::Abandoned,
        "met" => RunOutcome::Met,
        "missed" => RunOutcome::Missed,
        _ => match s.strip_prefix("succeeded, ").and_then(not_made) {
            Some(not_made) => RunOutcome::Succeeded { not_made },
            None => return Err(format!("{s:?} is not an outcome standby records")),
        },
    })
}

/// How a step ended, in version 2: a closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepWord {
    #[serde(rename = "done")]
    Done,
    #[serde(rename = "not made")]
    NotMade,
    #[serde(rename = "failed")]
    Failed,
}

impl From<StepOutcome> for StepWord {
    fn from(o: StepOutcome) -> Self {
        match o {
            StepOutcome::Done => StepWord::Done,
            StepOutcome::NotMade => StepWord::NotMade,
            StepOutcome::Failed => StepWord::Failed,
        }
    }
}

impl From<StepWord> for StepOutcome {
    fn from(o: StepWord) -> Self {
        match o {
            StepWord::Done => StepOutcome::Done,
            StepWord::NotMade => StepOutcome::NotMade,
            StepWord::Failed => StepOutcome::Failed,
        }
    }
}

const NO_PRIMARY: &str = "fence the old primary (there is none)";

pub fn stage(s: &Stage) -> String {
    match s {
        Stage::Fence { old_primary: None } => NO_PRIMARY.into(),
        Stage::Fence {
            old_primary: Some(p),
        } => format!("fence {p}"),
        Stage::PromoteData { region } => format!("promote the database in {region}"),
        Stage::Scale { region } => format!("scale {region} to full size"),
        Stage::Traffic { region } => format!("move DNS to {region}"),
        Stage::Replication { region } => format!("replicate buckets from {region}"),
        Stage::BringUp { region, role } => format!("bring {region} up as {}", role_word(role)),
        Stage::Repoint { region } => format!("point DNS and bucket replication at {region}"),
    }
}

pub fn parse_stage(s: &str) -> Result<Stage, String> {
    let region = |r: &str| r.to_string();
    let stage = if s == NO_PRIMARY {
        Stage::Fence { old_primary: None }
    } else if let Some(r) = s.strip_prefix("promote the database in ") {
        Stage::PromoteData { region: region(r) }
    } else if let Some(r) = s
        .strip_prefix("scale ")
        .and_then(|r| r.strip_suffix(" to full size"))
    {
        Stage::Scale { region: region(r) }
    } else if let Some(r) = s.strip_prefix("move DNS to ") {
        Stage::Traffic { region: region(r) }
    } else if let Some(r) = s.strip_prefix("replicate buckets from ") {
        Stage::Replication { region: region(r) }
    } else if let Some(r) = s.strip_prefix("point DNS and bucket replication at ") {
        Stage::Repoint { region: region(r) }
    } else if let Some((r, role)) = s
        .strip_prefix("bring ")
        .and_then(|r| r.split_once(" up as "))
    {
        Stage::BringUp {
            region: region(r),
            role: parse_role(role)?,
        }
    } else if let Some(p) = s.strip_prefix("fence ") {
        Stage::Fence {
            old_primary: Some(p.to_string()),
        }
    } else {
        return Err(format!("{s:?} is not a stage of promote or rebuild"));
    };
    Ok(stage)
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
            Operation::Restore { region: r() },
            Operation::RestoreCleanup,
        ] {
            assert_eq!(parse_operation(&operation(&o)), Ok(o.clone()), "{o}");
        }
        let rebuild = Operation::Rebuild {
            region: r(),
            role: Role::ColdStandby,
        };
        assert_eq!(operation(&rebuild), "rebuild us-west-2 as cold-standby");
        assert!(parse_operation("resurrect").is_err());
        assert!(parse_operation("rebuild us-west-2 as king").is_err());
    }

    #[test]
    fn every_outcome_reads_back_from_its_words() {
        for o in [
            RunOutcome::SUCCEEDED,
            RunOutcome::Succeeded { not_made: 1 },
            RunOutcome::Succeeded { not_made: 3 },
            RunOutcome::Interrupted,
            RunOutcome::Failed,
            RunOutcome::Abandoned,
            RunOutcome::Met,
            RunOutcome::Missed,
        ] {
            assert_eq!(parse_outcome(&outcome(o)), Ok(o));
        }
        assert_eq!(
            outcome(RunOutcome::Succeeded { not_made: 3 }),
            "succeeded, 3 changes not made"
        );
        assert!(parse_outcome("maybe").is_err());
    }

    #[test]
    fn every_stage_reads_back_from_its_words() {
        let r = || "us-west-2".to_string();
        for s in [
            Stage::Fence { old_primary: None },
            Stage::Fence {
                old_primary: Some("us-east-1".into()),
            },
            Stage::PromoteData { region: r() },
            Stage::Scale { region: r() },
            Stage::Traffic { region: r() },
            Stage::Replication { region: r() },
            Stage::BringUp {
                region: r(),
                role: Role::ColdStandby,
            },
            Stage::Repoint { region: r() },
        ] {
            assert_eq!(parse_stage(&stage(&s)), Ok(s.clone()), "{s}");
        }
        assert_eq!(
            stage(&Stage::Scale { region: r() }),
            "scale us-west-2 to full size"
        );
        assert!(parse_stage("paint it").is_err());
    }
}
