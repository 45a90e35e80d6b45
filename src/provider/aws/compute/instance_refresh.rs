//! Replacing a group's instances without downtime: an instance refresh that keeps
//! `min_healthy_percentage` of the group healthy, waited for until it succeeds; and the
//! failed launches that end a wait for capacity early.
//!
//! moto 5.2.5 has neither `StartInstanceRefresh` nor `DescribeInstanceRefreshes`, and lists
//! no scaling activities: the test proxy's strict mode models them
//! (`autoscaling.instance-refresh`, `autoscaling.insufficient-capacity`); against moto alone
//! a change of instance type or image stops at `StartInstanceRefresh` (`emulator.rs`, 16).

use super::super::emulator;
use super::super::poll::{self, Pace, Reading};
use super::*;
use crate::address::Address;
use aws_sdk_autoscaling::types::{
    InstanceRefreshStatus as Status, RefreshPreferences, RefreshStrategy, ScalingActivityStatusCode,
};
use std::time::{Duration, SystemTime};

/// AWS's clock and ours may differ: a failed launch counts from this long before the change.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

impl Compute {
    /// Starts an instance refresh of group `name` with the spec's minimum healthy percentage
    /// and waits until it succeeded. A refresh an interrupted apply left running is waited
    /// for first (a group runs one at a time: `InstanceRefreshInProgress`).
    /// AWS: https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_StartInstanceRefresh.html;
    /// the Terraform provider starts one the same way on a launch template change
    /// (internal/service/autoscaling/group.go, `expandStartInstanceRefreshInput`).
    pub(super) async fn refresh_instances(&self, d: &Desired, name: &str) -> anyhow::Result<()> {
        let (r, a) = (self.region.as_str(), &d.address);
        let min = int_attr(d, "min_healthy_percentage")?;
        // Launch replacements ahead of terminations: the maximum may exceed the minimum by
        // up to 100 points, and is at most 200 (API_RefreshPreferences.html).
        let max = (min + 100).min(200);
        let preferences = RefreshPreferences::builder()
            .min_healthy_percentage(min)
            .max_healthy_percentage(max)
            .build();
        let mut waited = false;
        let id = loop {
            let started = self
                .asg
                .start_instance_refresh()
                .auto_scaling_group_name(name)
                .strategy(RefreshStrategy::Rolling)
                .preferences(preferences.clone())
                // Emulator workaround (`emulator.rs`, 16): moto lacks the operation.
                .customize()
                .config_override(self.emulator.asg_no_retries())
                .send()
                .await;
            match started {
                Ok(out) => break out.instance_refresh_id().unwrap_or_default().to_string(),
                Err(e) if !waited && error::code(&e) == Some("InstanceRefreshInProgress") => {
                    self.wait_refresh(name, None, a).await?;
                    waited = true;
                }
                // Emulator workaround (`emulator.rs`, 16): moto lacks the operation.
                Err(e) if self.emulator.on() && emulator::not_implemented(&e) => bail!(
                    "{a}: StartInstanceRefresh in {r}: the emulator has no instance refreshes; \
                     change the instance type or image against AWS, or through the test \
                     proxy's strict mode"
                ),
                Err(e) => return Err(error::failure("StartInstanceRefresh", r, a, &e)),
            }
        };
        self.wait_refresh(name, Some(&id), a).await
    }

    /// Waits until the refresh `id` of group `name` (without `id`: its latest) has ended;
    /// an end other than `Successful` is an error naming why.
    async fn wait_refresh(&self, name: &str, id: Option<&str>, a: &Address) -> anyhow::Result<()> {
        let r = self.region.as_str();
        poll::until(
            Pace::instance(self.emulator),
            "instance refresh successful",
            r,
            a,
            || async {
                let out = self
                    .asg
                    .describe_instance_refreshes()
                    .auto_scaling_group_name(name)
                    .set_instance_refresh_ids(id.map(|i| vec![i.to_string()]))
                    .send()
                    .await
                    .op("DescribeInstanceRefreshes", r, a)?;
                // Listed newest first (API_DescribeInstanceRefreshes.html).
                let Some(refresh) = out.instance_refreshes().first() else {
                    return Ok(Reading::Ready(()));
                };
                let percent = refresh.percentage_complete().unwrap_or(0);
                match refresh.status() {
                    Some(Status::Successful) => Ok(Reading::Ready(())),
                    Some(
                        s @ (Status::Failed
                        | Status::Cancelled
                        | Status::RollbackFailed
                        | Status::RollbackSuccessful),
                    ) => Err(anyhow!(
                        "{a}: the instance refresh of group {name} in {r} ended {} ({}): \
                     DescribeInstanceRefreshes shows why; fix the cause (often a new instance \
                     failing its health checks) and apply again",
                        s.as_str(),
                        refresh.status_reason().unwrap_or("no reason given")
                    )),
                    s => Ok(Reading::NotYet(format!(
                        "{} {percent}%",
                        s.map_or("unknown", |s| s.as_str())
                    ))),
                }
            },
        )
        .await
    }

    /// The cause of a launch that failed for group `name` since `since`, when its latest
    /// scaling activity is one: Auto Scaling keeps retrying, but capacity or a vCPU limit
    /// rarely comes back within a wait. AWS: https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_Activity.html,
    /// https://docs.aws.amazon.com/autoscaling/ec2/userguide/ts-as-capacity.html.
    pub(super) async fn failed_launch(
        &self,
        name: &str,
        since: SystemTime,
        a: &Address,
    ) -> anyhow::Result<Option<String>> {
        let out = self
            .asg
            .describe_scaling_activities()
            .auto_scaling_group_name(name)
            .max_records(1)
            .send()
            .await
            .op("DescribeScalingActivities", &self.region, a)?;
        let Some(latest) = out.activities().first() else {
            return Ok(None);
        };
        let after = latest
            .start_time()
            .and_then(|t| SystemTime::try_from(*t).ok())
            .is_some_and(|t| t + CLOCK_SKEW >= since);
        let failed = latest.status_code() == Some(&ScalingActivityStatusCode::Failed);
        Ok((after && failed).then(|| {
            latest
                .status_message()
                .or(latest.description())
                .unwrap_or("no reason given")
                .to_string()
        }))
    }
}
