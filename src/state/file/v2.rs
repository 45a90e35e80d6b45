//! The state file, version 2: the format this build writes, and the file types the saved
//! plan reuses for the resources and journal it carries.
//!
//! Version 2 keeps version 1's layout (so the release before it refuses it by its
//! `format_version` rather than as damaged) but is closed where version 1 was not: a step's
//! outcome is one of `done`, `not made`, `failed`, and every top-level field is present.

use super::words::{self, RoleWord, StepWord};
use crate::address::Address;
use crate::config::Role;
use crate::provider::Observed;
use crate::state::{HistoryEntry, Interruption, Journal, JournalStage, State, Step, StepOutcome};
use crate::topology::Kind;
use anyhow::{anyhow, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub const VERSION: u32 = 2;

/// `S` is how the version writes a step's outcome (`v1` reads free words).
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound(deserialize = "S: Deserialize<'de>"))]
pub struct StateFile<S = StepWord> {
    pub format_version: u32,
    pub serial: u64,
    pub lineage: String,
    pub service: String,
    pub environment: String,
    pub roles: BTreeMap<String, RoleWord>,
    pub resources: Vec<Resource>,
    pub outputs: BTreeMap<String, Value>,
    pub history: Vec<Entry<S>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<JournalFile<S>>,
}

