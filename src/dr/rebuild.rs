//! `rebuild R --role X`: brings a failed or cold region to a standby role: a fresh read
//! replica of the current primary, clusters at the role's size, the bucket as a replication
//! destination, DNS as the role says.
//!
//! Invariant: a stale standalone database in R is replaced only through the provider's
//! delete, which takes a final snapshot first.

use crate::config::Role;
use crate::environment::{Environment, PlanOptions};
use crate::plan::Plan;
use crate::provider::Provider;
use crate::state::State;
use anyhow::{bail, Result};
use std::collections::BTreeSet;

#[derive(Debug, Clone)]
pub struct RebuildRequest {
    pub region: String,
    /// warm-standby (the default) or cold-standby.
    pub role: Role,
    pub assume_down: BTreeSet<String>,
}

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
        bail!("rebuild brings a region to warm-standby or cold-standby; to make {r} the primary, rebuild it as a warm standby and then `standby promote {r}`");
    }
    let mut roles = env.roles(Some(state));
    if roles.get(r) == Some(&Role::Primary) {
        bail!("region {r} is the primary: promote another region first");
    }
    if !roles.values().any(|x| *x == Role::Primary) {
        bail!("there is no primary to replicate from: promote a standby first");
    }
    roles.insert(r.to_string(), req.role);
    let opts = PlanOptions {
        refresh: true,
        assume_down: req.assume_down.clone(),
        roles: Some(roles),
        ..Default::default()
    };
    env.plan(provider, Some(state), &opts).await
}
