//! The EC2 vCPU quota of standard instances in a region and what already uses it, for
//! `standby check`'s capacity row.

use super::super::error::AwsResultExt;
use super::super::AwsProvider;
use crate::provider::Vcpus;
use aws_sdk_ec2::types::{Filter, InstanceType};
use std::collections::{BTreeMap, BTreeSet};

/// Service Quotas' code of "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z)
/// instances", counted in vCPUs
/// (https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html).
const STANDARD_VCPUS: &str = "L-1216C47A";
const NO_SUCH_QUOTA: &[&str] = &["NoSuchResourceException"];

/// Whether `instance_type` counts against the standard instances quota: its family's first
/// letter is one of A, C, D, H, I, M, R, T, Z.
fn is_standard(instance_type: &str) -> bool {
    instance_type
        .chars()
        .next()
        .is_some_and(|c| "acdhimrtz".contains(c))
}

impl AwsProvider {
    /// The quota (its applied value, else AWS's default), the standard vCPUs pending or
    /// running in `region`, and the vCPUs of each of `types` that counts against it; `None`
    /// when Service Quotas knows no value of the quota.
    pub(in super::super) async fn standard_vcpus(
        &self,
        region: &str,
        types: &BTreeSet<String>,
    ) -> anyhow::Result<Option<Vcpus>> {
        let Some(quota) = self.standard_quota(region).await? else {
            return Ok(None);
        };
        let running = self.running_types(region).await?;
        let mut wanted: BTreeSet<String> = running.keys().cloned().collect();
        wanted.extend(types.iter().cloned());
        let per_type = self.vcpus_of(region, &wanted).await?;
        let running = running
            .iter()
            .filter(|(t, _)| is_standard(t))
            .map(|(t, n)| n * per_type.get(t).copied().unwrap_or(0))
            .sum();
        Ok(Some(Vcpus {
            quota,
            running,
            per_type: per_type
                .into_iter()
                .filter(|(t, _)| types.contains(t) && is_standard(t))
                .collect(),
        }))
    }

    /// `GetServiceQuota`, falling back to `GetAWSDefaultServiceQuota` when the quota has no
    /// applied value, as terraform-provider-aws's `aws_servicequotas_service_quota` does
    /// (https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_GetServiceQuota.html).
    async fn standard_quota(&self, region: &str) -> anyhow::Result<Option<u64>> {
        let client = self.quotas(region);
        let subject = format!("the vCPU quota {STANDARD_VCPUS}");
        let applied = client
            .get_service_quota()
            .service_code("ec2")
            .quota_code(STANDARD_VCPUS)
            .send()
            .await
            .absent_if(NO_SUCH_QUOTA, "GetServiceQuota", region, &subject)?
            .and_then(|o| o.quota().and_then(|q| q.value()));
        if let Some(v) = applied {
            return Ok(Some(v as u64));
        }
        // Emulator workaround (`emulator.rs`, 18): moto lacks GetAWSDefaultServiceQuota.
        if self.emulator.on() {
            return Ok(None);
        }
        let default = client
            .get_aws_default_service_quota()
            .service_code("ec2")
            .quota_code(STANDARD_VCPUS)
            .send()
            .await
            .absent_if(NO_SUCH_QUOTA, "GetAWSDefaultServiceQuota", region, &subject)?
            .and_then(|o| o.quota().and_then(|q| q.value()));
        Ok(default.map(|v| v as u64))
    }

    /// Instances pending or running in `region`, by type: every owner's, since the quota is
    /// the account's.
    async fn running_types(&self, region: &str) -> anyhow::Result<BTreeMap<String, u64>> {
        let ec2 = self.ec2(region);
        let _permit = ec2.limit.acquire().await?;
        let state = Filter::builder()
            .name("instance-state-name")
            .values("pending")
            .values("running")
            .build();
        let reservations: Vec<_> = ec2
            .client
            .describe_instances()
            .filters(state)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .op(
                "DescribeInstances",
                region,
                &"the instances using the vCPU quota",
            )?;
        let mut types = BTreeMap::new();
        for i in reservations.iter().flat_map(|r| r.instances()) {
            if let Some(t) = i.instance_type() {
                *types.entry(t.as_str().to_string()).or_default() += 1;
            }
        }
        Ok(types)
    }

    /// The default vCPUs of each of `types` (`DescribeInstanceTypes`).
    async fn vcpus_of(
        &self,
        region: &str,
        types: &BTreeSet<String>,
    ) -> anyhow::Result<BTreeMap<String, u64>> {
        if types.is_empty() {
            return Ok(BTreeMap::new());
        }
        let ec2 = self.ec2(region);
        let _permit = ec2.limit.acquire().await?;
        let found: Vec<_> = ec2
            .client
            .describe_instance_types()
            .set_instance_types(Some(
                types
                    .iter()
                    .map(|t| InstanceType::from(t.as_str()))
                    .collect(),
            ))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .op(
                "DescribeInstanceTypes",
                region,
                &"the vCPUs of the clusters' instance types",
            )?;
        Ok(found
            .iter()
            .filter_map(|t| {
                let vcpus = t.v_cpu_info()?.default_v_cpus()?;
                Some((t.instance_type()?.as_str().to_string(), vcpus as u64))
            })
            .collect())
    }
}
