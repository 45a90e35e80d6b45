//! `standby check`: could each standby take over right now, within the RTO and the RPO?
//! One row per check per standby region, each a verdict with the measured value and the
//! threshold: capacity (image, instance type, database class), data (replica lag, bucket
//! replication), traffic (failover records, DNS failover time), practice (last drill, its
//! recovery time) and time (the promote estimate).
//!
//! Invariant: read only: one refresh, then the reads each check needs in the standby's
//! region, and a promote plan per warm standby that is never applied. Words are the CLI's.

mod backups;
mod rows;
mod signals;

use crate::address::Address;
use crate::config::Role;
use crate::environment::Environment;
use crate::provider::{CapacityNeed, Provider};
use crate::state::State;
use anyhow::{bail, Result};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

/// Version of the `check --format json` document.
pub const CHECK_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The standby regions to check (`--region`); empty: every standby.
    pub regions: Vec<String>,
    /// The time drills are aged against; `None`: now.
    pub now: Option<SystemTime>,
    /// Also write a canary object to the primary's buckets and wait for it in each
    /// standby's replica (`--canary`).
    pub canary: bool,
}

/// What `check` found, one row per check per standby region.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub format_version: u32,
    pub environment: String,
    pub regions: Vec<String>,
    pub rows: Vec<CheckRow>,
}

impl CheckReport {
    /// Whether every row is ready; with `strict`, an unknown row also counts against.
    pub fn ready(&self, strict: bool) -> bool {
        self.rows.iter().all(|r| match r.verdict {
            Verdict::Ready => true,
            Verdict::NotReady => false,
            Verdict::Unknown => !strict,
        })
    }

    /// The verdict of a region: not ready when any row is, else unknown when any is.
    pub fn region_verdict(&self, region: &str) -> Verdict {
        let verdicts: BTreeSet<Verdict> = self
            .rows
            .iter()
            .filter(|r| r.region == region)
            .map(|r| r.verdict)
            .collect();
        verdicts.into_iter().max().unwrap_or(Verdict::Ready)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckRow {
    pub region: String,
    pub area: Area,
    #[serde(flatten)]
    pub check: Check,
    pub verdict: Verdict,
    pub measured: Measure,
    pub threshold: Measure,
    /// Why the verdict is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<Unknown>,
}

/// The group a check belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    Capacity,
    Data,
    Traffic,
    Practice,
    Time,
}

/// One check, with what it is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Check {
    /// The region offers what the stack needs at full size.
    Capacity { need: CapacityNeed },
    /// The EC2 vCPU quota of standard instances, less what runs in the region, against the
    /// vCPUs that scaling every cluster to full size adds.
    VcpuQuota,
    /// The replica's CloudWatch `ReplicaLag` against the RPO.
    ReplicaLag { database: Address },
    /// The age of the primary's latest restorable time against the RPO.
    LatestRestorable { database: Address },
    /// The primary's bucket replicates to the region.
    BucketReplication { replication: Address },
    /// A canary object written to the primary's bucket arrives in the region's replica
    /// within the RPO (`--canary`).
    Canary { replication: Address },
    /// The database's secret is replicated to the region and in sync.
    SecretReplica { secret: Address },
    /// The age of the latest restorable time of the backups replicated into a cold
    /// standby, against the RPO.
    ReplicatedBackups { backups: Address },
    /// The days the replicated backups are kept, against the spec's `backup`.
    BackupRetention { backups: Address },
    /// The region's failover record is in place.
    FailoverRecord { record: Address },
    /// The load balancer sees a healthy target in the region's target group.
    TargetHealth { target_group: Address },
    /// Route 53 sees the region's health check healthy.
    HealthCheck { health_check: Address },
    /// The record's TTL plus the health check's detection time against the RTO.
    FailoverTime { record: Address },
    /// The age of the region's last drill that got ready, against `drill_every`.
    LastDrill,
    /// The recovery time the region's last drill measured, against the RTO.
    DrillRecovery,
    /// The estimated recovery time of promoting the region now, against the RTO.
    RecoveryEstimate,
}

