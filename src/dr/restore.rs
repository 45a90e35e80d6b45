//! `standby restore`: recovery from corruption. The primary region's databases are restored
//! to an earlier point into new instances and swapped in under their managed identifiers
//! (stage 0), the standbys' replicas and replicated backups are re-created from them
//! (stage 1), and the replaced instances are stopped with a snapshot (stage 2) and kept until
//! `restore --cleanup` deletes them.
//!
//! Invariant: the plan changes nothing else: an environment with pending changes is refused
//! (apply it first), so the restore's plan holds exactly the swap and what follows from it.

use super::restore_buckets::{restore_buckets, BucketRestore};
use crate::address::Address;
use crate::config::Role;
use crate::environment::{protected_deletions, Environment, PlanOptions};
use crate::plan::{Action, Change, ChangeReason, Plan};
use crate::provider::{Observed, Provider};
use crate::state::State;
use crate::topology::{derived_identifier, reads, Desired, Kind};
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The point a restore goes back to.
#[derive(Debug, Clone, PartialEq)]
pub enum RestorePoint {
    /// `--to-time T`.
    Time(OffsetDateTime),
    /// `--latest`: the latest restorable time.
    Latest,
    /// `--snapshot ID`: a DB snapshot of the region.
    Snapshot(String),
}

