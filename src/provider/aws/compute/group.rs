//! Auto Scaling groups: created at the role's capacity, changed with one
//! `UpdateAutoScalingGroup`, and waited for until the wanted instances are `InService` and
//! healthy in the group's target group.

use super::super::poll::{self, Pace, Reading};
use super::*;
use crate::address::Address;
use crate::topology::{MIN_HEALTHY_PERCENTAGE, TAG_ADDRESS};
use aws_sdk_autoscaling::types::{
    AutoScalingGroup, LaunchTemplateSpecification, LifecycleState, Tag,
};
use aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

/// Where a group keeps the minimum healthy percentage of its instance refreshes (a setting
/// of each refresh, not of the group: https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html).
pub(super) const TAG_MIN_HEALTHY: &str = "standby:min-healthy-percentage";

/// Where a group keeps what its instances run (the instance type and image its last
/// instance refresh rolled out): moto names no launch template version per instance, and a
/// refresh that did not finish shows as a change again, so the next apply resumes it.
const TAG_LAUNCH: [(&str, &str); 2] = [
    ("instance_type", "standby:instance-type"),
    ("image", "standby:image"),
];

/// Seconds a new instance has before the load balancer's health checks count
/// (https://docs.aws.amazon.com/autoscaling/ec2/userguide/health-check-grace-period.html).
const GRACE_PERIOD: i32 = 300;

/// Group names `DescribeAutoScalingGroups` takes at once by default.
const NAMES_A_CALL: usize = 50;

