//! `drift`: a refresh-only comparison of live AWS with the state (what was last applied) and
//! the spec. Per managed resource (every address in the state or the spec) it reports
//! changed attributes, resources gone from AWS, resources the spec asks for that AWS lacks,
//! and, beyond them, unmanaged resources that carry the environment's tags.
//!
//! Invariant: drift only reads: one batched refresh (as plan makes), nothing written, not
//! even the state. Only managed keys are compared (`plan::diff`'s semantics), so settings AWS
//! adds on its own never count, and a freshly applied environment reports nothing. Ignore
//! rules from the spec move drift from `drifted` to `ignored`, never out of sight; an expired
//! rule no longer applies and says so in a note.

use crate::address::Address;
use crate::config::{DriftIgnore, Role};
use crate::environment::{Environment, ReadOptions};
use crate::plan::Change;
use crate::provider::{Observed, Provider};
use crate::state::State;
use crate::topology::{Desired, Kind, UNKNOWN};
use anyhow::Result;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default)]
pub struct DriftOptions {
    /// Count regions whose state role differs from the spec's as drift (`--roles-as-drift`);
    /// by default they are a note.
    pub roles_as_drift: bool,
    /// The day ignore rules' `until` is compared with; `None`: today (UTC).
    pub today: Option<time::Date>,
}

/// What is wrong with one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DriftKind {
    /// Live attributes differ from what was last applied (or from what the resources a
    /// bound attribute points at give: a record's values are its instances' IPs).
    Changed,
    /// In the state, gone from AWS.
    Missing,
    /// Live, carrying the environment's tags, but neither in the state nor in the spec.
    Unmanaged,
    /// In the spec, but AWS does not have it as the spec says: never created, or a changed
    /// attribute in the spec not applied yet.
    NotApplied,
}

impl DriftKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::Changed => "changed",
            DriftKind::Missing => "missing",
            DriftKind::Unmanaged => "unmanaged",
            DriftKind::NotApplied => "not_applied",
        }
    }
}

/// One drifted address.
#[derive(Debug, Clone, PartialEq)]
pub struct Drifted {
    pub address: Address,
    pub drift: DriftKind,
    pub kind: Kind,
    pub region: Option<String>,
    /// The AWS id, live or from the state; `None` for what was never created.
    pub id: Option<String>,
    /// Attribute by attribute. `changed`: `before` is what was last applied (or what the
    /// pointed-at resources give), `after` is live. `not_applied`: `before` is live (`null`
    /// when absent), `after` is the spec's. Empty for `missing` and `unmanaged`.
    pub changes: Vec<Change>,
    /// One sentence saying what happened and what to do.
    pub detail: String,
}

/// Drift an ignore rule accounted for.
#[derive(Debug, Clone, PartialEq)]
pub struct Ignored {
    pub address: Address,
    pub drift: DriftKind,
    /// The attributes ignored; empty when the whole resource was.
    pub keys: Vec<String>,
    /// The rule's address prefix.
    pub rule: String,
    pub reason: String,
    pub until: Option<String>,
}

/// A region whose role in the state (after a promote or rebuild) is not the spec's.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleDifference {
    pub region: String,
    pub state: Role,
    pub spec: Role,
}

/// One managed resource that was checked (for one JUnit test case each).
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub address: Address,
    pub kind: Kind,
    pub region: Option<String>,
}

/// Not `Serialize`: `drift --format json` is `report::drift`'s document.
#[derive(Debug, Clone)]
pub struct DriftReport {
    pub environment: String,
    /// Every managed address (state and spec), sorted.
    pub checked: Vec<Checked>,
    /// Sorted by address; unmanaged resources included.
    pub drifted: Vec<Drifted>,
    pub ignored: Vec<Ignored>,
    pub role_differences: Vec<RoleDifference>,
    pub roles_as_drift: bool,
    /// Information that is not drift (role differences, expired rules, adopted resources).
    pub notes: Vec<String>,
}

/// Counts per drift kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriftSummary {
    pub checked: usize,
    pub changed: usize,
    pub missing: usize,
    pub unmanaged: usize,
    pub not_applied: usize,
    /// Regions whose role differs, counted only with `--roles-as-drift`.
    pub roles: usize,
    pub ignored: usize,
}

impl DriftReport {
    /// Whether anything drifted (exit 2).
    pub fn has_drift(&self) -> bool {
        !self.drifted.is_empty() || (self.roles_as_drift && !self.role_differences.is_empty())
    }

