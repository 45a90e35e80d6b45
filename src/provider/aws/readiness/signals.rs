//! What `standby check` reads of a standby's data and traffic: the primary's latest
//! restorable time, a target group's target health, a Route 53 health check's status.

use super::super::error::AwsResultExt;
use super::super::AwsProvider;
use crate::provider::TargetHealth;
use aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum;
use std::time::SystemTime;

const DB_NOT_FOUND: &[&str] = &["DBInstanceNotFound", "DBInstanceNotFoundFault"];
/// Route 53 considers an endpoint healthy when more than 18% of its health checkers do
/// (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html).
const HEALTHY_SHARE: f64 = 0.18;

impl AwsProvider {
    /// `LatestRestorableTime` of the database `identifier`
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstance.html);
    /// `None` when it does not exist or has none (backups off).
    pub(in super::super) async fn restorable_time(
        &self,
        region: &str,
        identifier: &str,
    ) -> anyhow::Result<Option<SystemTime>> {
        let rds = self.rds(region);
        let _permit = rds.limit.acquire().await?;
        let out = rds
            .client
            .describe_db_instances()
            .db_instance_identifier(identifier)
            .send()
            .await
            .absent_if(
                DB_NOT_FOUND,
                "DescribeDBInstances",
                region,
                &format!("the latest restorable time of {identifier}"),
            )?;
        Ok(out
            .as_ref()
            .and_then(|o| o.db_instances().first())
            .and_then(|db| db.latest_restorable_time())
            .and_then(|t| SystemTime::try_from(*t).ok()))
    }

    /// The targets of the target group `arn` and how many are `healthy`
    /// (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTargetHealth.html).
    pub(in super::super) async fn targets(
        &self,
        region: &str,
        arn: &str,
    ) -> anyhow::Result<TargetHealth> {
        let out = self
            .elb_client(region)
            .0
            .describe_target_health()
            .target_group_arn(arn)
            .send()
            .await
            .op(
                "DescribeTargetHealth",
                region,
                &format!("the targets of {arn}"),
            )?;
        let all = out.target_health_descriptions();
        let healthy = all
            .iter()
            .filter(|t| {
                t.target_health().and_then(|h| h.state()) == Some(&TargetHealthStateEnum::Healthy)
            })
            .count();
        Ok(TargetHealth {
            healthy: healthy as u64,
            registered: all.len() as u64,
        })
    }

    /// Whether more than 18% of the health checkers of `id` report it healthy
    /// (`GetHealthCheckStatus`: a checker's report starts with `Success`).
    pub(in super::super) async fn health_check_status(&self, id: &str) -> anyhow::Result<bool> {
        let route53 = self.route53();
        let out = {
            let _slot = route53.permit().await?;
            route53
                .client
                .get_health_check_status()
                .health_check_id(id)
                .send()
                .await
                .op(
                    "GetHealthCheckStatus",
                    "us-east-1",
                    &format!("health check {id}"),
                )?
        };
        let reports = out.health_check_observations();
        let healthy = reports
            .iter()
            .filter(|o| {
                o.status_report()
                    .and_then(|r| r.status())
                    .is_some_and(|s| s.starts_with("Success"))
            })
            .count();
        Ok(!reports.is_empty() && healthy as f64 > HEALTHY_SHARE * reports.len() as f64)
    }
}
