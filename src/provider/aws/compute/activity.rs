//! A scale-up AWS cannot complete: Auto Scaling keeps retrying a launch short of instance
//! capacity or vCPU quota, and reports each attempt as a `Failed` scaling activity with the
//! reason (`InsufficientInstanceCapacity`, `VcpuLimitExceeded` ...). A wait for capacity
//! stops at the first such activity instead of waiting out its maximum, as the Terraform
//! provider does unless `ignore_failed_scaling_activities` (internal/service/autoscaling/
//! group.go, `waitGroupCapacitySatisfied`; https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeScalingActivities.html).

use super::super::error::AwsResultExt;
use super::Compute;
use crate::address::Address;
use aws_sdk_autoscaling::types::ScalingActivityStatusCode;
use std::time::{Duration, SystemTime};

/// How far before the wait began an activity may have started and still be this change's:
/// the client's clock and AWS's may differ.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

impl Compute {
    /// The status message of the newest activity of group `name` that failed since `since`
    /// (less the clock skew), if any.
    pub(super) async fn failed_activity(
        &self,
        name: &str,
        a: &Address,
        since: SystemTime,
    ) -> anyhow::Result<Option<String>> {
        let since = aws_smithy_types::DateTime::from(since - CLOCK_SKEW);
        let out = self
            .asg
            .describe_scaling_activities()
            .auto_scaling_group_name(name)
            .max_records(10)
            .send()
            .await
            .op("DescribeScalingActivities", &self.region, a)?;
        // Newest first (the API's order).
        Ok(out
            .activities()
            .iter()
            .filter(|act| act.start_time().is_some_and(|t| t.secs() >= since.secs()))
            .find(|act| act.status_code() == Some(&ScalingActivityStatusCode::Failed))
            .map(|act| {
                act.status_message()
                    .or(act.description())
                    .unwrap_or("no message")
                    .to_string()
            }))
    }
}
