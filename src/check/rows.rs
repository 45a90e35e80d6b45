//! The checks of one standby region, area by area.

use super::{Check, CheckRow, Measure, Unknown, Verdict};
use crate::config::Role;
use crate::dr::{plan_promote, Estimate, PromoteRequest};
use crate::environment::Environment;
use crate::provider::aws::{FAILURE_THRESHOLD, REQUEST_INTERVAL};
use crate::provider::{CapacityNeed, Observed, Provider};
use crate::state::{HistoryEntry, Operation, RunOutcome, State};
use crate::topology::{reads, Desired, Kind};
use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

/// One standby region and what was read of the environment.
pub(super) struct Region<'a> {
    pub env: &'a Environment,
    pub provider: &'a dyn Provider,
    pub state: Option<&'a State>,
    pub region: &'a str,
    pub role: Role,
    /// Every region's role now.
    pub roles: &'a BTreeMap<String, Role>,
    /// The desired resources under the roles of now.
    pub desired: &'a [Desired],
    pub live: &'a [Observed],
}

/// A row with its verdict, what was measured and the threshold it was held to.
fn row(
    region: &str,
    check: Check,
    verdict: Verdict,
    measured: Measure,
    threshold: Measure,
) -> CheckRow {
    CheckRow {
        region: region.to_string(),
        area: check.area(),
        check,
        verdict,
        measured,
        threshold,
        unknown: None,
    }
}

fn unknown(region: &str, check: Check, threshold: Measure, why: Unknown) -> CheckRow {
    CheckRow {
        unknown: Some(why),
        ..row(region, check, Verdict::Unknown, Measure::None, threshold)
    }
}

/// Ready when `measured` is at most `limit`.
fn at_most(region: &str, check: Check, measured: Duration, limit: Duration) -> CheckRow {
    let verdict = if measured <= limit {
        Verdict::Ready
    } else {
        Verdict::NotReady
    };
    row(
        region,
        check,
        verdict,
        Measure::duration(measured),
        Measure::duration(limit),
    )
}

/// Ready when `present`.
fn present(region: &str, check: Check, present: bool) -> CheckRow {
    let verdict = if present {
        Verdict::Ready
    } else {
        Verdict::NotReady
    };
    row(
        region,
        check,
        verdict,
        Measure::Present(present),
        Measure::Present(true),
    )
}

