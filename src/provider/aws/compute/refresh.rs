//! Reading a region's clusters in batch: one paginated, tag-filtered describe of groups and
//! one of launch templates (with one read of each template's default version).

use super::*;
use crate::address::Address;
use crate::topology::{TAG_ADDRESS, TAG_ENVIRONMENT, TAG_SERVICE};
use aws_sdk_autoscaling::types::Filter as AsgFilter;
use aws_sdk_ec2::types::Filter as Ec2Filter;

impl Compute {
    pub(crate) async fn refresh(&self, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        let (groups, templates) = tokio::try_join!(self.groups(scope), self.templates(scope))?;
        Ok(groups.into_iter().chain(templates).collect())
    }

    /// `DescribeAutoScalingGroups` filtered by the environment's tags
    /// (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeAutoScalingGroups.html, `tag:<key>`).
    async fn groups(&self, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        let subject = format!("the refresh of {}/{}", scope.service, scope.environment);
        let filter = |k: &str, v: &str| {
            AsgFilter::builder()
                .name(format!("tag:{k}"))
                .values(v)
                .build()
        };
        let _permit = self.limit.acquire().await?;
        let groups: Vec<_> = self
            .asg
            .describe_auto_scaling_groups()
            .filters(filter(TAG_SERVICE, &scope.service))
            .filters(filter(TAG_ENVIRONMENT, &scope.environment))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .op("DescribeAutoScalingGroups", &self.region, &subject)?;
        Ok(groups
            .iter()
            .filter_map(|g| {
                let tag = g.tags().iter().find(|t| t.key() == Some(TAG_ADDRESS));
                let name = g.auto_scaling_group_name()?;
                let address = match tag.and_then(|t| t.value()) {
                    Some(a) => Address::new(a),
                    None if scope.include_unmanaged => {
                        crate::provider::unmanaged_address(Kind::AutoScalingGroup, name)
                    }
                    None => return None,
                };
                Some(self.group_observed(g, address))
            })
            .collect())
    }

    /// `DescribeLaunchTemplates` filtered by the environment's tags, then each template's
    /// default version.
    async fn templates(&self, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        let subject = format!("the refresh of {}/{}", scope.service, scope.environment);
        let filter = |k: &str, v: &str| {
            Ec2Filter::builder()
                .name(format!("tag:{k}"))
                .values(v)
                .build()
        };
        let templates: Vec<_> = {
            let _permit = self.limit.acquire().await?;
            self.ec2
                .describe_launch_templates()
                .filters(filter(TAG_SERVICE, &scope.service))
                .filters(filter(TAG_ENVIRONMENT, &scope.environment))
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .op("DescribeLaunchTemplates", &self.region, &subject)?
        };
        let reads = templates.iter().filter_map(|t| {
            let tag = t.tags().iter().find(|t| t.key() == Some(TAG_ADDRESS));
            let address = match tag.and_then(|t| t.value()) {
                Some(a) => Address::new(a),
                None if scope.include_unmanaged => crate::provider::unmanaged_address(
                    Kind::LaunchTemplate,
                    t.launch_template_id()?,
                ),
                None => return None,
            };
            Some(async move {
                let _permit = self.limit.acquire().await?;
                self.template_observed(t, address).await
            })
        });
        futures::future::try_join_all(reads).await
    }
}
