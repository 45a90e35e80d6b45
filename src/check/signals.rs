//! The rows read from a standby's live signals: the vCPU quota, the primary's latest
//! restorable time, the database secret's replica, the canary, and target and health-check
//! health.

use super::rows::{at_most, row, unknown, Region};
use super::{Check, CheckRow, Measure, Unknown, Verdict};
use crate::config::Role;
use crate::provider::{BucketAt, Canary};
use crate::topology::{reads, Desired, Kind};
use anyhow::Result;
use std::collections::BTreeSet;
use std::time::SystemTime;

fn verdict(ready: bool) -> Verdict {
    if ready {
        Verdict::Ready
    } else {
        Verdict::NotReady
    }
}

impl Region<'_> {
    /// The vCPUs scaling each cluster to full size adds (instances beyond those in service,
    /// times the vCPUs of their type) against the quota less what runs in the region.
    pub async fn vcpu_quota(&self) -> Result<Vec<CheckRow>> {
        let full = self.promoted()?;
        let mut adds: Vec<(String, u64)> = Vec::new();
        for g in self.here(&full, Kind::AutoScalingGroup) {
            let template = g
                .refs
                .get("launch_template")
                .and_then(|a| full.iter().find(|d| &d.address == a));
            let Some(kind) = template
                .map(|t| reads::instance_type(&t.attrs))
                .filter(|t| !t.is_empty())
            else {
                continue;
            };
            let size = reads::desired_capacity(&g.attrs);
            let running = self
                .live
                .iter()
                .find(|o| o.address == g.address)
                .map_or(0, |o| reads::in_service(&o.computed));
            adds.push((kind.to_string(), size.saturating_sub(running)));
        }
        if adds.is_empty() {
            return Ok(Vec::new());
        }
        let types: BTreeSet<String> = adds.iter().map(|(t, _)| t.clone()).collect();
        let why = match self.provider.vcpus(self.region, &types).await {
            Ok(Some(v)) => {
                let needed = adds
                    .iter()
                    .map(|(t, n)| n * v.per_type.get(t).copied().unwrap_or(0))
                    .sum();
                let available = v.quota.saturating_sub(v.running);
                return Ok(vec![row(
                    self.region,
                    Check::VcpuQuota,
                    verdict(needed <= available),
                    Measure::Count(available),
                    Measure::Count(needed),
                )]);
            }
            Ok(None) => Unknown::NotAvailable,
            Err(e) => Unknown::ReadFailed(format!("{e:#}")),
        };
        Ok(vec![unknown(
            self.region,
            Check::VcpuQuota,
            Measure::None,
            why,
        )])
    }

    /// The age of each primary database's latest restorable time against the RPO.
    pub async fn restorable(&self) -> Vec<CheckRow> {
        let rpo = self.env.spec.service.rpo;
        let Some(primary) = self
            .roles
            .iter()
            .find(|(_, r)| **r == Role::Primary)
            .map(|(n, _)| n.as_str())
        else {
            return Vec::new();
        };
        let writable = self.desired.iter().filter(|d| {
            d.kind == Kind::Database
                && d.region.as_deref() == Some(primary)
                && !reads::is_replica(&d.attrs)
        });
        let mut rows = Vec::new();
        for d in writable {
            let check = Check::LatestRestorable {
                database: d.address.clone(),
            };
            let id = self.found(d).map_or(d.name.as_str(), |o| o.id.as_str());
            rows.push(match self.provider.latest_restorable(primary, id).await {
                Ok(Some(t)) => {
                    let age = SystemTime::now().duration_since(t).unwrap_or_default();
                    at_most(self.region, check, age, rpo)
                }
                Ok(None) => unknown(
                    self.region,
                    check,
                    Measure::duration(rpo),
                    Unknown::NoRestorableTime,
                ),
                Err(e) => unknown(
                    self.region,
                    check,
                    Measure::duration(rpo),
                    Unknown::ReadFailed(format!("{e:#}")),
                ),
            });
        }
        rows
    }

    /// Each database secret replicated to the region, in sync (as the refresh read it).
    pub fn secrets(&self) -> Vec<CheckRow> {
        self.desired
            .iter()
            .filter(|d| {
                d.kind == Kind::DbSecret && reads::replica_regions(&d.attrs).contains(&self.region)
            })
            .map(|d| {
                let in_sync = self
                    .found(d)
                    .is_some_and(|o| reads::replicas_in_sync(&o.computed).contains(&self.region));
                row(
                    self.region,
                    Check::SecretReplica {
                        secret: d.address.clone(),
                    },
                    verdict(in_sync),
                    Measure::InSync(in_sync),
                    Measure::InSync(true),
                )
            })
            .collect()
    }

    /// A canary through each replication to the region that is in place, within the RPO.
    pub async fn canaries(&self) -> Vec<CheckRow> {
        let rpo = self.env.spec.service.rpo;
        let mut rows = Vec::new();
        for d in self
            .desired
            .iter()
            .filter(|d| d.kind == Kind::BucketReplication)
        {
            let (Some(source), Some(found)) = (self.source_of(d), self.found(d)) else {
                continue;
            };
            let destinations = reads::destinations(&found.attrs).unwrap_or_default();
            let Some(bucket) = destinations
                .iter()
                .find(|x| x.region == self.region)
                .map(|x| x.bucket.as_str())
            else {
                continue;
            };
            let replica = BucketAt {
                address: self
                    .here(self.desired, Kind::Bucket)
                    .find(|b| reads::bucket_name(&b.attrs) == Some(bucket))
                    .map_or_else(|| d.address.clone(), |b| b.address.clone()),
                bucket: bucket.to_string(),
                region: self.region.to_string(),
            };
            let check = Check::Canary {
                replication: d.address.clone(),
            };
            let threshold = Measure::duration(rpo);
            rows.push(match self.provider.canary(&source, &replica, rpo).await {
                Ok(Some(Canary::Arrived(after))) => at_most(self.region, check, after, rpo),
                Ok(Some(Canary::NotArrived)) => row(
                    self.region,
                    check,
                    Verdict::NotReady,
                    Measure::None,
                    threshold,
                ),
                Ok(None) => unknown(self.region, check, threshold, Unknown::NotAvailable),
                Err(e) => unknown(
                    self.region,
                    check,
                    threshold,
                    Unknown::ReadFailed(format!("{e:#}")),
                ),
            });
        }
        rows
    }

    /// The bucket a replication copies from, as the refresh found it.
    fn source_of(&self, replication: &Desired) -> Option<BucketAt> {
        let address = replication.refs.get("source")?;
        let o = self.live.iter().find(|o| &o.address == address)?;
        Some(BucketAt {
            address: address.clone(),
            bucket: o.id.clone(),
            region: o.region.clone()?,
        })
    }

    /// A healthy target in each of the region's target groups; each of its health checks
    /// healthy as Route 53 sees it.
    pub async fn health(&self) -> Vec<CheckRow> {
        let mut rows = Vec::new();
        for d in self.here(self.desired, Kind::TargetGroup) {
            let Some(arn) = self
                .found(d)
                .and_then(|o| o.computed.get("arn"))
                .and_then(|v| v.as_str())
            else {
                continue;
            };
            let check = Check::TargetHealth {
                target_group: d.address.clone(),
            };
            let least = Measure::Count(1);
            rows.push(match self.provider.target_health(self.region, arn).await {
                Ok(Some(t)) => row(
                    self.region,
                    check,
                    verdict(t.healthy >= 1),
                    Measure::Count(t.healthy),
                    least,
                ),
                Ok(None) => unknown(self.region, check, least, Unknown::NotAvailable),
                Err(e) => unknown(
                    self.region,
                    check,
                    least,
                    Unknown::ReadFailed(format!("{e:#}")),
                ),
            });
        }
        let checks = self.live.iter().filter(|o| {
            o.kind == Kind::HealthCheck && reads::watched_region(&o.attrs) == Some(self.region)
        });
        for o in checks {
            let check = Check::HealthCheck {
                health_check: o.address.clone(),
            };
            let healthy = Measure::Healthy(true);
            rows.push(match self.provider.health_check_healthy(&o.id).await {
                Ok(Some(ok)) => row(
                    self.region,
                    check,
                    verdict(ok),
                    Measure::Healthy(ok),
                    healthy,
                ),
                Ok(None) => unknown(self.region, check, healthy, Unknown::NotAvailable),
                Err(e) => unknown(
                    self.region,
                    check,
                    healthy,
                    Unknown::ReadFailed(format!("{e:#}")),
                ),
            });
        }
        rows
    }
}
