//! `status`: one row per region: roles (state and spec), instances running and desired,
//! database role and lag, bucket replication direction, DNS record role; a promote or
//! rebuild that was interrupted; and the last promote and drill from the history.
//!
//! Invariant: status only reads (one batched refresh, one lag read per replica).

use crate::check::Verdict;
use crate::config::Role;
use crate::environment::Environment;
use crate::provider::Provider;
use crate::state::{HistoryEntry, Operation, State};
use crate::topology::{reads, Kind};
use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RegionStatus {
    pub region: String,
    /// The role in the state (`None` before the first apply).
    pub state_role: Option<Role>,
    pub spec_role: Role,
    /// Whether the region's endpoints answered; when not, the rest is unknown.
    pub reachable: bool,
    pub instances_running: usize,
    pub instances_desired: usize,
    pub database: DatabaseStatus,
    pub replication: Replication,
    /// The failover roles of the region's DNS records (`PRIMARY`, `SECONDARY`).
    pub dns: Vec<String>,
    /// A standby's `check` verdict; `None` for the primary and failed regions, or when a
    /// region was unreachable (check would wait on it).
    pub readiness: Option<Verdict>,
}

#[derive(Debug, Clone)]
pub struct DatabaseStatus {
    pub role: DatabaseRole,
    /// A replica's source region.
    pub source_region: Option<String>,
    /// A replica's CloudWatch `ReplicaLag`, when there is a datapoint.
    pub lag_seconds: Option<f64>,
}

/// What a region's database is, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseRole {
    /// Writable.
    Primary,
    /// Standalone but stopped (a fence's stop): no writes until it is started, which AWS
    /// does by itself after 7 days.
    Stopped,
    Replica,
    None,
    /// The region did not answer.
    Unknown,
}

/// What a region's bucket is in the replication, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketRole {
    /// It replicates to `destinations`.
    Source,
    Replica,
    None,
    /// The region did not answer.
    Unknown,
}

/// The region's bucket in the replication.
#[derive(Debug, Clone)]
pub struct Replication {
    pub role: BucketRole,
    /// Where a source replicates to.
    pub destinations: Vec<String>,
}

impl RegionStatus {
    fn unreachable(
        region: &str,
        state: Option<&State>,
        spec_role: Role,
        error: &str,
    ) -> RegionStatus {
        tracing::warn!(region, error, "region unreachable");
        RegionStatus {
            region: region.to_string(),
            state_role: state.and_then(|s| s.roles.get(region).copied()),
            spec_role,
            reachable: false,
            instances_running: 0,
            instances_desired: 0,
            database: DatabaseStatus {
                role: DatabaseRole::Unknown,
                source_region: None,
                lag_seconds: None,
            },
            replication: Replication {
                role: BucketRole::Unknown,
                destinations: Vec::new(),
            },
            dns: Vec::new(),
            readiness: None,
        }
    }
}

/// A promote or rebuild the state's journal holds: interrupted, or running right now.
#[derive(Debug, Clone)]
pub struct Interrupted {
    pub operation: Operation,
    /// `stage 2/5 (promote the database in us-west-2)`.
    pub at: String,
    /// The command that finishes it.
    pub resume: String,
    pub started_at: String,
    /// One line for people.
    pub note: String,
}

/// Not `Serialize`: `status --json` is `report::status`'s document.
#[derive(Debug, Clone)]
pub struct Status {
    pub environment: String,
    pub interrupted: Option<Interrupted>,
    pub regions: Vec<RegionStatus>,
    /// Failed regions that could still take writes or traffic: one line each.
    pub split_brain: Vec<String>,
    pub last_promote: Option<HistoryEntry>,
    pub last_drill: Option<HistoryEntry>,
}

