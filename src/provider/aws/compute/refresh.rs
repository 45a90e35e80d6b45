//! Reading a region's clusters in batch, in one round: one paginated, tag-filtered describe
//! of groups and one of launch templates, beside one listing of every template's default
//! version.

use super::*;
use crate::address::Address;
use crate::topology::{TAG_ADDRESS, TAG_ENVIRONMENT, TAG_SERVICE};
use aws_sdk_autoscaling::types::Filter as AsgFilter;
use aws_sdk_ec2::types::Filter as Ec2Filter;
use std::collections::BTreeMap;

impl Compute {
    pub(crate) async fn refresh(&self, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        let (mut groups, templates) = tokio::try_join!(self.groups(scope), self.templates(scope))?;
        for g in &mut groups {
            launched_from(g, &templates);
        }
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

    /// `DescribeLaunchTemplates` filtered by the environment's tags and every template's
    /// default version, at once where the caller knows of a template (the listing of
    /// versions needs no template).
    async fn templates(&self, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        let subject = format!("the refresh of {}/{}", scope.service, scope.environment);
        let filter = |k: &str, v: &str| {
            Ec2Filter::builder()
                .name(format!("tag:{k}"))
                .values(v)
                .build()
        };
        let listed = async {
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
                .op("DescribeLaunchTemplates", &self.region, &subject)
        };
        // Every template's default version in one listing: `$Default` without a template
        // (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeLaunchTemplateVersions.html).
        let versions = async {
            let _permit = self.limit.acquire().await?;
            self.ec2
                .describe_launch_template_versions()
                .versions(DEFAULT_VERSION)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .op("DescribeLaunchTemplateVersions", &self.region, &subject)
        };
        // Emulator workaround (`emulator.rs`, 13): moto's template tags are stale.
        let live_tags = async {
            if !self.emulator.on() {
                return Ok(BTreeMap::new());
            }
            let (r, s) = (self.region.as_str(), &subject);
            super::super::emulator::launch_template_tags(&self.ec2, None, r, s).await
        };
        // Where the caller knows of no template, the versions are read only when the listing
        // finds one (a round more, a request less per region without clusters).
        let expected = scope
            .known
            .iter()
            .any(|k| k.kind == Kind::LaunchTemplate && k.region.as_deref() == Some(&self.region));
        let (templates, versions, mut current): (Vec<_>, Vec<_>, _) = if expected {
            tokio::try_join!(listed, versions, live_tags)?
        } else {
            let templates = listed.await?;
            if templates.is_empty() {
                return Ok(Vec::new());
            }
            let (versions, current) = tokio::try_join!(versions, live_tags)?;
            (templates, versions, current)
        };
        Ok(templates
            .iter()
            .filter_map(|t| {
                let id = t.launch_template_id()?;
                let live = current.remove(id).unwrap_or_else(|| template::own_tags(t));
                let tag = live.iter().find(|(k, _)| k == TAG_ADDRESS);
                let address = match tag {
                    Some((_, a)) => Address::new(a.clone()),
                    None if scope.include_unmanaged => {
                        crate::provider::unmanaged_address(Kind::LaunchTemplate, id)
                    }
                    None => return None,
                };
                let data = versions
                    .iter()
                    .find(|v| v.launch_template_id() == Some(id))
                    .and_then(|v| v.launch_template_data());
                Some(self.template_observed(t, address, data, &live))
            })
            .collect())
    }
}

/// A group that does not say what its instances run (made before it kept that in its tags)
/// runs its launch template's default version.
fn launched_from(group: &mut Observed, templates: &[Observed]) {
    if group
        .attrs
        .get("instance_type")
        .is_some_and(|v| !v.is_null())
    {
        return;
    }
    let id = group
        .computed
        .get("launch_template_id")
        .and_then(Value::as_str);
    let Some(t) = templates.iter().find(|t| Some(t.id.as_str()) == id) else {
        return;
    };
    for k in ["instance_type", "image"] {
        if let Some(v) = t.attrs.get(k) {
            group.attrs.insert(k.into(), v.clone());
        }
    }
}
