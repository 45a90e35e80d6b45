//! `promote R`: R becomes the primary. The plan fences the old primary, promotes R's
//! replica, scales R to full size, moves DNS and bucket replication, in that order.
//!
//! Invariant: the RPO gate runs before any change: a replica lagging beyond the service's
//! RPO, or an unknown lag with the old primary unreachable, refuses the promote unless the
//! user accepts data loss, which the history records.

use crate::address::Address;
use crate::config::Role;
use crate::environment::{Environment, PlanOptions};
use crate::plan::{Action, Plan};
use crate::provider::Provider;
use crate::state::State;
use crate::topology::Kind;
use anyhow::{bail, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct PromoteRequest {
    pub region: String,
    pub assume_down: BTreeSet<String>,
    pub accept_data_loss: bool,
}

/// What the RPO gate measured and decided.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RpoGate {
    /// The largest `ReplicaLag` over R's replicas; `None` when CloudWatch had no datapoint.
    #[serde(with = "humantime_serde_opt")]
    pub lag: Option<Duration>,
    #[serde(with = "humantime_serde")]
    pub rpo: Duration,
    /// Whether the old primary can be fenced first (it is not assumed down).
    pub fenced_first: bool,
    pub accepted_data_loss: bool,
    /// One line for people.
    pub verdict: String,
}

pub struct PromotePlan {
    pub plan: Plan,
    pub gate: RpoGate,
    pub old_primary: Option<String>,
}

/// Builds the promote plan, after the RPO gate.
pub async fn plan_promote(
    env: &Environment,
    provider: &dyn Provider,
    state: &State,
    req: &PromoteRequest,
) -> Result<PromotePlan> {
    let r = req.region.as_str();
    if env.spec.region(r).is_none() {
        bail!(
            "region {r} is not in the spec: the regions are {}",
            env.spec
                .regions
                .iter()
                .map(|x| x.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if req.assume_down.contains(r) {
        bail!("cannot promote {r} while assuming it is down: drop --assume-down {r}");
    }
    let mut roles = env.roles(Some(state));
    match roles.get(r) {
        Some(Role::WarmStandby) => {}
        Some(Role::Primary) => bail!("region {r} is already the primary"),
        Some(Role::ColdStandby) => bail!(
            "region {r} is a cold standby and has no replica to promote: run `standby rebuild {r} --role warm-standby` first"
        ),
        Some(Role::Failed) | None => {
            bail!("region {r} is failed: run `standby rebuild {r} --role warm-standby` first")
        }
    }
    let old_primary = roles
        .iter()
        .find(|(_, role)| **role == Role::Primary)
        .map(|(n, _)| n.clone());
    let fenced_first = old_primary
        .as_ref()
        .is_some_and(|p| !req.assume_down.contains(p));

    let gate = rpo_gate(env, provider, &roles, r, fenced_first, req.accept_data_loss).await?;

    if let Some(p) = &old_primary {
        roles.insert(p.clone(), Role::Failed);
    }
    roles.insert(r.to_string(), Role::Primary);
    let opts = PlanOptions {
        refresh: true,
        assume_down: req.assume_down.clone(),
        roles: Some(roles),
        ..Default::default()
    };
    let mut plan = env.plan(provider, Some(state), &opts).await?;
    stage(&mut plan, r, old_primary.as_deref());
    Ok(PromotePlan {
        plan,
        gate,
        old_primary,
    })
}

async fn rpo_gate(
    env: &Environment,
    provider: &dyn Provider,
    roles: &BTreeMap<String, Role>,
    region: &str,
    fenced_first: bool,
    accept_data_loss: bool,
) -> Result<RpoGate> {
    let rpo = env.spec.service.rpo;
    let replicas: Vec<String> = env
        .desired(roles)?
        .into_iter()
        .filter(|d| d.kind == Kind::Database && d.region.as_deref() == Some(region))
        .map(|d| d.name)
        .collect();
    let mut lag: Option<Duration> = None;
    let mut unknown = false;
    for id in &replicas {
        match provider.replica_lag(region, id).await? {
            Some(l) => lag = Some(lag.map_or(l, |m: Duration| m.max(l))),
            None => unknown = true,
        }
    }
    let show = |d: Duration| humantime::format_duration(d).to_string();
    let (pass, verdict) = match lag {
        _ if replicas.is_empty() => (true, "no database to promote: nothing to lose".to_string()),
        Some(l) if l > rpo => (
            false,
            format!("replica lag {} in {region} exceeds the rpo of {}", show(l), show(rpo)),
        ),
        Some(l) if !unknown => (true, format!("replica lag {} in {region} is within the rpo of {}", show(l), show(rpo))),
        _ if fenced_first => (
            true,
            format!(
                "replica lag in {region} is unknown (no ReplicaLag datapoint); the old primary is fenced first, rpo {}",
                show(rpo)
            ),
        ),
        _ => (
            false,
            format!(
                "replica lag in {region} is unknown (no ReplicaLag datapoint) and the old primary cannot be fenced first, rpo {}",
                show(rpo)
            ),
        ),
    };
    if !pass && !accept_data_loss {
        bail!("refusing to promote {region}: {verdict}; pass --accept-data-loss to promote anyway");
    }
    Ok(RpoGate {
        lag,
        rpo,
        fenced_first,
        accepted_data_loss: !pass && accept_data_loss,
        verdict: if pass {
            verdict
        } else {
            format!("{verdict}; data loss accepted")
        },
    })
}

/// Orders the plan: fence, promote the database, scale, DNS, bucket replication. Route 53
/// changes are best effort: its control plane may be impaired with us-east-1 down, and the
/// health-checked failover records fail over by themselves.
fn stage(plan: &mut Plan, region: &str, old_primary: Option<&str>) {
    let mut stages: BTreeMap<Address, u32> = BTreeMap::new();
    for a in &plan.actions {
        let global_dns = matches!(
            a.kind(),
            Kind::Record | Kind::HealthCheck | Kind::HostedZone
        );
        let in_old = old_primary.is_some_and(|p| {
            a.region() == Some(p) || a.address().as_str().ends_with(&format!(".{p}"))
        });
        let stage = match a {
            Action::Delete { .. } if in_old => 0,
            _ if a.kind() == Kind::Database && a.region() == Some(region) => 1,
            _ if global_dns => 3,
            _ if matches!(a.kind(), Kind::BucketReplication | Kind::ReplicationRole) => 4,
            _ => 2,
        };
        stages.insert(a.address().clone(), stage);
        if global_dns {
            plan.best_effort.insert(a.address().clone());
        }
    }
    plan.stages = stages;
}

/// `Option<Duration>` as a humantime string or null.
mod humantime_serde_opt {
    pub fn serialize<S: serde::Serializer>(
        d: &Option<std::time::Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            None => s.serialize_none(),
        }
    }
}

/// `Duration` as a humantime string.
mod humantime_serde {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}
