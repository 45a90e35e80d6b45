//! `rebuild R --role X`: brings a failed or cold region to a standby role: a fresh read
//! replica of the current primary, clusters at the role's size, the bucket as a replication
//! destination, DNS as the role says.
//!
//! Invariant: a stale standalone database in R is replaced only through the provider's
//! delete, which takes a final snapshot first. A fence stage comes first: R's bucket
//! replication and stale database go before anything else. R takes its new role when its
//! own resources (replica, clusters, bucket) are up; DNS and bucket replication follow last.

use crate::config::Role;
use crate::environment::{Environment, PlanOptions};
use crate::plan::{Action, Plan};
use crate::provider::Provider;
use crate::state::{Journal, JournalStage, Operation, Stage, State};
use crate::topology::Kind;
use anyhow::{bail, Result};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone)]
pub struct RebuildRequest {
    pub region: String,
    /// warm-standby (the default) or cold-standby.
    pub role: Role,
    pub assume_down: BTreeSet<String>,
    /// Give up another interrupted promote or rebuild instead of refusing.
    pub abandon_interrupted: bool,
}

/// Builds the rebuild plan, with its journal; resumes an interrupted rebuild of the same
/// region to the same role.
pub async fn plan_rebuild(
    env: &Environment,
    provider: &dyn Provider,
    state: &State,
    req: &RebuildRequest,
) -> Result<Plan> {
    let r = req.region.as_str();
    if env.spec.region(r).is_none() {
        bail!("region {r} is not in the spec");
    }
    if req.role == Role::Primary || req.role == Role::Failed {
        if super::true_roles(env, state).get(r) == Some(&Role::ColdStandby) {
            bail!("rebuild brings a region to warm-standby or cold-standby; to make the cold standby {r} the primary with the primary and warm standbys down, run `standby promote {r}` with --assume-down for each of them: it restores the databases from the backups replicated into {r}");
        }
        bail!("rebuild brings a region to warm-standby or cold-standby; to make {r} the primary, rebuild it as a warm standby and then `standby promote {r}`");
    }
    let operation = Operation::Rebuild {
        region: r.into(),
        role: req.role,
    };
    let resumed = super::resuming(state, &operation, req.abandon_interrupted)?;
    let roles = match resumed {
        Some(j) => j.roles.clone(),
        None => {
            let mut roles = super::true_roles(env, state);
            if roles.get(r) == Some(&Role::Primary) {
                bail!("region {r} is the primary: promote another region first");
            }
            if !roles.values().any(|x| *x == Role::Primary) {
                bail!("there is no primary to replicate from: promote a standby first");
            }
            roles.insert(r.to_string(), req.role);
            roles
        }
    };
    let opts = PlanOptions {
        refresh: true,
        assume_down: req.assume_down.clone(),
        roles: Some(roles.clone()),
        degrade_global: true,
        ..Default::default()
    };
    let mut plan = env.plan(provider, Some(state), &opts).await?;
    // A journal from before the fence stage keeps its two stages.
    let fence_first = resumed.is_none_or(|j| j.stages.len() == 3);
    plan.stages = plan
        .actions
        .iter()
        .map(|a| {
            let stage = match a {
                _ if fences(a, r) => 0,
                _ if follows_the_region(a.kind()) => 2,
                _ => 1,
            };
            let stage = if fence_first { stage } else { stage.max(1) - 1 };
            (a.address().clone(), stage)
        })
        .collect();
    super::explain_resumption(&mut plan, state, resumed.is_some());
    plan.journal = Some(match resumed {
        Some(j) => {
            let mut j = j.clone();
            j.resume_run();
            j
        }
        None => new_journal(req, roles),
    });
    Ok(plan)
}

/// What stops R from acting as a primary, done before anything else: its bucket stops
/// replicating, its standalone database goes (the provider's delete takes a final snapshot,
/// also of one an apply's fence stopped); and the fence of any other failed region.
fn fences(a: &Action, r: &str) -> bool {
    let own = match a {
        Action::Delete { current, .. } => {
            matches!(current.kind, Kind::BucketReplication | Kind::Database)
        }
        Action::Replace { .. } => a.kind() == Kind::Database,
        _ => false,
    };
    a.fences() || (own && a.region() == Some(r))
}

/// DNS records and bucket replication point at the region once it is up: a second stage.
fn follows_the_region(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Record
            | Kind::HealthCheck
            | Kind::HostedZone
            | Kind::BucketReplication
            | Kind::ReplicationRole
    )
}

/// The region takes its role when its own resources (the replica first of all) are up.
fn new_journal(req: &RebuildRequest, roles: BTreeMap<String, Role>) -> Journal {
    let r = req.region.as_str();
    let mut resume = format!("standby rebuild {r} --role {}", req.role);
    for d in &req.assume_down {
        resume.push_str(&format!(" --assume-down {d}"));
    }
    let stages = vec![
        JournalStage::new(
            Stage::Fence {
                old_primary: Some(r.into()),
            },
            BTreeMap::new(),
        ),
        JournalStage::new(
            Stage::BringUp {
                region: r.into(),
                role: req.role,
            },
            BTreeMap::from([(r.to_string(), req.role)]),
        ),
        JournalStage::new(Stage::Repoint { region: r.into() }, BTreeMap::new()),
    ];
    let operation = Operation::Rebuild {
        region: r.into(),
        role: req.role,
    };
    let mut journal = Journal::new(operation, &resume, stages, roles);
    journal.details =
        serde_json::json!({ "region": r, "role": req.role, "assume_down": req.assume_down });
    journal
}