    pub fn summary(&self) -> DriftSummary {
        let count = |k: DriftKind| self.drifted.iter().filter(|d| d.drift == k).count();
        DriftSummary {
            checked: self.checked.len(),
            changed: count(DriftKind::Changed),
            missing: count(DriftKind::Missing),
            unmanaged: count(DriftKind::Unmanaged),
            not_applied: count(DriftKind::NotApplied),
            roles: if self.roles_as_drift {
                self.role_differences.len()
            } else {
                0
            },
            ignored: self.ignored.len(),
        }
    }

    /// The drift of `address`, if any.
    pub fn get(&self, address: &str) -> Option<&Drifted> {
        self.drifted.iter().find(|d| d.address.as_str() == address)
    }
}

/// Refreshes once and compares live AWS with the state and the spec.
pub async fn drift(
    env: &Environment,
    provider: &dyn Provider,
    state: Option<&State>,
    opts: &DriftOptions,
) -> Result<DriftReport> {
    let roles = env.roles(state);
    let desired = env.desired_in(&roles, state)?;
    let reads = ReadOptions {
        unmanaged: true,
        ..ReadOptions::default()
    };
    // A region failed in the state that cannot be read keeps its state view: not checked.
    let read = env
        .refresh(provider, state, &desired, &roles, reads)
        .await?;
    let mut report = compare(env, state, &roles, &desired, &read.live, opts);
    report.notes.extend(read.unreached.iter().map(|u| {
        format!(
            "region {} is failed in the state and could not be read: its resources are not checked ({})",
            u.region, u.error
        )
    }));
    // Failed in the state and read: what there could still act as a second primary.
    let failed: BTreeSet<String> = state
        .iter()
        .flat_map(|s| &s.roles)
        .filter(|(r, role)| {
            **role == Role::Failed && !read.unreached.iter().any(|u| u.region == **r)
        })
        .map(|(r, _)| r.clone())
        .collect();
    report.notes.extend(
        crate::plan::split_brain(&failed, &read.live)
            .iter()
            .map(|s| format!("{s}: `standby apply` fences it")),
    );
    Ok(report)
}