pub async fn status(
    env: &Environment,
    provider: &dyn Provider,
    state: Option<&State>,
) -> Result<Status> {
    let roles = env.roles(state);
    let desired = env.desired_in(&roles, state)?;
    // Each region is read on its own so that one unreachable region (the reason somebody
    // runs status during an outage) does not hide the others.
    let scope = env.scope(state, &desired);
    let mut global_only = scope.clone();
    global_only.regions.clear();
    let reads = env.spec.regions.iter().map(|r| {
        let mut one = scope.clone();
        one.regions = BTreeSet::from([r.name.clone()]);
        one.global.clear();
        async move { (r.name.clone(), provider.refresh(&one).await) }
    });
    let (per_region, global) = futures::join!(
        futures::future::join_all(reads),
        provider.refresh(&global_only)
    );
    let mut live = global?;
    let mut unreachable: BTreeMap<String, String> = BTreeMap::new();
    for (region, read) in per_region {
        match read {
            Ok(found) => live.extend(found),
            Err(e) => {
                unreachable.insert(region, format!("{e:#}"));
            }
        }
    }
    let mut regions = Vec::new();
    for region in &env.spec.regions {
        let r = region.name.as_str();
        if let Some(error) = unreachable.get(r) {
            regions.push(RegionStatus::unreachable(r, state, region.role, error));
            continue;
        }
        let here = |kind: Kind| {
            live.iter()
                .filter(move |o| o.kind == kind && o.region.as_deref() == Some(r))
        };
        let running = here(Kind::AutoScalingGroup)
            .map(|o| reads::in_service(&o.computed) as usize)
            .sum::<usize>();
        let wanted = desired
            .iter()
            .filter(|d| d.kind == Kind::AutoScalingGroup && d.region.as_deref() == Some(r))
            .map(|d| reads::desired_capacity(&d.attrs) as usize)
            .sum::<usize>();
        let db = here(Kind::Database).next();
        let database = match db {
            None => DatabaseStatus {
                role: DatabaseRole::None,
                source_region: None,
                lag_seconds: None,
            },
            Some(o) => match reads::replica_of(&o.attrs) {
                None => DatabaseStatus {
                    role: match crate::plan::writable_database(o) {
                        true => DatabaseRole::Primary,
                        false => DatabaseRole::Stopped,
                    },
                    source_region: None,
                    lag_seconds: None,
                },
                Some(source) => {
                    let lag: Option<Duration> = provider.replica_lag(r, &o.id).await?;
                    DatabaseStatus {
                        role: DatabaseRole::Replica,
                        source_region: source.region().map(str::to_string),
                        lag_seconds: lag.map(|d| d.as_secs_f64()),
                    }
                }
            },
        };
        let replication = match here(Kind::BucketReplication).next() {
            Some(rep) => Replication {
                role: BucketRole::Source,
                destinations: reads::destinations(&rep.attrs)
                    .with_context(|| format!("{} in {r}", rep.address))?
                    .into_iter()
                    .map(|d| d.region)
                    .collect(),
            },
            None if here(Kind::Bucket).next().is_some() => Replication {
                role: BucketRole::Replica,
                destinations: Vec::new(),
            },
            None => Replication {
                role: BucketRole::None,
                destinations: Vec::new(),
            },
        };
        let dns = live
            .iter()
            .filter(|o| o.kind == Kind::Record && reads::set_identifier(&o.attrs) == Some(r))
            .filter_map(|o| reads::failover(&o.attrs))
            .map(String::from)
            .collect::<Vec<_>>();
        regions.push(RegionStatus {
            region: r.to_string(),
            state_role: state.and_then(|s| s.roles.get(r).copied()),
            spec_role: region.role,
            reachable: true,
            instances_running: running,
            instances_desired: wanted,
            database,
            replication,
            dns,
            readiness: None,
        });
    }
    readiness(env, provider, state, &mut regions).await;
    let last = |wanted: fn(&Operation) -> bool| {
        state.and_then(|s| {
            s.history()
                .iter()
                .rev()
                .find(|h| wanted(&h.operation))
                .cloned()
        })
    };
    let interrupted = state.and_then(|s| s.journal.as_ref()).map(|j| Interrupted {
        operation: j.operation.clone(),
        at: j.position(),
        resume: j.resume.clone(),
        started_at: j.started_at.clone(),
        note: j.note(),
    });
    Ok(Status {
        environment: env.spec.environment.clone(),
        split_brain: split_brain(&regions, &live, interrupted.as_ref()),
        interrupted,
        regions,
        last_promote: last(|o| matches!(o, Operation::Promote { .. })),
        last_drill: last(|o| matches!(o, Operation::Drill { .. })),
    })
}

/// Each standby's readiness verdict (`standby check`), when every region answered: a check
/// during an outage would wait on the region that is down, and status must not.
async fn readiness(
    env: &Environment,
    provider: &dyn Provider,
    state: Option<&State>,
    regions: &mut [RegionStatus],
) {
    if state.is_none() || regions.iter().any(|r| !r.reachable) {
        return;
    }
    let opts = crate::check::CheckOptions::default();
    match crate::check::check(env, provider, state, &opts).await {
        Ok(report) => {
            for r in regions.iter_mut() {
                if report.regions.contains(&r.region) {
                    r.readiness = Some(report.region_verdict(&r.region));
                }
            }
        }
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "readiness not checked"),
    }
}

/// A region the state holds as `failed` that came back with a writable database, a bucket
/// replicating from it, or a DNS record: a second primary the fence did not reach.
fn split_brain(
    regions: &[RegionStatus],
    live: &[crate::provider::Observed],
    interrupted: Option<&Interrupted>,
) -> Vec<String> {
    let failed: BTreeSet<String> = regions
        .iter()
        .filter(|r| r.reachable && r.state_role == Some(Role::Failed))
        .map(|r| r.region.clone())
        .collect();
    crate::plan::split_brain(&failed, live)
        .iter()
        .map(|s| match interrupted {
            // apply waits for the interrupted operation.
            Some(i) => format!("{s}: run `{}` to finish, then `standby apply` fences it", i.resume),
            None => format!(
                "{s}: run `standby apply` to fence it (or `standby rebuild {}` to make it a standby again)",
                s.region
            ),
        })
        .collect()
}
