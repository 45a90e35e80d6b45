//! `status --json`: the document and its conversion from a `Status`.

use crate::check::Verdict;
use crate::dr::{
    BucketRole, DatabaseRole, DatabaseStatus, Interrupted, RegionStatus, Replication, Status,
};
use crate::state::file::RoleWord;
use crate::state::{HistoryEntry, Operation};
use serde::Serialize;

/// Version of the `status --json` document (README.md, "status --json").
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize)]
struct StatusFile<'a> {
    format_version: u32,
    environment: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    interrupted: Option<InterruptedFile<'a>>,
    regions: Vec<RegionFile<'a>>,
    split_brain: &'a [String],
    #[serde(serialize_with = "entry")]
    last_promote: &'a Option<HistoryEntry>,
    #[serde(serialize_with = "entry")]
    last_drill: &'a Option<HistoryEntry>,
}

#[derive(Debug, Serialize)]
struct InterruptedFile<'a> {
    #[serde(serialize_with = "crate::state::file::serialize_operation")]
    operation: &'a Operation,
    at: &'a str,
    resume: &'a str,
    started_at: &'a str,
    note: &'a str,
}

#[derive(Debug, Serialize)]
struct RegionFile<'a> {
    region: &'a str,
    role: Option<RoleWord>,
    spec_role: RoleWord,
    reachable: bool,
    instances_running: usize,
    instances_desired: usize,
    database: DatabaseFile<'a>,
    replication: ReplicationFile<'a>,
    dns: &'a [String],
    readiness: Option<ReadinessWord>,
}

#[derive(Debug, Serialize)]
struct DatabaseFile<'a> {
    role: DatabaseWord,
    source_region: Option<&'a str>,
    lag_seconds: Option<f64>,
}

/// A region's database, in the document's words.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
enum DatabaseWord {
    Primary,
    Stopped,
    Replica,
    None,
    Unknown,
}

#[derive(Debug, Serialize)]
struct ReplicationFile<'a> {
    role: BucketWord,
    destinations: &'a [String],
}

/// A region's bucket in the replication, in the document's words.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
enum BucketWord {
    Source,
    Replica,
    None,
    Unknown,
}

/// A standby's `check` verdict, in the document's words.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
enum ReadinessWord {
    Ready,
    Unknown,
    NotReady,
}

/// The JSON document, pretty-printed.
pub fn json(s: &Status) -> String {
    serde_json::to_string_pretty(&StatusFile::from(s)).unwrap_or_default()
}

/// A history entry in the state file's words.
fn entry<S: serde::Serializer>(e: &&Option<HistoryEntry>, s: S) -> Result<S::Ok, S::Error> {
    crate::state::file::serialize_entry(e, s)
}

impl<'a> From<&'a Status> for StatusFile<'a> {
    fn from(s: &'a Status) -> Self {
        StatusFile {
            format_version: VERSION,
            environment: &s.environment,
            interrupted: s.interrupted.as_ref().map(Into::into),
            regions: s.regions.iter().map(Into::into).collect(),
            split_brain: &s.split_brain,
            last_promote: &s.last_promote,
            last_drill: &s.last_drill,
        }
    }
}

impl<'a> From<&'a Interrupted> for InterruptedFile<'a> {
    fn from(i: &'a Interrupted) -> Self {
        InterruptedFile {
            operation: &i.operation,
            at: &i.at,
            resume: &i.resume,
            started_at: &i.started_at,
            note: &i.note,
        }
    }
}

impl<'a> From<&'a RegionStatus> for RegionFile<'a> {
    fn from(r: &'a RegionStatus) -> Self {
        RegionFile {
            region: &r.region,
            role: r.state_role.map(Into::into),
            spec_role: r.spec_role.into(),
            reachable: r.reachable,
            instances_running: r.instances_running,
            instances_desired: r.instances_desired,
            database: (&r.database).into(),
            replication: (&r.replication).into(),
            dns: &r.dns,
            readiness: r.readiness.map(Into::into),
        }
    }
}

impl<'a> From<&'a DatabaseStatus> for DatabaseFile<'a> {
    fn from(d: &'a DatabaseStatus) -> Self {
        DatabaseFile {
            role: match d.role {
                DatabaseRole::Primary => DatabaseWord::Primary,
                DatabaseRole::Stopped => DatabaseWord::Stopped,
                DatabaseRole::Replica => DatabaseWord::Replica,
                DatabaseRole::None => DatabaseWord::None,
                DatabaseRole::Unknown => DatabaseWord::Unknown,
            },
            source_region: d.source_region.as_deref(),
            lag_seconds: d.lag_seconds,
        }
    }
}

impl<'a> From<&'a Replication> for ReplicationFile<'a> {
    fn from(r: &'a Replication) -> Self {
        ReplicationFile {
            role: match r.role {
                BucketRole::Source => BucketWord::Source,
                BucketRole::Replica => BucketWord::Replica,
                BucketRole::None => BucketWord::None,
                BucketRole::Unknown => BucketWord::Unknown,
            },
            destinations: &r.destinations,
        }
    }
}

impl From<Verdict> for ReadinessWord {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Ready => ReadinessWord::Ready,
            Verdict::Unknown => ReadinessWord::Unknown,
            Verdict::NotReady => ReadinessWord::NotReady,
        }
    }
}
