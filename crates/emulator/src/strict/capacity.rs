//! Auto Scaling: a region short of capacity (partial launches).

use super::{Call, Clock, Reply, Rule};
use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

/// A region short of instance capacity (or of vCPU quota): Auto Scaling accepts a higher
/// desired capacity, launches what it can and reports each launch it could not make as a
/// `Failed` scaling activity naming the reason, retrying by itself; moto launches every
/// instance at once. Opt-in ([`crate::Proxy::limit_capacity`]): groups in `region` get at
/// most `limit` instances, and `DescribeScalingActivities` shows the failed launch
/// (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ts-as-capacity.html,
/// https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeScalingActivities.html).
pub struct CapacityFailure {
    pub region: String,
    pub limit: u32,
    /// Groups asked for more than the limit: when, and how many.
    short: BTreeMap<String, (SystemTime, u32)>,
}

impl CapacityFailure {
    pub fn new(region: &str, limit: u32) -> CapacityFailure {
        CapacityFailure {
            region: region.to_string(),
            limit,
            short: BTreeMap::new(),
        }
    }
}

impl Rule for CapacityFailure {
    fn name(&self) -> &'static str {
        "autoscaling.capacity-failure"
    }

    fn forward_as(&mut self, call: &Call) -> Option<BTreeMap<String, String>> {
        let resizes = matches!(
            call.operation.as_str(),
            "CreateAutoScalingGroup" | "UpdateAutoScalingGroup"
        );
        if call.service != "autoscaling" || call.region != self.region || !resizes {
            return None;
        }
        let desired: u32 = call.param("DesiredCapacity")?.parse().ok()?;
        if desired <= self.limit {
            return None;
        }
        let group = call.param("AutoScalingGroupName")?.to_string();
        self.short.insert(group, (SystemTime::now(), desired));
        let mut params = call.params.clone();
        let limit = self.limit.to_string();
        params.insert("DesiredCapacity".into(), limit.clone());
        if call.param("MinSize").and_then(|m| m.parse::<u32>().ok()) > Some(self.limit) {
            params.insert("MinSize".into(), limit);
        }
        Some(params)
    }

    fn after(&mut self, call: &Call, reply: &mut Reply, _now: Instant, _clock: Clock) -> bool {
        if call.service != "autoscaling"
            || call.operation != "DescribeScalingActivities"
            || reply.status != 200
        {
            return false;
        }
        let Some(group) = call.param("AutoScalingGroupName") else {
            return false;
        };
        let Some((at, desired)) = self.short.get(group) else {
            return false;
        };
        let started = super::rds_backups::rfc3339(*at);
        let limit = self.limit;
        reply.body = format!(
            r#"<DescribeScalingActivitiesResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><DescribeScalingActivitiesResult><Activities><member><ActivityId>standby-strict-{group}</ActivityId><AutoScalingGroupName>{group}</AutoScalingGroupName><Description>Launching a new EC2 instance.  Status Reason: We currently do not have sufficient capacity in the Availability Zone you requested. Launching EC2 instance failed.</Description><Cause>At {started} a user request update of AutoScalingGroup constraints to min: {limit}, max: {desired}, desired: {desired} changing the desired capacity from {limit} to {desired}.</Cause><StartTime>{started}</StartTime><EndTime>{started}</EndTime><StatusCode>Failed</StatusCode><StatusMessage>We currently do not have sufficient capacity in the Availability Zone you requested (InsufficientInstanceCapacity). Launching EC2 instance failed. (standby strict proxy: autoscaling.capacity-failure)</StatusMessage><Progress>100</Progress></member></Activities></DescribeScalingActivitiesResult><ResponseMetadata><RequestId>standby-strict</RequestId></ResponseMetadata></DescribeScalingActivitiesResponse>"#
        );
        true
    }
}
