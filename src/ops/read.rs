//! The operations that only read: plan, status, drift and check, each against the state
//! as it is stored (no lock: nothing is written).

use super::Context;
use crate::check::{CheckOptions, CheckReport};
use crate::dr::{DriftOptions, DriftReport, Status};
use crate::environment::{Environment, PlanOptions};
use crate::plan::Plan;
use anyhow::Result;

/// `standby plan`: refresh and diff.
pub async fn plan(cx: &Context, env: &Environment, opts: &PlanOptions) -> Result<Plan> {
    let state = env.read_state().await?;
    env.plan(&*cx.provider().await?, state.as_ref(), opts).await
}

/// `standby status`: regions, roles, replication, the last promote and drill.
pub async fn status(cx: &Context, env: &Environment) -> Result<Status> {
    let state = env.read_state().await?;
    crate::dr::status(env, &*cx.provider().await?, state.as_ref()).await
}

/// `standby drift`: one refresh, compared with the state and the spec.
pub async fn drift(cx: &Context, env: &Environment, opts: &DriftOptions) -> Result<DriftReport> {
    let state = env.read_state().await?;
    crate::dr::drift(env, &*cx.provider().await?, state.as_ref(), opts).await
}

/// `standby check`: whether each standby could take over now.
pub async fn check(cx: &Context, env: &Environment, opts: &CheckOptions) -> Result<CheckReport> {
    let state = env.read_state().await?;
    crate::check::check(env, &*cx.provider().await?, state.as_ref(), opts).await
}
