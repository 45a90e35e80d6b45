//! Promote, rebuild and restore: each a plan made under the state lock from the DR planner
//! (`crate::dr`), then shown, approved and run like any other (`apply::Prepared`).

use super::apply::{Locked, Prepared, Ran};
use super::Context;
use crate::dr::{
    plan_promote, plan_rebuild, plan_restore, plan_restore_cleanup, BucketRestore, Estimate,
    PromoteRequest, RebuildRequest, RestorePoint, RestoreRequest, RpoGate, Swap,
};
use crate::environment::Environment;
use crate::state::{history_now, Operation, Step, StepOutcome};
use anyhow::Result;
use std::time::{Duration, Instant};

/// A promote plan, its RPO gate and its estimate, waiting for approval.
pub struct PromotePrepared {
    pub prepared: Prepared,
    pub gate: RpoGate,
    pub estimate: Estimate,
    /// This run finishes an interrupted promote of the same region.
    pub resumed: bool,
    pub rto: Duration,
    /// How long the gate and the plan took: recovery time, unlike the time at the prompt.
    planning: Duration,
}

/// What a promote did, and how long the recovery took (the prompt left out, as the
/// history leaves it out).
pub struct Promoted {
    pub ran: Ran,
    pub recovery: Duration,
}

/// `standby promote`: the RPO gate and the staged plan, recorded as the journal's first step.
pub async fn prepare_promote(
    cx: &Context,
    env: &Environment,
    req: &PromoteRequest,
) -> Result<PromotePrepared> {
    let clock = Instant::now();
    let op = Operation::Promote {
        region: req.region.clone(),
    };
    let rto = env.spec.service.rto;
    let missing = "apply it before promoting";
    let (locked, (mut promote, estimate)) =
        Locked::existing(cx, env, &op.to_string(), missing, async |state| {
            let promote = plan_promote(env, &*cx.provider().await?, state, req).await?;
            let estimate = Estimate::of(&promote.plan, state, rto);
            Ok((promote, estimate))
        })
        .await?;
    let gate_step = Step {
        name: "rpo gate and plan".into(),
        started_at: history_now(),
        duration_ms: clock.elapsed().as_millis() as u64,
        outcome: StepOutcome::Done,
    };
    if let Some(j) = promote.plan.journal.as_mut() {
        j.steps.push(gate_step);
    }
    let prepared = locked.prepared(cx, Ok(promote.plan), op).await?;
    Ok(PromotePrepared {
        prepared,
        gate: promote.gate,
        estimate,
        resumed: promote.resumed,
        rto,
        planning: clock.elapsed(),
    })
}

impl PromotePrepared {
    /// Runs the promote; see `Prepared::run`.
    pub async fn run(self, cx: &Context, parallelism: usize) -> Result<Promoted> {
        let clock = Instant::now();
        let ran = self.prepared.run(cx, parallelism).await?;
        Ok(Promoted {
            ran,
            recovery: self.planning + clock.elapsed(),
        })
    }
}

/// `standby rebuild`: the plan that brings a failed or cold region back as a standby.
pub async fn prepare_rebuild(
    cx: &Context,
    env: &Environment,
    req: &RebuildRequest,
) -> Result<Prepared> {
    let op = Operation::Rebuild {
        region: req.region.clone(),
        role: req.role,
    };
    let missing = "apply it first";
    let (locked, plan) = Locked::existing(cx, env, &op.to_string(), missing, async |state| {
        plan_rebuild(env, &*cx.provider().await?, state, req).await
    })
    .await?;
    locked.prepared(cx, Ok(plan), op).await
}

/// A restore plan and what it swaps, waiting for approval.
pub struct RestorePrepared {
    pub prepared: Prepared,
    pub region: String,
    pub point: RestorePoint,
    pub swaps: Vec<Swap>,
    pub buckets: Vec<BucketRestore>,
}

/// `standby restore`: the primary's databases restored to `req.point` and swapped in.
pub async fn prepare_restore(
    cx: &Context,
    env: &Environment,
    req: &RestoreRequest,
) -> Result<RestorePrepared> {
    let missing = "apply it first";
    let (locked, restore) = Locked::existing(cx, env, "restore", missing, async |state| {
        plan_restore(env, &*cx.provider().await?, state, req).await
    })
    .await?;
    let op = Operation::Restore {
        region: restore.region.clone(),
    };
    let prepared = locked.prepared(cx, Ok(restore.plan), op).await?;
    Ok(RestorePrepared {
        prepared,
        region: restore.region,
        point: restore.point,
        swaps: restore.swaps,
        buckets: restore.buckets,
    })
}

/// `standby restore --cleanup`: deleting the instances restores kept.
pub async fn prepare_restore_cleanup(cx: &Context, env: &Environment) -> Result<Prepared> {
    let op = Operation::RestoreCleanup;
    let lock = op.to_string();
    let (locked, plan) = Locked::existing(cx, env, &lock, "apply it first", async |state| {
        plan_restore_cleanup(env, &*cx.provider().await?, state).await
    })
    .await?;
    locked.prepared(cx, Ok(plan), op).await
}
