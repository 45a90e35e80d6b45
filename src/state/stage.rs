//! The stages of a DR operation, as a closed set: promote fences, promotes the data, turns
//! replication around, moves traffic and scales; rebuild brings a region up, then points
//! traffic and replication at it.
//!
//! `Display` is how people read a stage; its words in the state file's journal are
//! `file::words`'.

use crate::config::Role;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
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