/// A resource as last observed; its attribute maps are stored as they are.
#[derive(Debug, Serialize, Deserialize)]
pub struct Resource {
    pub address: String,
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub id: String,
    pub attrs: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub computed: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// A history entry; `S` is how the version writes a step's outcome.
#[derive(Debug, Serialize, Deserialize)]
pub struct Entry<S> {
    pub operation: String,
    pub user: String,
    pub host: String,
    pub started_at: String,
    pub duration_ms: u64,
    pub outcome: String,
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepFile<S>>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interruptions: Vec<InterruptionFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_replica: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct StepFile<S> {
    pub name: String,
    pub started_at: String,
    pub duration_ms: u64,
    pub outcome: S,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct InterruptionFile {
    pub at: String,
    pub reason: String,
    pub resumed_at: String,
}

/// The journal of a promote or rebuild under way.
#[derive(Debug, Serialize, Deserialize)]
pub struct JournalFile<S> {
    pub operation: String,
    pub resume: String,
    pub user: String,
    pub host: String,
    pub started_at: String,
    pub duration_ms: u64,
    pub stages: Vec<StageFile>,
    pub roles: BTreeMap<String, RoleWord>,
    #[serde(default = "Vec::new")]
    pub steps: Vec<StepFile<S>>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interruptions: Vec<InterruptionFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct StageFile {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub roles: BTreeMap<String, RoleWord>,
    pub done: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_made: Vec<String>,
}

pub fn from_state(s: &State) -> StateFile {
    StateFile {
        format_version: VERSION,
        serial: s.serial,
        lineage: s.lineage.clone(),
        service: s.service.clone(),
        environment: s.environment.clone(),
        roles: roles_file(&s.roles),
        resources: s.resources.iter().map(resource).collect(),
        outputs: s.outputs.clone(),
        history: s.history.iter().map(entry).collect(),
        journal: s.journal.as_ref().map(journal),
    }
}

impl<S: Into<StepOutcome>> StateFile<S> {
    pub fn into_state(self) -> Result<State> {
        let mut resources: Vec<Observed> = self.resources.into_iter().map(Observed::from).collect();
        // Stable and without dedup: `check::broken` names an address recorded twice.
        resources.sort_by(|a, b| a.address.cmp(&b.address));
        Ok(State {
            serial: self.serial,
            lineage: self.lineage,
            service: self.service,
            environment: self.environment,
            roles: roles(self.roles),
            resources,
            outputs: self.outputs,
            history: self
                .history
                .into_iter()
                .map(Entry::into_entry)
                .collect::<Result<_>>()?,
            journal: self.journal.map(JournalFile::into_journal).transpose()?,
        })
    }
}

pub fn roles_file(roles: &BTreeMap<String, Role>) -> BTreeMap<String, RoleWord> {
    roles
        .iter()
        .map(|(r, role)| (r.clone(), (*role).into()))
        .collect()
}

pub fn roles(roles: BTreeMap<String, RoleWord>) -> BTreeMap<String, Role> {
    roles
        .into_iter()
        .map(|(r, role)| (r, role.into()))
        .collect()
}

pub fn resource(o: &Observed) -> Resource {
    Resource {
        address: o.address.to_string(),
        kind: o.kind,
        region: o.region.clone(),
        id: o.id.clone(),
        attrs: o.attrs.clone(),
        computed: o.computed.clone(),
        depends_on: o.depends_on.iter().map(Address::to_string).collect(),
    }
}

impl From<Resource> for Observed {
    fn from(r: Resource) -> Observed {
        Observed {
            address: Address::new(r.address),
            kind: r.kind,
            region: r.region,
            id: r.id,
            attrs: r.attrs,
            computed: r.computed,
            depends_on: r.depends_on.into_iter().map(Address::new).collect(),
        }
    }
}

fn steps_file(steps: &[Step]) -> Vec<StepFile<StepWord>> {
    steps
        .iter()
        .map(|s| StepFile {
            name: s.name.clone(),
            started_at: s.started_at.clone(),
            duration_ms: s.duration_ms,
            outcome: s.outcome.into(),
        })
        .collect()
}

fn steps<S: Into<StepOutcome>>(steps: Vec<StepFile<S>>) -> Vec<Step> {
    steps
        .into_iter()
        .map(|s| Step {
            name: s.name,
            started_at: s.started_at,
            duration_ms: s.duration_ms,
            outcome: s.outcome.into(),
        })
        .collect()
}

fn interruptions_file(all: &[Interruption]) -> Vec<InterruptionFile> {
    all.iter()
        .map(|i| InterruptionFile {
            at: i.at.clone(),
            reason: i.reason.clone(),
            resumed_at: i.resumed_at.clone(),
        })
        .collect()
}

fn interruptions(all: Vec<InterruptionFile>) -> Vec<Interruption> {
    all.into_iter()
        .map(|i| Interruption {
            at: i.at,
            reason: i.reason,
            resumed_at: i.resumed_at,
        })
        .collect()
}

pub fn entry(e: &HistoryEntry) -> Entry<StepWord> {
    Entry {
        operation: words::operation(&e.operation),
        user: e.user.clone(),
        host: e.host.clone(),
        started_at: e.started_at.clone(),
        duration_ms: e.duration_ms,
        outcome: words::outcome(e.outcome),
        steps: steps_file(&e.steps),
        details: e.details.clone(),
        interruptions: interruptions_file(&e.interruptions),
        state_replica: e.state_replica.clone(),
    }
}

impl<S: Into<StepOutcome>> Entry<S> {
    pub fn into_entry(self) -> Result<HistoryEntry> {
        Ok(HistoryEntry {
            operation: words::parse_operation(&self.operation).map_err(|e| anyhow!(e))?,
            user: self.user,
            host: self.host,
            started_at: self.started_at,
            duration_ms: self.duration_ms,
            outcome: words::parse_outcome(&self.outcome).map_err(|e| anyhow!(e))?,
            steps: steps(self.steps),
            details: self.details,
            interruptions: interruptions(self.interruptions),
            state_replica: self.state_replica,
        })
    }
}

pub fn journal(j: &Journal) -> JournalFile<StepWord> {
    JournalFile {
        operation: words::operation(&j.operation),
        resume: j.resume.clone(),
        user: j.user.clone(),
        host: j.host.clone(),
        started_at: j.started_at.clone(),
        duration_ms: j.duration_ms,
        stages: j
            .stages
            .iter()
            .map(|s| StageFile {
                name: words::stage(&s.name),
                roles: roles_file(&s.roles),
                done: s.done,
                not_made: s.not_made.clone(),
            })
            .collect(),
        roles: roles_file(&j.roles),
        steps: steps_file(&j.steps),
        details: j.details.clone(),
        interruptions: interruptions_file(&j.interruptions),
        last_error: j.last_error.clone(),
    }
}

impl<S: Into<StepOutcome>> JournalFile<S> {
    pub fn into_journal(self) -> Result<Journal> {
        let stages = self
            .stages
            .into_iter()
            .map(|s| {
                Ok(JournalStage {
                    name: words::parse_stage(&s.name).map_err(|e| anyhow!(e))?,
                    roles: roles(s.roles),
                    done: s.done,
                    not_made: s.not_made,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Journal {
            operation: words::parse_operation(&self.operation).map_err(|e| anyhow!(e))?,
            resume: self.resume,
            user: self.user,
            host: self.host,
            started_at: self.started_at,
            duration_ms: self.duration_ms,
            stages,
            roles: roles(self.roles),
            steps: steps(self.steps),
            details: self.details,
            interruptions: interruptions(self.interruptions),
            last_error: self.last_error,
        })
    }
}