impl Check {
    pub fn area(&self) -> Area {
        match self {
            Check::Capacity { .. } | Check::VcpuQuota => Area::Capacity,
            Check::ReplicaLag { .. }
            | Check::LatestRestorable { .. }
            | Check::BucketReplication { .. }
            | Check::Canary { .. }
            | Check::SecretReplica { .. }
            | Check::ReplicatedBackups { .. }
            | Check::BackupRetention { .. } => Area::Data,
            Check::FailoverRecord { .. }
            | Check::TargetHealth { .. }
            | Check::HealthCheck { .. }
            | Check::FailoverTime { .. } => Area::Traffic,
            Check::LastDrill | Check::DrillRecovery => Area::Practice,
            Check::RecoveryEstimate => Area::Time,
        }
    }
}

/// Ordered from best to worst, so a region's verdict is its rows' maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ready,
    Unknown,
    NotReady,
}

/// A measured value or a threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "unit", content = "value", rename_all = "snake_case")]
pub enum Measure {
    /// A duration, in seconds.
    Seconds(f64),
    /// Whether something is there.
    Present(bool),
    /// A count (vCPUs, targets); as a threshold, the least that is ready.
    Count(u64),
    /// Whether a replica is in sync with its source.
    InSync(bool),
    /// Whether a health check or target is healthy.
    Healthy(bool),
    /// A number of days (a retention).
    Days(u64),
    /// Nothing to measure: never drilled, no datapoint.
    None,
}

impl Measure {
    pub fn duration(d: Duration) -> Measure {
        Measure::Seconds(d.as_secs_f64())
    }
}

/// Why a check could not tell.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
pub enum Unknown {
    /// CloudWatch has no `ReplicaLag` datapoint (or -1: replication not running).
    NoDatapoint,
    /// RDS reports no latest restorable time (backups off, or the database is not there).
    NoRestorableTime,
    /// The provider cannot answer this read.
    NotAvailable,
    /// RDS reports no restore window for the replicated backups yet (replication pending).
    NoRestoreWindow,
    /// The promote plan could not be made; the error says why.
    NoPromotePlan(String),
    /// The read failed; the error says why.
    ReadFailed(String),
}

/// Checks every standby (or those `opts` names) of `env`.
pub async fn check(
    env: &Environment,
    provider: &dyn Provider,
    state: Option<&State>,
    opts: &CheckOptions,
) -> Result<CheckReport> {
    let roles = env.roles(state);
    let regions = standbys(&roles, &opts.regions)?;
    let desired = env.desired_in(&roles, state)?;
    let live = env
        .refresh(provider, state, &desired, &roles, Default::default())
        .await?
        .live;
    let now = opts.now.unwrap_or_else(SystemTime::now);
    let mut rows = Vec::new();
    for r in &regions {
        let ctx = rows::Region {
            env,
            provider,
            state,
            region: r,
            role: roles[r],
            roles: &roles,
            desired: &desired,
            live: &live,
        };
        rows.extend(ctx.capacity().await?);
        rows.extend(ctx.vcpu_quota().await?);
        rows.extend(ctx.data().await);
        rows.extend(ctx.restorable().await);
        rows.extend(ctx.secrets());
        if opts.canary {
            rows.extend(ctx.canaries().await);
        }
        rows.extend(ctx.backups(now));
        rows.extend(ctx.traffic());
        rows.extend(ctx.health().await);
        rows.extend(ctx.practice(now));
        rows.extend(ctx.time().await);
    }
    Ok(CheckReport {
        format_version: CHECK_FORMAT_VERSION,
        environment: env.spec.environment.clone(),
        regions,
        rows,
    })
}

/// The standby regions to check: those asked for, each a standby, or every standby.
fn standbys(roles: &BTreeMap<String, Role>, asked: &[String]) -> Result<Vec<String>> {
    let is_standby = |r: &Role| matches!(r, Role::WarmStandby | Role::ColdStandby);
    for a in asked {
        match roles.get(a) {
            Some(r) if is_standby(r) => {}
            Some(r) => bail!("region {a} is {r}, not a standby: check reads standbys only; leave out --region {a}"),
            None => bail!(
                "region {a} is not in the spec: the regions are {}",
                roles.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        }
    }
    Ok(roles
        .iter()
        .filter(|(n, r)| is_standby(r) && (asked.is_empty() || asked.contains(n)))
        .map(|(n, _)| n.clone())
        .collect())
}