impl RestorePoint {
    /// The desired `restore` attribute the provider acts on.
    fn attr(&self, kept_as: &str) -> Value {
        match self {
            RestorePoint::Time(t) => json!({ "to_time": rfc3339(*t), "kept_as": kept_as }),
            RestorePoint::Latest => json!({ "latest": true, "kept_as": kept_as }),
            RestorePoint::Snapshot(id) => json!({ "snapshot": id, "kept_as": kept_as }),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RestoreRequest {
    /// The region whose databases are restored; `None`: the primary's.
    pub region: Option<String>,
    pub point: RestorePoint,
    /// `--buckets`: also each object of the region's buckets, as of the `--to-time`.
    pub buckets: bool,
}

/// One database swapped by a restore.
#[derive(Debug, Clone, PartialEq)]
pub struct Swap {
    pub address: Address,
    pub identifier: String,
    /// The identifier the replaced instance is kept under.
    pub kept_as: String,
    /// The snapshot it leaves when it stops.
    pub snapshot: String,
    /// Replicas and replicated backups re-created from the new instance.
    pub followers: Vec<Address>,
}

/// The restore's plan and what it swaps, for the CLI to show.
#[derive(Debug, Clone)]
pub struct RestorePlan {
    pub plan: Plan,
    pub region: String,
    pub point: RestorePoint,
    pub swaps: Vec<Swap>,
    /// `--buckets`: what changes in each bucket, object by object.
    pub buckets: Vec<BucketRestore>,
}

/// Builds the restore plan of the region's databases.
pub async fn plan_restore(
    env: &Environment,
    provider: &dyn Provider,
    state: &State,
    req: &RestoreRequest,
) -> Result<RestorePlan> {
    if let Some(j) = &state.journal {
        bail!(
            "{} was interrupted at {}: run `{}` to finish it before restoring",
            j.operation,
            j.position(),
            j.resume
        );
    }
    let roles = super::true_roles(env, state);
    let r = restored_region(&roles, req.region.as_deref())?;
    if let RestorePoint::Time(t) = req.point {
        if t > OffsetDateTime::now_utc() {
            bail!(
                "--to-time {} is in the future: give a time before now, or --latest",
                rfc3339(t)
            );
        }
    }
    let desired = env.desired_in(&roles, Some(state))?;
    let databases: Vec<Address> = desired
        .iter()
        .filter(|d| d.kind == Kind::Database && d.region.as_deref() == Some(r.as_str()))
        .map(|d| d.address.clone())
        .collect();
    if databases.is_empty() {
        bail!("region {r} has no database to restore");
    }
    if matches!(req.point, RestorePoint::Snapshot(_)) && databases.len() > 1 {
        bail!(
            "--snapshot restores one database, and region {r} has {}: restore them with --to-time or --latest",
            databases.len()
        );
    }
    let opts = PlanOptions {
        refresh: true,
        roles: Some(roles),
        replace: databases.clone(),
        ..Default::default()
    };
    let mut plan = env.plan(provider, Some(state), &opts).await?;
    let mut swaps = Vec::new();
    for a in &databases {
        let current = plan.prior.iter().find(|o| o.address == *a);
        let Some(current) = current else {
            bail!("{a} is not in AWS yet: run `standby apply` first");
        };
        if plan.prior.iter().any(|o| o.address == a.child("replaced")) {
            bail!("{a} still has the instance an earlier restore replaced: run `standby restore --cleanup` first");
        }
        check_point(&req.point, current)?;
        let kept_as = derived_identifier(&current.id, "replaced");
        swaps.push(Swap {
            address: a.clone(),
            identifier: current.id.clone(),
            snapshot: derived_identifier(&kept_as, "final"),
            kept_as,
            followers: Vec::new(),
        });
    }
    plan.actions = restore_actions(std::mem::take(&mut plan.actions), &req.point, &mut swaps)?;
    plan.actions.extend(swaps.iter().map(stop_kept));
    let buckets = match (&req.point, req.buckets) {
        (RestorePoint::Time(t), true) => {
            restore_buckets(&mut plan, provider, &desired, &r, *t).await?
        }
        (_, true) => bail!("--buckets restores objects as of --to-time: give a time"),
        _ => Vec::new(),
    };
    // A swap keeps the data it replaces: no deletion of a protected database is left.
    let refused = std::mem::take(&mut plan.blocked);
    plan.notes.retain(|n| !refused.contains(n));
    plan.blocked = protected_deletions(&desired, &plan.actions);
    plan.notes.extend(plan.blocked.iter().cloned());
    plan.stages = plan
        .actions
        .iter()
        .map(|a| {
            let stage = match a {
                Action::Replace { .. } => 1,
                Action::Update { desired, .. } if desired.attrs.contains_key("stopped") => 2,
                _ => 0,
            };
            (a.address().clone(), stage)
        })
        .collect();
    plan.details = json!({ "restored": swaps.iter().map(|s| json!({
        "address": s.address,
        "identifier": s.identifier,
        "kept_as": s.kept_as,
        "snapshot": s.snapshot,
        "point": req.point.attr(&s.kept_as),
        "recreated": s.followers,
    })).collect::<Vec<_>>(), "buckets": buckets.iter().map(|b| json!({
        "bucket": b.bucket,
        "objects": b.steps,
    })).collect::<Vec<_>>() });
    Ok(RestorePlan {
        plan,
        region: r,
        point: req.point.clone(),
        swaps,
        buckets,
    })
}

/// The region asked for, which must be the primary: standbys follow it.
fn restored_region(roles: &BTreeMap<String, Role>, asked: Option<&str>) -> Result<String> {
    let primary = roles
        .iter()
        .find(|(_, role)| **role == Role::Primary)
        .map(|(r, _)| r.clone());
    let Some(primary) = primary else {
        bail!("there is no primary to restore: promote a standby first");
    };
    match asked {
        None => Ok(primary),
        Some(r) if r == primary => Ok(primary),
        Some(r) => match roles.get(r) {
            None => bail!("region {r} is not in the spec"),
            Some(role) => bail!(
                "region {r} is a {role}: restore acts on the primary's databases (in {primary}), and the standbys' replicas are re-created from them; run it with --region {primary}"
            ),
        },
    }
}

/// A point in time must lie in the database's restore window: not after its latest
/// restorable time, not before its backup retention reaches back (nor its creation)
/// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIT.html).
fn check_point(point: &RestorePoint, current: &Observed) -> Result<()> {
    let a = &current.address;
    let time = |k: &str| {
        current
            .computed
            .get(k)
            .and_then(Value::as_str)
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
    };
    let days = current
        .attrs
        .get("backup_days")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if days == 0 && !matches!(point, RestorePoint::Snapshot(_)) {
        bail!("{a} keeps no automated backups (backup retention 0), so it has no point to restore to: restore from --snapshot ID instead");
    }
    let RestorePoint::Time(t) = point else {
        return Ok(());
    };
    let Some(latest) = time("latest_restorable") else {
        bail!("the latest restorable time of {a} is unknown (DescribeDBInstances reports none): try again once its first backup is done, or give --snapshot ID");
    };
    if *t > latest {
        bail!(
            "--to-time {} is after the latest restorable time of {a} ({}): give a time at or before it, or --latest",
            rfc3339(*t),
            rfc3339(latest)
        );
    }
    let window = OffsetDateTime::now_utc() - Duration::from_secs(days as u64 * 86_400);
    let earliest = time("created").map_or(window, |c| c.max(window));
    if *t < earliest {
        bail!(
            "--to-time {} is before the earliest restorable time of {a} ({}; backups are kept {days} days): give a later time, or --snapshot ID",
            rfc3339(*t),
            rfc3339(earliest)
        );
    }
    Ok(())
}

/// The plan's actions made the restore's: each database's replacement becomes its swap; the
/// replacements it cascaded to (replicas, replicated backups) follow the new instance.
/// Anything else is a change the environment was waiting for: refused.
fn restore_actions(
    actions: Vec<Action>,
    point: &RestorePoint,
    swaps: &mut [Swap],
) -> Result<Vec<Action>> {
    let pending: Vec<String> = actions
        .iter()
        .filter(|a| !follows_restore(a, swaps))
        .map(|a| format!("{} {}", a.verb(), a.address()))
        .collect();
    if !pending.is_empty() {
        bail!(
            "the environment has changes pending ({}): run `standby apply` first, so the restore changes nothing else",
            pending.join(", ")
        );
    }
    let mut out = Vec::new();
    for a in actions {
        let Action::Replace {
            mut desired,
            current,
            reason,
            ..
        } = a
        else {
            continue;
        };
        if let Some(s) = swaps.iter_mut().find(|s| s.address == desired.address) {
            let restore = point.attr(&s.kept_as);
            desired.attrs.insert("restore".into(), restore.clone());
            let changes = vec![Change {
                key: "restore".into(),
                before: Value::Null,
                after: restore,
            }];
            out.push(Action::Update {
                desired,
                current,
                changes,
                reason: None,
            });
            continue;
        }
        let ChangeReason::ParentReplaced(source) = reason else {
            continue;
        };
        if let Some(s) = swaps.iter_mut().find(|s| s.address == source) {
            s.followers.push(desired.address.clone());
        }
        out.push(Action::Replace {
            desired,
            current,
            changes: Vec::new(),
            reason: ChangeReason::SourceRestored(source),
        });
    }
    Ok(out)
}

/// Whether an action of the plan is the restore's: a database swapped, or a replica or
/// replicated backups of one re-created.
fn follows_restore(a: &Action, swaps: &[Swap]) -> bool {
    let Action::Replace {
        desired, reason, ..
    } = a
    else {
        return false;
    };
    let swapped = |x: &Address| swaps.iter().any(|s| s.address == *x);
    match reason {
        ChangeReason::ReplaceRequested => swapped(&desired.address),
        ChangeReason::ParentReplaced(p) => {
            swapped(p) && matches!(desired.kind, Kind::Database | Kind::BackupReplication)
        }
        _ => false,
    }
}

/// Stage 2: the replaced instance stops with a snapshot, once no replica follows it.
fn stop_kept(s: &Swap) -> Action {
    let address = s.address.child("replaced");
    let attrs = |stopped: bool| {
        let mut m = serde_json::Map::new();
        m.insert("identifier".into(), json!(s.kept_as));
        m.insert("stopped".into(), json!(stopped));
        m
    };
    let desired = Desired {
        address: address.clone(),
        kind: Kind::Database,
        region: s.address.region().map(str::to_string),
        name: s.kept_as.clone(),
        attrs: attrs(true),
        tags: BTreeMap::new(),
        refs: BTreeMap::new(),
        depends_on: Vec::new(),
        bindings: BTreeMap::new(),
        prevent_destroy: false,
    };
    let current = Observed {
        address,
        kind: Kind::Database,
        region: desired.region.clone(),
        id: s.kept_as.clone(),
        attrs: attrs(false),
        computed: serde_json::Map::new(),
        depends_on: Vec::new(),
    };
    Action::Update {
        desired,
        current,
        changes: vec![Change {
            key: "stopped".into(),
            before: json!(false),
            after: json!(true),
        }],
        reason: None,
    }
}

/// `restore --cleanup`: deletes every instance a restore kept (their snapshot stays).
pub async fn plan_restore_cleanup(
    env: &Environment,
    provider: &dyn Provider,
    state: &State,
) -> Result<Plan> {
    let opts = PlanOptions {
        refresh: true,
        ..Default::default()
    };
    let mut plan = env.plan(provider, Some(state), &opts).await?;
    plan.actions = plan
        .prior
        .iter()
        .filter(|o| o.kind == Kind::Database && reads::kept(&o.attrs))
        .map(|o| {
            let mut current = o.clone();
            // Its snapshot was taken when it stopped.
            current.attrs.insert("final_snapshot".into(), json!(false));
            Action::Delete {
                current,
                reason: ChangeReason::KeptByRestore,
            }
        })
        .collect();
    plan.notes.clear();
    Ok(plan)
}

/// RFC 3339 to the second.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}