impl Compute {
    pub(super) async fn create_group(&self, d: &Desired, refs: &Refs) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let name = str_attr(d, "name")?;
        let target_group = refs.get("target_group").map(|o| o.id.clone());
        let since = SystemTime::now();
        let created = self
            .asg
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_template(template_spec(ref_id(d, refs, "launch_template")?))
            .min_size(int_attr(d, "min")?)
            .max_size(int_attr(d, "max")?)
            .desired_capacity(int_attr(d, "desired")?)
            .vpc_zone_identifier(subnets(refs))
            .set_target_group_arns(target_group.clone().map(|t| vec![t]))
            .set_health_check_type(target_group.as_ref().map(|_| "ELB".to_string()))
            .set_health_check_grace_period(target_group.as_ref().map(|_| GRACE_PERIOD))
            .set_tags(Some(group_tags(d, name, true)?))
            .send()
            .await;
        match created {
            Ok(_) => {}
            // An interrupted apply made it: adopt it and bring it to the spec.
            Err(e) if error::code(&e) == Some("AlreadyExists") => {
                let current = self
                    .describe_group(name, a)
                    .await?
                    .ok_or_else(|| anyhow!("{a}: group {name} in {r} exists but cannot be read"))?;
                let current = self.group_observed(&current, a.clone());
                return self.update_group(d, &current, refs).await;
            }
            Err(e) => return Err(error::failure("CreateAutoScalingGroup", r, a, &e)),
        }
        self.wait_capacity(d, target_group.as_deref(), since).await
    }

    /// One `UpdateAutoScalingGroup` for capacity, template and subnets; the target group
    /// attached when it is new; tags kept in step; then the wait for the capacity; and when
    /// the instance type or image changed, an instance refresh (never a terminate-all).
    pub(super) async fn update_group(
        &self,
        d: &Desired,
        current: &Observed,
        refs: &Refs,
    ) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let name = current.id.as_str();
        let since = SystemTime::now();
        self.asg
            .update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_template(template_spec(ref_id(d, refs, "launch_template")?))
            .min_size(int_attr(d, "min")?)
            .max_size(int_attr(d, "max")?)
            .desired_capacity(int_attr(d, "desired")?)
            .vpc_zone_identifier(subnets(refs))
            .send()
            .await
            .op("UpdateAutoScalingGroup", r, a)?;
        let target_group = refs.get("target_group").map(|o| o.id.clone());
        let attached = current.computed.get("target_group_arns");
        if let Some(tg) = &target_group {
            let known = attached
                .and_then(Value::as_array)
                .is_some_and(|l| l.iter().any(|v| v.as_str() == Some(tg)));
            if !known {
                self.asg
                    .attach_load_balancer_target_groups()
                    .auto_scaling_group_name(name)
                    .target_group_arns(tg)
                    .send()
                    .await
                    .op("AttachLoadBalancerTargetGroups", r, a)?;
            }
        }
        self.asg
            .create_or_update_tags()
            .set_tags(Some(group_tags(d, name, false)?))
            .send()
            .await
            .op("CreateOrUpdateTags", r, a)?;
        let removed = tags::removed(d, current);
        if !removed.is_empty() {
            let keys = removed
                .iter()
                .map(|k| group_tag(name, k, "", false))
                .collect::<Result<Vec<_>, _>>()?;
            self.asg
                .delete_tags()
                .set_tags(Some(keys))
                .send()
                .await
                .op("DeleteTags", r, a)?;
        }
        let mut o = self
            .wait_capacity(d, target_group.as_deref(), since)
            .await?;
        let relaunch = TAG_LAUNCH
            .iter()
            .any(|(k, _)| current.attrs.get(*k) != d.attrs.get(*k));
        if relaunch {
            // Instances launched just now (from none) already run the new launch.
            let ran = current.attrs.get("desired").and_then(Value::as_i64) > Some(0);
            if ran && int_attr(d, "desired")? > 0 {
                self.refresh_instances(d, name).await?;
            }
            self.asg
                .create_or_update_tags()
                .set_tags(Some(launch_tags(d, name)?))
                .send()
                .await
                .op("CreateOrUpdateTags", r, a)?;
            for (k, _) in TAG_LAUNCH {
                o.attrs
                    .insert(k.into(), d.attrs.get(k).cloned().unwrap_or_default());
            }
        }
        Ok(o)
    }

    /// Drains the group to 0 and waits for its instances to go (as the Terraform provider
    /// does before deleting a group: internal/service/autoscaling/group.go, `drainGroup`),
    /// so its subnets and security group can follow; then deletes it and waits until it is
    /// gone.
    pub(super) async fn delete_group(&self, current: &Observed) -> anyhow::Result<()> {
        let (r, a, name) = (self.region.as_str(), &current.address, current.id.as_str());
        let drained = self
            .asg
            .update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .min_size(0)
            .max_size(0)
            .desired_capacity(0)
            .send()
            .await;
        if let Err(e) = drained {
            if error::describe(&e).contains("not found") {
                return Ok(());
            }
            return Err(error::failure("UpdateAutoScalingGroup", r, a, &e));
        }
        poll::until(
            Pace::instance(self.emulator),
            "instances drained",
            r,
            a,
            || async {
                match self.read_group(name).await? {
                    Reading::Ready(Some(g)) if !g.instances().is_empty() => Ok(Reading::NotYet(
                        format!("{} instances", g.instances().len()),
                    )),
                    Reading::NotYet(why) => Ok(Reading::NotYet(why)),
                    Reading::Ready(_) => Ok(Reading::Ready(())),
                }
            },
        )
        .await?;
        let deleted = self
            .asg
            .delete_auto_scaling_group()
            .auto_scaling_group_name(name)
            .force_delete(true)
            .send()
            .await;
        if let Err(e) = deleted {
            if !error::describe(&e).contains("not found") {
                return Err(error::failure("DeleteAutoScalingGroup", r, a, &e));
            }
        }
        // The group is listed (`Delete in progress`) until its instances have terminated.
        poll::until(
            Pace::instance(self.emulator),
            "group deleted",
            r,
            a,
            || async {
                match self.read_group(name).await? {
                    Reading::Ready(None) => Ok(Reading::Ready(())),
                    Reading::Ready(Some(g)) => {
                        Ok(Reading::NotYet(g.status().unwrap_or("listed").to_string()))
                    }
                    Reading::NotYet(why) => Ok(Reading::NotYet(why)),
                }
            },
        )
        .await
    }

    /// Waits until the group has exactly `desired` instances, all `InService` and healthy,
    /// and healthy in `target_group` when it has one; returns the group as observed. A
    /// launch that failed since `since` (capacity, a vCPU limit) ends the wait with its cause.
    async fn wait_capacity(
        &self,
        d: &Desired,
        target_group: Option<&str>,
        since: SystemTime,
    ) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let name = str_attr(d, "name")?;
        let want = int_attr(d, "desired")? as usize;
        let what = format!("{want} instances in service");
        let failures = AtomicU32::new(0);
        let failures = &failures;
        poll::until(Pace::instance(self.emulator), &what, r, a, || async {
            let g = match self.read_group(name).await? {
                Reading::Ready(Some(g)) => g,
                Reading::Ready(None) => return Ok(Reading::NotYet("not listed".into())),
                Reading::NotYet(why) => return Ok(Reading::NotYet(why)),
            };
            let in_service = in_service(&g);
            if g.instances().len() != want || in_service != want {
                let cause = self.failed_launch(name, since, a).await?;
                // Auto Scaling retries a failed launch (in another zone too): a failure read
                // twice in a row is no passing shortage.
                let seen = match cause {
                    Some(_) => failures.fetch_add(1, Ordering::Relaxed) + 1,
                    None => {
                        failures.store(0, Ordering::Relaxed);
                        0
                    }
                };
                if let (Some(cause), 2..) = (cause, seen) {
                    bail!(
                        "{a}: group {name} in {r} has {in_service} of {want} instances in service: \
                         a launch failed (DescribeScalingActivities: {cause}); Auto Scaling keeps \
                         retrying: request more capacity or vCPU quota, or set another instance \
                         type for {r} in a region override, then run the command again"
                    );
                }
                let now = format!("{in_service} of {} in service", g.instances().len());
                return Ok(Reading::NotYet(now));
            }
            if let Some(tg) = target_group {
                let healthy = self.healthy_targets(tg, a).await?;
                if healthy < want {
                    return Ok(Reading::NotYet(format!("{healthy} healthy targets")));
                }
            }
            Ok(Reading::Ready(self.group_observed(&g, a.clone())))
        })
        .await
    }

    /// Targets `healthy` in the target group `arn`: one call per target group, which is all
    /// `DescribeTargetHealth` takes (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTargetHealth.html).
    async fn healthy_targets(&self, arn: &str, a: &Address) -> anyhow::Result<usize> {
        let out = self
            .elb
            .describe_target_health()
            .target_group_arn(arn)
            .send()
            .await
            .op("DescribeTargetHealth", &self.region, a)?;
        Ok(out
            .target_health_descriptions()
            .iter()
            .filter(|t| {
                t.target_health().and_then(|h| h.state()) == Some(&TargetHealthStateEnum::Healthy)
            })
            .count())
    }

    /// Group `name` as one `DescribeAutoScalingGroups` of every group of the region waited
    /// for at this time read it; a name it does not list is `None` (no error: up to 50 names
    /// a call, https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeAutoScalingGroups.html).
    async fn read_group(&self, name: &str) -> anyhow::Result<Reading<Option<AutoScalingGroup>>> {
        let (client, region) = (self.asg.clone(), self.region.clone());
        self.waits
            .read(name, move |names| async move {
                let subject = format!("the groups {} waited for", names.join(", "));
                let reads = names.chunks(NAMES_A_CALL).map(|chunk| {
                    client
                        .describe_auto_scaling_groups()
                        .set_auto_scaling_group_names(Some(chunk.to_vec()))
                        .into_paginator()
                        .items()
                        .send()
                        .try_collect()
                });
                match futures::future::try_join_all(reads).await {
                    Ok(listed) => Ok(Reading::Ready(
                        listed
                            .into_iter()
                            .flatten()
                            .filter_map(|g| Some((g.auto_scaling_group_name()?.to_string(), g)))
                            .collect(),
                    )),
                    Err(e) => poll::soft(e, &[], "DescribeAutoScalingGroups", &region, &subject),
                }
            })
            .await
    }

    pub(super) async fn describe_group(
        &self,
        name: &str,
        a: &Address,
    ) -> anyhow::Result<Option<AutoScalingGroup>> {
        let out = self
            .asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .op("DescribeAutoScalingGroups", &self.region, a)?;
        Ok(out.auto_scaling_groups().first().cloned())
    }

    /// A group as `Observed` at `address`.
    pub(super) fn group_observed(&self, g: &AutoScalingGroup, address: Address) -> Observed {
        let tag = |key: &str| {
            g.tags()
                .iter()
                .find(|t| t.key() == Some(key))
                .and_then(|t| t.value())
        };
        let min_healthy = tag(TAG_MIN_HEALTHY)
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(MIN_HEALTHY_PERCENTAGE);
        let mut o = Observed {
            address,
            kind: Kind::AutoScalingGroup,
            region: Some(self.region.clone()),
            id: g.auto_scaling_group_name().unwrap_or_default().to_string(),
            attrs: map([
                ("name", json!(g.auto_scaling_group_name())),
                ("desired", json!(g.desired_capacity())),
                ("min", json!(g.min_size())),
                ("max", json!(g.max_size())),
                ("min_healthy_percentage", json!(min_healthy)),
                ("instance_type", json!(tag(TAG_LAUNCH[0].1))),
                ("image", json!(tag(TAG_LAUNCH[1].1))),
            ]),
            computed: map([
                ("arn", json!(g.auto_scaling_group_arn())),
                ("in_service", json!(in_service(g))),
                ("target_group_arns", json!(g.target_group_arns())),
                (
                    "launch_template_id",
                    json!(g.launch_template().and_then(|t| t.launch_template_id())),
                ),
            ]),
            depends_on: Vec::new(),
        };
        let pairs = g
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())));
        tags::observe(&mut o, pairs);
        o
    }
}