/// The comparison part of `drift`, without any AWS call.
pub fn compare(
    env: &Environment,
    state: Option<&State>,
    roles: &BTreeMap<String, Role>,
    desired: &[Desired],
    live: &[Observed],
    opts: &DriftOptions,
) -> DriftReport {
    let live_by: BTreeMap<&Address, &Observed> = live.iter().map(|o| (&o.address, o)).collect();
    let state_by: BTreeMap<&Address, &Observed> = state
        .map(|s| s.resources().iter().map(|o| (&o.address, o)).collect())
        .unwrap_or_default();
    // Bound attributes (record values, health-check addresses) are what the live resources
    // they point at give now, whether or not those changed: a record must follow its
    // instances.
    let mut bound: Vec<Desired> = desired
        .iter()
        .map(|d| d.bind(|a| live_by.get(a).map(|o| o.computed.clone())))
        .collect();
    crate::environment::leave_shared(&mut bound, live);
    let desired_by: BTreeMap<&Address, &Desired> = bound.iter().map(|d| (&d.address, d)).collect();

    let managed: BTreeSet<&Address> = state_by.keys().chain(desired_by.keys()).copied().collect();
    let mut checked = Vec::new();
    let mut drifted = Vec::new();
    let mut notes = Vec::new();
    for address in &managed {
        let (d, st, lv) = (
            desired_by.get(address).copied(),
            state_by.get(address).copied(),
            live_by.get(address).copied(),
        );
        let Some((kind, region)) = d
            .map(|d| (d.kind, d.region.clone()))
            .or_else(|| st.map(|s| (s.kind, s.region.clone())))
        else {
            continue;
        };
        checked.push(Checked {
            address: (*address).clone(),
            kind,
            region: region.clone(),
        });
        let entry = |drift, id: Option<&str>, changes, detail: String| Drifted {
            address: (*address).clone(),
            drift,
            kind,
            region: region.clone(),
            id: id.map(str::to_string),
            changes,
            detail,
        };
        match (st, lv) {
            (Some(st), None) => drifted.push(entry(
                DriftKind::Missing,
                Some(&st.id),
                Vec::new(),
                format!(
                    "{} {} is in the state but gone from AWS: `standby apply` creates it again{}",
                    kind_name(kind),
                    st.id,
                    if d.is_none() {
                        " unless the spec dropped it, in which case apply forgets it"
                    } else {
                        ""
                    }
                ),
            )),
            (None, None) => drifted.push(entry(
                DriftKind::NotApplied,
                None,
                d.map(|d| {
                    d.attrs
                        .iter()
                        .filter(|(_, v)| v.as_str() != Some(UNKNOWN))
                        .map(|(k, v)| Change {
                            key: k.clone(),
                            before: Value::Null,
                            after: v.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
                "in the spec but never created: `standby apply` creates it".to_string(),
            )),
            (Some(st), Some(lv)) => {
                let changed = live_changes(d, Some(st), lv);
                if !changed.is_empty() {
                    let detail = changed_detail(kind, &changed);
                    drifted.push(entry(DriftKind::Changed, Some(&lv.id), changed, detail));
                } else if let Some(d) = d {
                    let pending = spec_changes(d, lv);
                    if !pending.is_empty() {
                        let detail = pending_detail(&pending);
                        drifted.push(entry(DriftKind::NotApplied, Some(&lv.id), pending, detail));
                    }
                }
            }
            (None, Some(lv)) => {
                // Tagged with its address but lost by the state: the next apply adopts it.
                let changed = d.map(|d| spec_changes(d, lv)).unwrap_or_default();
                notes.push(format!(
                    "{address} exists in AWS ({}) but not in the state: the next apply adopts it",
                    lv.id
                ));
                if !changed.is_empty() {
                    let detail = pending_detail(&changed);
                    drifted.push(entry(DriftKind::NotApplied, Some(&lv.id), changed, detail));
                }
            }
        }
    }
    for o in live.iter().filter(|o| !managed.contains(&o.address)) {
        let tagged = !o.address.is_unmanaged();
        drifted.push(Drifted {
            address: o.address.clone(),
            drift: DriftKind::Unmanaged,
            kind: o.kind,
            region: o.region.clone(),
            id: Some(o.id.clone()),
            changes: Vec::new(),
            detail: if tagged {
                format!(
                    "{} {} carries the environment's tags and the address tag {}, but neither the state nor the spec has that address: delete it, or `standby state` it in",
                    kind_name(o.kind),
                    o.id,
                    o.address
                )
            } else {
                format!(
                    "{} {} carries the environment's tags but is not managed by standby: delete it, or remove its standby:service and standby:environment tags",
                    kind_name(o.kind),
                    o.id
                )
            },
        });
    }
    drifted.sort_by(|a, b| a.address.cmp(&b.address));

    let role_differences: Vec<RoleDifference> = env
        .spec
        .regions
        .iter()
        .filter_map(|r| {
            let actual = *roles.get(&r.name)?;
            (actual != r.role).then(|| RoleDifference {
                region: r.name.clone(),
                state: actual,
                spec: r.role,
            })
        })
        .collect();
    let role_notes = role_differences.iter().map(|r| {
            if opts.roles_as_drift {
                format!(
                    "region {} is {} in the state but {} in the spec (counted as drift: --roles-as-drift)",
                    r.region, r.state, r.spec
                )
            } else {
                format!(
                    "region {} is {} in the state but {} in the spec, as promote or rebuild left it; not drift (--roles-as-drift counts it)",
                    r.region, r.state, r.spec
                )
            }
    });
    notes.splice(0..0, role_notes);

    let today = opts
        .today
        .unwrap_or_else(|| time::OffsetDateTime::now_utc().date());
    let (active, expired): (Vec<&DriftIgnore>, Vec<&DriftIgnore>) = env
        .spec
        .drift_ignores
        .iter()
        .partition(|r| r.until.is_none_or(|u| today <= u));
    for r in &expired {
        notes.push(format!(
            "ignore rule for {} expired on {}: its drift is reported again",
            r.address,
            date(r.until)
        ));
    }
    let everything: Vec<&Address> = managed
        .iter()
        .copied()
        .chain(live.iter().map(|o| &o.address))
        .collect();
    for r in &active {
        let prefix = Address::new(r.address.as_str());
        if !everything.iter().any(|a| prefix.contains(a)) {
            notes.push(format!(
                "ignore rule for {} matches no resource: check the address with `standby state list`",
                r.address
            ));
        }
    }
    let (drifted, ignored) = apply_ignores(drifted, &active);

    DriftReport {
        environment: env.spec.environment.clone(),
        checked,
        drifted,
        ignored,
        role_differences,
        roles_as_drift: opts.roles_as_drift,
        notes,
    }
}

/// Managed keys whose live value differs from what was last applied; a bound key compares
/// with what its live sources give when they are all known.
fn live_changes(d: Option<&Desired>, st: Option<&Observed>, lv: &Observed) -> Vec<Change> {
    let keys: Vec<&String> = match (d, st) {
        (Some(d), _) => d.attrs.keys().collect(),
        (None, Some(st)) => st.attrs.keys().collect(),
        (None, None) => Vec::new(),
    };
    keys.into_iter()
        .filter_map(|k| {
            let bound = d
                .filter(|d| d.bindings.contains_key(k))
                .and_then(|d| d.attrs.get(k))
                .filter(|v| v.as_str() != Some(UNKNOWN));
            let is_bound = d.is_some_and(|d| d.bindings.contains_key(k));
            let expected = if is_bound { bound? } else { st?.attrs.get(k)? };
            let now = lv.attrs.get(k).unwrap_or(&Value::Null);
            let kind = d.map_or(lv.kind, |d| d.kind);
            (!kind.fulfils(k, expected, Some(now))).then(|| Change {
                key: k.clone(),
                before: expected.clone(),
                after: now.clone(),
            })
        })
        .collect()
}

/// Spec values (not bound ones: `live_changes` covers those) that live AWS does not hold.
fn spec_changes(d: &Desired, lv: &Observed) -> Vec<Change> {
    let wanted = d
        .attrs
        .iter()
        .filter(|(k, _)| !d.bindings.contains_key(*k))
        .filter(|(_, v)| v.as_str() != Some(UNKNOWN));
    crate::plan::unfulfilled(d.kind, wanted, lv)
}

/// Splits drift into what still counts and what active rules account for: a rule without
/// `attributes` covers whole resources; one with them removes those changes, and covers the
/// resource when no change is left.
fn apply_ignores(drifted: Vec<Drifted>, rules: &[&DriftIgnore]) -> (Vec<Drifted>, Vec<Ignored>) {
    let mut kept = Vec::new();
    let mut ignored = Vec::new();
    for mut d in drifted {
        let matching: Vec<&&DriftIgnore> = rules
            .iter()
            .filter(|r| Address::new(r.address.as_str()).contains(&d.address))
            .collect();
        if let Some(r) = matching.iter().find(|r| r.attributes.is_empty()) {
            ignored.push(ignored_entry(&d, r, Vec::new()));
            continue;
        }
        let mut covered = false;
        for r in &matching {
            if d.changes.is_empty() {
                break;
            }
            let keys: Vec<String> = d
                .changes
                .iter()
                .filter(|c| r.attributes.contains(&c.key))
                .map(|c| c.key.clone())
                .collect();
            if keys.is_empty() {
                continue;
            }
            d.changes.retain(|c| !keys.contains(&c.key));
            ignored.push(ignored_entry(&d, r, keys));
            covered = d.changes.is_empty();
            // What is left is described anew (a resource never created keeps its sentence).
            if !covered && d.id.is_some() {
                match d.drift {
                    DriftKind::Changed => d.detail = changed_detail(d.kind, &d.changes),
                    DriftKind::NotApplied => d.detail = pending_detail(&d.changes),
                    _ => {}
                }
            }
        }
        if !covered {
            kept.push(d);
        }
    }
    (kept, ignored)
}

fn ignored_entry(d: &Drifted, r: &DriftIgnore, keys: Vec<String>) -> Ignored {
    Ignored {
        address: d.address.clone(),
        drift: d.drift,
        keys,
        rule: r.address.clone(),
        reason: r.reason.clone(),
        until: r.until.map(|u| date(Some(u))),
    }
}

fn date(d: Option<time::Date>) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    d.and_then(|d| d.format(&format).ok()).unwrap_or_default()
}

fn changed_detail(kind: Kind, changes: &[Change]) -> String {
    let replaced = changes
        .iter()
        .any(|c| kind.replace_keys().contains(&c.key.as_str()));
    let how = if replaced {
        "`standby apply` replaces it to set it back"
    } else {
        "`standby apply` sets it back"
    };
    format!(
        "{} changed outside standby: {how}, or change the spec to match",
        keys_of(changes)
    )
}

fn pending_detail(changes: &[Change]) -> String {
    format!(
        "the spec's {} not applied yet: `standby apply` applies it",
        match changes {
            [one] => format!("`{}` is", one.key),
            _ => format!("{} are", keys_of(changes)),
        }
    )
}

/// `instance_type` or `instance_type, image`, backquoted.
fn keys_of(changes: &[Change]) -> String {
    changes
        .iter()
        .map(|c| format!("`{}`", c.key))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `instance`, `bucket_replication` ...: the kind as JSON and messages name it.
pub fn kind_name(kind: Kind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
