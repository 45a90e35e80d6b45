//! What a plan says beyond its actions: whether `--target` and `--replace` name something,
//! why a deletion happens, what `prevent_destroy` refuses, whether a saved plan is current.

use crate::address::Address;
use crate::config::Role;
use crate::plan::{Action, ChangeReason, Plan, ZoneKept};
use crate::provider::Observed;
use crate::state::State;
use crate::topology::{reads, Desired, Kind};
use anyhow::{bail, Result};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// S3 bucket names are global across accounts
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html): a plan
/// that creates buckets says which names it takes and how to choose others.
pub(super) fn new_bucket_names(actions: &[Action]) -> Option<String> {
    let names: Vec<&str> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Create { desired } | Action::Replace { desired, .. }
                if desired.kind == Kind::Bucket =>
            {
                Some(desired.name.as_str())
            }
            _ => None,
        })
        .collect();
    (!names.is_empty()).then(|| {
        format!(
            "bucket names are global across AWS accounts: this plan creates {}; if another account holds one, apply stops there: set `bucket_name` in the bucket block (names are fixed at creation)",
            names.join(", ")
        )
    })
}

/// A database created with its password managed by RDS (`ManageMasterUserPassword`) cannot
/// have a read replica
/// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html,
/// "Limitations"): the plan says it moves the password to standby's secret, in place.
pub(super) fn password_migrations(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Update { changes, .. }
                if a.kind() == Kind::Database
                    && changes
                        .iter()
                        .any(|c| c.key == reads::CREDENTIALS_MANAGED_BY_RDS) =>
            {
                Some(format!(
                    "{}: RDS manages its master password; it moves in place to standby's secret, replicated to every standby region (ModifyDBInstance with ManageMasterUserPassword false and the secret's password; RDS deletes its own secret), so that read replicas can be made of it",
                    a.address()
                ))
            }
            _ => None,
        })
        .collect()
}

/// Each `--target` must select something the spec or AWS has.
pub(super) fn check_targets(
    targets: &[Address],
    desired: &[Desired],
    prior: &[Observed],
) -> Result<()> {
    for t in targets {
        let mut known = desired
            .iter()
            .map(|d| &d.address)
            .chain(prior.iter().map(|o| &o.address));
        if !known.any(|a| t.contains(a)) {
            bail!("--target {t} matches no resource: `standby state list` shows the addresses");
        }
    }
    Ok(())
}

/// Each `--replace` must name one resource of the spec; one that does not exist yet is
/// simply created, and the plan says so.
pub(super) fn check_replace(
    replace: &[Address],
    desired: &[Desired],
    prior: &[Observed],
) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    for r in replace {
        if !desired.iter().any(|d| &d.address == r) {
            bail!(
                "--replace {r} is not a resource of the spec: name one resource \
                 (`standby state list` shows the addresses)"
            );
        }
        if !prior.iter().any(|o| &o.address == r) {
            notes.push(format!(
                "--replace {r}: it does not exist yet, so it is created"
            ));
        }
    }
    Ok(notes)
}

/// A hosted zone standby did not create, or one that holds records of others, stays when
/// its environment lets go of it: the deletion says so.
pub(super) fn explain_zone_deletions(actions: &mut [Action]) {
    for a in actions.iter_mut() {
        let Action::Delete { current, reason } = a else {
            continue;
        };
        if current.kind != Kind::HostedZone {
            continue;
        }
        let others: Vec<String> = current
            .computed
            .get("other_records")
            .and_then(Value::as_array)
            .map(|v| {
                v.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let kept = if crate::topology::reads::zone_adopted(&current.computed) {
            ZoneKept::NotCreated
        } else if !others.is_empty() {
            ZoneKept::HoldsOthers {
                more: others.len().saturating_sub(3),
                shown: others.into_iter().take(3).collect(),
            }
        } else {
            continue;
        };
        *reason = ChangeReason::ZoneKept(Box::new(reason.clone()), kept);
    }
}

/// A deletion caused by a region changing role says so, rather than "no longer in the spec".
pub(super) fn explain_role_changes(
    actions: &mut [Action],
    state: Option<&State>,
    roles: &BTreeMap<String, Role>,
) {
    let Some(state) = state else { return };
    for a in actions.iter_mut() {
        let Action::Delete { current, reason } = a else {
            continue;
        };
        let region = current.address.served_region().unwrap_or_default();
        if let (Some(new), Some(old)) = (roles.get(region), state.roles.get(region)) {
            if new != old && *reason == ChangeReason::NotInSpec {
                *reason = ChangeReason::RoleChange {
                    region: region.to_string(),
                    role: *new,
                };
            }
        }
    }
}

/// Deletions and replacements of resources marked `prevent_destroy`, as messages that say
/// how to allow them.
pub fn protected_deletions(desired: &[Desired], actions: &[Action]) -> Vec<String> {
    let protected: BTreeSet<&Address> = desired
        .iter()
        .filter(|d| d.prevent_destroy)
        .map(|d| &d.address)
        .collect();
    let replica = crate::topology::reads::is_replica;
    actions
        .iter()
        .filter(|a| match a {
            // A replica holds no data of its own; a rebuild turns a stale standalone database
            // into a replica after its final snapshot.
            Action::Replace { desired, current, .. } => !replica(&current.attrs) && !replica(&desired.attrs),
            Action::Delete { current, .. } => !replica(&current.attrs),
            _ => false,
        })
        .filter(|a| protected.contains(a.address()))
        .map(|a| {
            format!(
                "{} has prevent_destroy = true, so it cannot be {}d: set prevent_destroy = false on it in the spec and apply that first",
                a.address(),
                a.verb()
            )
        })
        .collect()
}

/// Refuses a saved plan once the state moved on since it was made.
pub fn check_plan_is_current(plan: &Plan, state: &State, state_exists: bool) -> Result<()> {
    let lineage_matches = match &plan.state_lineage {
        Some(l) => state_exists && *l == state.lineage,
        None => !state_exists,
    };
    if !lineage_matches {
        bail!(
            "the saved plan was made for another state (lineage {}, now {}): make a new plan with `standby plan --out`",
            plan.state_lineage.as_deref().unwrap_or("none"),
            if state_exists { state.lineage.as_str() } else { "none" }
        );
    }
    if state_exists && plan.state_serial != state.serial {
        bail!(
            "the saved plan is stale: the state moved from serial {} to {} since it was made; make a new plan with `standby plan --out`",
            plan.state_serial,
            state.serial
        );
    }
    Ok(())
}
