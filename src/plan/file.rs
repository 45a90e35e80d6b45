//! Saved plans (`plan --out FILE`, `apply FILE`): the plan as versioned JSON, in file types
//! of its own; the resources and journal it carries use the state file's (`state::file::v2`).
//!
//! Invariant: a plan file holds no secret (plans never do), is written whole with mode 0600,
//! and loads only when its format version is the one this build writes (a plan is made and
//! applied by the same release; an older one is made again). The domain `Plan` is not
//! `Serialize`: the conversion here is explicit.

use super::{Action, Change, ChangeReason, Plan, SplitBrain};
use crate::address::Address;
use crate::state::file::v2::{self, JournalFile, Resource};
use crate::state::file::{RoleWord, StepWord};
use crate::state::Backend;
use crate::topology::{Binding, Desired, Kind};
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The plan file version this build writes and reads.
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct PlanFile {
    format_version: u32,
    environment: String,
    env_dir: PathBuf,
    /// Absent in older plans: the local file beside `env_dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    backend: Option<Backend>,
    state_lineage: Option<String>,
    state_serial: u64,
    roles: BTreeMap<String, RoleWord>,
    prior: Vec<Resource>,
    actions: Vec<ActionFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    targets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    blocked: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    stages: BTreeMap<String, u32>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    best_effort: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    journal: Option<JournalFile<StepWord>>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    details: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    split_brain: Vec<SplitBrainFile>,
    #[serde(default)]
    outputs: BTreeMap<String, Value>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
enum ActionFile {
    Create {
        desired: DesiredFile,
    },
    Update {
        desired: DesiredFile,
        current: Resource,
        changes: Vec<ChangeFile>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Replace {
        desired: DesiredFile,
        current: Resource,
        changes: Vec<ChangeFile>,
        reason: String,
    },
    Delete {
        current: Resource,
        reason: String,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct DesiredFile {
    address: String,
    kind: Kind,
    region: Option<String>,
    name: String,
    attrs: Map<String, Value>,
    tags: BTreeMap<String, String>,
    refs: BTreeMap<String, String>,
    depends_on: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    bindings: BTreeMap<String, BindingFile>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    prevent_destroy: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct BindingFile {
    from: Vec<String>,
    field: String,
    list: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct SplitBrainFile {
    region: String,
    writable_database: bool,
    replicating_bucket: bool,
    dns: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ChangeFile {
    key: String,
    before: Value,
    after: Value,
}

/// Saves `plan` atomically, readable by its owner only.
pub fn save_plan(plan: &Plan, path: &Path) -> Result<()> {
    let json = serde_json::to_vec_pretty(&plan_file(plan))?;
    crate::private_file::write_private(path, &json, "the plan")
}

pub fn load_plan(path: &Path) -> Result<Plan> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read the plan {}", path.display()))?;
    read(&bytes).with_context(|| format!("{} is not a standby plan file", path.display()))
}

#[derive(Deserialize)]
struct Version {
    format_version: Option<u64>,
}

fn read(bytes: &[u8]) -> Result<Plan> {
    let version: Version = serde_json::from_slice(bytes)?;
    match version.format_version {
        Some(n) if n == u64::from(VERSION) => {}
        Some(n) => bail!(
            "it has format version {n}; this standby reads version {VERSION}: make the plan again"
        ),
        None => bail!("it has no format_version"),
    }
    serde_json::from_slice::<PlanFile>(bytes)?.into_plan()
}

fn addresses<'a>(all: impl IntoIterator<Item = &'a Address>) -> Vec<String> {
    all.into_iter().map(Address::to_string).collect()
}

fn plan_file(p: &Plan) -> PlanFile {
    PlanFile {
        format_version: VERSION,
        environment: p.environment.clone(),
        env_dir: p.env_dir.clone(),
        backend: p.backend.clone(),
        state_lineage: p.state_lineage.clone(),
        state_serial: p.state_serial,
        roles: v2::roles_file(&p.roles),
        prior: p.prior.iter().map(v2::resource).collect(),
        actions: p.actions.iter().map(action_file).collect(),
        targets: addresses(&p.targets),
        notes: p.notes.clone(),
        blocked: p.blocked.clone(),
        stages: p.stages.iter().map(|(a, s)| (a.to_string(), *s)).collect(),
        best_effort: addresses(&p.best_effort).into_iter().collect(),
        journal: p.journal.as_ref().map(v2::journal),
        details: p.details.clone(),
        split_brain: p.split_brain.iter().map(split_brain_file).collect(),
        outputs: p.outputs.clone(),
    }
}

impl PlanFile {
    fn into_plan(self) -> Result<Plan> {
        Ok(Plan {
            environment: self.environment,
            env_dir: self.env_dir,
            backend: self.backend,
            state_lineage: self.state_lineage,
            state_serial: self.state_serial,
            roles: v2::roles(self.roles),
            prior: self.prior.into_iter().map(Into::into).collect(),
            actions: self
                .actions
                .into_iter()
                .map(ActionFile::into_action)
                .collect::<Result<_>>()?,
            targets: self.targets.into_iter().map(Address::new).collect(),
            notes: self.notes,
            blocked: self.blocked,
            stages: self
                .stages
                .into_iter()
                .map(|(a, s)| (Address::new(a), s))
                .collect(),
            best_effort: self.best_effort.into_iter().map(Address::new).collect(),
            journal: self.journal.map(JournalFile::into_journal).transpose()?,
            details: self.details,
            split_brain: self
                .split_brain
                .into_iter()
                .map(SplitBrainFile::into_split_brain)
                .collect(),
            outputs: self.outputs,
        })
    }
}

fn action_file(a: &Action) -> ActionFile {
    let changes = |cs: &[Change]| cs.iter().map(change_file).collect();
    match a {
        Action::Create { desired } => ActionFile::Create {
            desired: desired_file(desired),
        },
        Action::Update {
            desired,
            current,
            changes: cs,
            reason,
        } => ActionFile::Update {
            desired: desired_file(desired),
            current: v2::resource(current),
            changes: changes(cs),
            reason: reason.as_ref().map(ChangeReason::to_string),
        },
        Action::Replace {
            desired,
            current,
            changes: cs,
            reason,
        } => ActionFile::Replace {
            desired: desired_file(desired),
            current: v2::resource(current),
            changes: changes(cs),
            reason: reason.to_string(),
        },
        Action::Delete { current, reason } => ActionFile::Delete {
            current: v2::resource(current),
            reason: reason.to_string(),
        },
    }
}

fn reason(words: &str) -> Result<ChangeReason> {
    words.parse().map_err(|e: String| anyhow!(e))
}

impl ActionFile {
    fn into_action(self) -> Result<Action> {
        let changes = |cs: Vec<ChangeFile>| cs.into_iter().map(ChangeFile::into_change).collect();
        Ok(match self {
            ActionFile::Create { desired } => Action::Create {
                desired: desired.into_desired(),
            },
            ActionFile::Update {
                desired,
                current,
                changes: cs,
                reason: r,
            } => Action::Update {
                desired: desired.into_desired(),
                current: current.into(),
                changes: changes(cs),
                reason: r.as_deref().map(reason).transpose()?,
            },
            ActionFile::Replace {
                desired,
                current,
                changes: cs,
                reason: r,
            } => Action::Replace {
                desired: desired.into_desired(),
                current: current.into(),
                changes: changes(cs),
                reason: reason(&r)?,
            },
            ActionFile::Delete { current, reason: r } => Action::Delete {
                current: current.into(),
                reason: reason(&r)?,
            },
        })
    }
}

fn split_brain_file(s: &SplitBrain) -> SplitBrainFile {
    SplitBrainFile {
        region: s.region.clone(),
        writable_database: s.writable_database,
        replicating_bucket: s.replicating_bucket,
        dns: s.dns.clone(),
    }
}

impl SplitBrainFile {
    fn into_split_brain(self) -> SplitBrain {
        SplitBrain {
            region: self.region,
            writable_database: self.writable_database,
            replicating_bucket: self.replicating_bucket,
            dns: self.dns,
        }
    }
}

fn change_file(c: &Change) -> ChangeFile {
    ChangeFile {
        key: c.key.clone(),
        before: c.before.clone(),
        after: c.after.clone(),
    }
}

impl ChangeFile {
    fn into_change(self) -> Change {
        Change {
            key: self.key,
            before: self.before,
            after: self.after,
        }
    }
}

fn desired_file(d: &Desired) -> DesiredFile {
    DesiredFile {
        address: d.address.to_string(),
        kind: d.kind,
        region: d.region.clone(),
        name: d.name.clone(),
        attrs: d.attrs.clone(),
        tags: d.tags.clone(),
        refs: d
            .refs
            .iter()
            .map(|(k, a)| (k.clone(), a.to_string()))
            .collect(),
        depends_on: addresses(&d.depends_on),
        bindings: d
            .bindings
            .iter()
            .map(|(k, b)| {
                let file = BindingFile {
                    from: addresses(&b.from),
                    field: b.field.clone(),
                    list: b.list,
                };
                (k.clone(), file)
            })
            .collect(),
        prevent_destroy: d.prevent_destroy,
    }
}

impl DesiredFile {
    fn into_desired(self) -> Desired {
        Desired {
            address: Address::new(self.address),
            kind: self.kind,
            region: self.region,
            name: self.name,
            attrs: self.attrs,
            tags: self.tags,
            refs: self
                .refs
                .into_iter()
                .map(|(k, a)| (k, Address::new(a)))
                .collect(),
            depends_on: self.depends_on.into_iter().map(Address::new).collect(),
            bindings: self
                .bindings
                .into_iter()
                .map(|(k, b)| {
                    let binding = Binding {
                        from: b.from.into_iter().map(Address::new).collect(),
                        field: b.field,
                        list: b.list,
                    };
                    (k, binding)
                })
                .collect(),
            prevent_destroy: self.prevent_destroy,
        }
    }
}
