//! The stages of a DR operation, as a closed set: promote fences, promotes the data, turns
//! replication around, moves traffic and scales; rebuild brings a region up, then points
//! traffic and replication at it.
//!
//! The words are the journal's form of a stage in the state file (`"name": "fence
//! us-east-1"`), so `Display` and `FromStr` here are that file format's conversion: a journal
//! left by an interrupted run of an earlier build still reads.

use crate::config::Role;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Stage {
    /// Stop the old primary taking writes and replicating: `fence us-east-1`.
    Fence { old_primary: Option<String> },
    /// Make the region's databases writable: `promote the database in us-west-2`.
    PromoteData { region: String },
    /// `scale us-west-2 to full size`.
    Scale { region: String },
    /// `move DNS to us-west-2`.
    Traffic { region: String },
    /// `replicate buckets from us-west-2`.
    Replication { region: String },
    /// Rebuild: `bring us-east-1 up as warm-standby`.
    BringUp { region: String, role: Role },
    /// Rebuild: `point DNS and bucket replication at us-east-1`.
    Repoint { region: String },
}

const NO_PRIMARY: &str = "fence the old primary (there is none)";

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Fence { old_primary: None } => f.write_str(NO_PRIMARY),
            Stage::Fence {
                old_primary: Some(p),
            } => write!(f, "fence {p}"),
            Stage::PromoteData { region } => write!(f, "promote the database in {region}"),
            Stage::Scale { region } => write!(f, "scale {region} to full size"),
            Stage::Traffic { region } => write!(f, "move DNS to {region}"),
            Stage::Replication { region } => write!(f, "replicate buckets from {region}"),
            Stage::BringUp { region, role } => write!(f, "bring {region} up as {role}"),
            Stage::Repoint { region } => write!(f, "point DNS and bucket replication at {region}"),
        }
    }
}

impl FromStr for Stage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
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
            let role = serde_json::from_value(role.into()).map_err(|e| e.to_string())?;
            Stage::BringUp {
                region: region(r),
                role,
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
}

impl From<Stage> for String {
    fn from(s: Stage) -> String {
        s.to_string()
    }
}

impl TryFrom<String> for Stage {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(s.to_string().parse::<Stage>(), Ok(s.clone()), "{s}");
        }
        assert_eq!(
            Stage::Scale { region: r() }.to_string(),
            "scale us-west-2 to full size"
        );
        assert!("paint it".parse::<Stage>().is_err());
    }
}