impl Region<'_> {
    fn here<'b>(
        &self,
        resources: &'b [Desired],
        kind: Kind,
    ) -> impl Iterator<Item = &'b Desired> + use<'b, '_> {
        resources
            .iter()
            .filter(move |d| d.kind == kind && d.region.as_deref() == Some(self.region))
    }

    /// What the refresh found at `d`'s address.
    fn found(&self, d: &Desired) -> Option<&Observed> {
        self.live.iter().find(|o| o.address == d.address)
    }

    /// What the region needs to run the stack at full size, as it would after a promote.
    fn needs(&self) -> Result<BTreeSet<CapacityNeed>> {
        let mut roles = self.roles.clone();
        for role in roles.values_mut().filter(|r| **r == Role::Primary) {
            *role = Role::Failed;
        }
        roles.insert(self.region.to_string(), Role::Primary);
        let full = self.env.desired(&roles)?;
        let text = |d: &Desired, k: &str| {
            d.attrs
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let mut needs = BTreeSet::new();
        for d in self.here(&full, Kind::LaunchTemplate) {
            needs.insert(CapacityNeed::Image {
                image: text(d, "image"),
            });
            needs.insert(CapacityNeed::InstanceType {
                instance_type: text(d, "instance_type"),
            });
        }
        for d in self.here(&full, Kind::Database) {
            needs.insert(CapacityNeed::DbClass {
                engine: text(d, "engine"),
                version: text(d, "engine_version"),
                class: text(d, "instance_class"),
            });
        }
        Ok(needs)
    }

    /// The image, the instance type and the database class, each available in the region.
    pub async fn capacity(&self) -> Result<Vec<CheckRow>> {
        let mut rows = Vec::new();
        for need in self.needs()? {
            let check = Check::Capacity { need: need.clone() };
            rows.push(match self.provider.capacity(self.region, &need).await {
                Ok(Some(ok)) => present(self.region, check, ok),
                Ok(None) => unknown(
                    self.region,
                    check,
                    Measure::Present(true),
                    Unknown::NotAvailable,
                ),
                Err(e) => unknown(
                    self.region,
                    check,
                    Measure::Present(true),
                    Unknown::ReadFailed(format!("{e:#}")),
                ),
            });
        }
        Ok(rows)
    }

    /// The replica's lag against the RPO; the primary's bucket replicating to the region.
    pub async fn data(&self) -> Vec<CheckRow> {
        let rpo = self.env.spec.service.rpo;
        let mut rows = Vec::new();
        for d in self.here(self.desired, Kind::Database) {
            let check = Check::ReplicaLag {
                database: d.address.clone(),
            };
            // As the promote gate reads it (`dr::promote`).
            rows.push(
                match self.provider.replica_lag(self.region, &d.name).await {
                    Ok(Some(lag)) => at_most(self.region, check, lag, rpo),
                    Ok(None) => unknown(
                        self.region,
                        check,
                        Measure::duration(rpo),
                        Unknown::NoDatapoint,
                    ),
                    Err(e) => unknown(
                        self.region,
                        check,
                        Measure::duration(rpo),
                        Unknown::ReadFailed(format!("{e:#}")),
                    ),
                },
            );
        }
        let to_here = |attrs: &serde_json::Map<String, serde_json::Value>| {
            reads::destinations(attrs).is_ok_and(|ds| ds.iter().any(|x| x.region == self.region))
        };
        for d in self
            .desired
            .iter()
            .filter(|d| d.kind == Kind::BucketReplication && to_here(&d.attrs))
        {
            let found = self.found(d).is_some_and(|o| to_here(&o.attrs));
            let check = Check::BucketReplication {
                replication: d.address.clone(),
            };
            rows.push(present(self.region, check, found));
        }
        rows
    }

    /// The region's failover records in place, and how long DNS takes to fail over to them.
    pub fn traffic(&self) -> Vec<CheckRow> {
        let rto = self.env.spec.service.rto;
        let mut rows = Vec::new();
        let records = self.desired.iter().filter(|d| {
            d.kind == Kind::Record && reads::set_identifier(&d.attrs) == Some(self.region)
        });
        for d in records {
            rows.push(present(
                self.region,
                Check::FailoverRecord {
                    record: d.address.clone(),
                },
                self.found(d).is_some(),
            ));
            // TTL plus failure threshold x request interval (Route 53 Developer Guide,
            // "How Amazon Route 53 determines whether a health check is healthy").
            let ttl = reads::ttl_seconds(&d.attrs);
            let detect = (FAILURE_THRESHOLD * REQUEST_INTERVAL) as u64;
            let check = Check::FailoverTime {
                record: d.address.clone(),
            };
            rows.push(at_most(
                self.region,
                check,
                Duration::from_secs(ttl + detect),
                rto,
            ));
        }
        rows
    }

    /// The region's last drill against `drill_every`, and its measured recovery time.
    pub fn practice(&self, now: SystemTime) -> Vec<CheckRow> {
        let drills: Vec<&HistoryEntry> = self
            .state
            .map(|s| {
                s.history()
                    .iter()
                    .filter(|h| matches!(&h.operation, Operation::Drill { region } if region == self.region))
                    .collect()
            })
            .unwrap_or_default();
        let mut rows = Vec::new();
        if let Some(every) = self.env.spec.service.drill_every {
            let ready = drills
                .iter()
                .rev()
                .find(|h| h.outcome != RunOutcome::Failed);
            let age = ready
                .and_then(|h| humantime::parse_rfc3339_weak(&h.started_at).ok())
                .map(|t| now.duration_since(t).unwrap_or_default());
            rows.push(match age {
                Some(age) => at_most(self.region, Check::LastDrill, age, every),
                None => row(
                    self.region,
                    Check::LastDrill,
                    Verdict::NotReady,
                    Measure::None,
                    Measure::duration(every),
                ),
            });
        }
        if let Some(last) = drills.last() {
            let rto = self.env.spec.service.rto;
            rows.push(match last.details["recovery_time_s"].as_f64() {
                Some(s) => at_most(
                    self.region,
                    Check::DrillRecovery,
                    Duration::from_secs_f64(s),
                    rto,
                ),
                // The drill never got ready.
                None => row(
                    self.region,
                    Check::DrillRecovery,
                    Verdict::NotReady,
                    Measure::None,
                    Measure::duration(rto),
                ),
            });
        }
        rows
    }

    /// The estimated recovery time of promoting the region now (a warm standby), from the
    /// promote plan's critical path, against the RTO.
    pub async fn time(&self) -> Vec<CheckRow> {
        if self.role != Role::WarmStandby {
            return Vec::new();
        }
        let rto = self.env.spec.service.rto;
        let Some(state) = self.state else {
            let why = Unknown::NoPromotePlan(
                "the environment has no state yet: run `standby apply` first".into(),
            );
            return vec![unknown(
                self.region,
                Check::RecoveryEstimate,
                Measure::duration(rto),
                why,
            )];
        };
        let req = PromoteRequest {
            region: self.region.to_string(),
            // The lag has its own row: the estimate is of the promote once allowed.
            accept_data_loss: true,
            ..Default::default()
        };
        vec![
            match plan_promote(self.env, self.provider, state, &req).await {
                Ok(p) => {
                    let estimate = Estimate::of(&p.plan, state, rto);
                    at_most(self.region, Check::RecoveryEstimate, estimate.total, rto)
                }
                Err(e) => unknown(
                    self.region,
                    Check::RecoveryEstimate,
                    Measure::duration(rto),
                    Unknown::NoPromotePlan(format!("{e:#}")),
                ),
            },
        ]
    }
}