/// Instances `InService` and `Healthy`.
pub(super) fn in_service(g: &AutoScalingGroup) -> usize {
    g.instances()
        .iter()
        .filter(|i| i.lifecycle_state() == Some(&LifecycleState::InService))
        .filter(|i| {
            i.health_status()
                .is_none_or(|h| h.eq_ignore_ascii_case("healthy"))
        })
        .count()
}

fn template_spec(id: &str) -> LaunchTemplateSpecification {
    LaunchTemplateSpecification::builder()
        .launch_template_id(id)
        .version(DEFAULT_VERSION)
        .build()
}

/// The region's subnets, comma-separated (`VPCZoneIdentifier`).
fn subnets(refs: &Refs) -> String {
    refs.iter()
        .filter(|(k, _)| k.starts_with("subnet."))
        .map(|(_, o)| o.id.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The group's tags: every desired tag propagated to its instances except the address (an
/// instance is not a resource of its own), the refresh setting, and with `launch` what its
/// instances run.
fn group_tags(d: &Desired, name: &str, launch: bool) -> anyhow::Result<Vec<Tag>> {
    let min_healthy = d
        .attrs
        .get("min_healthy_percentage")
        .and_then(Value::as_u64)
        .unwrap_or(u64::from(MIN_HEALTHY_PERCENTAGE))
        .to_string();
    let mut tags = d
        .tags
        .iter()
        .map(|(k, v)| group_tag(name, k, v, k != TAG_ADDRESS))
        .collect::<Result<Vec<_>, _>>()?;
    tags.push(group_tag(name, TAG_MIN_HEALTHY, &min_healthy, false)?);
    if launch {
        tags.extend(launch_tags(d, name)?);
    }
    Ok(tags)
}

/// What the group's instances run, as its tags.
fn launch_tags(d: &Desired, name: &str) -> anyhow::Result<Vec<Tag>> {
    TAG_LAUNCH
        .iter()
        .map(|(attr, key)| Ok(group_tag(name, key, str_attr(d, attr)?, false)?))
        .collect()
}

fn group_tag(
    group: &str,
    key: &str,
    value: &str,
    propagate: bool,
) -> Result<Tag, aws_sdk_autoscaling::error::BuildError> {
    Ok(Tag::builder()
        .resource_id(group)
        .resource_type("auto-scaling-group")
        .key(key)
        .value(value)
        .propagate_at_launch(propagate)
        .build())
}
