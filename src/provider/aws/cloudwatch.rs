//! CloudWatch reads for the RPO gate: a read replica's `ReplicaLag`.
//!
//! Invariant: one `GetMetricStatistics` per replica, in the replica's own region only, so
//! a region assumed down is never asked.

use super::error::AwsResultExt;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use std::time::{Duration, SystemTime};

/// How far back the gate looks, as DESIGN.md asks: the maximum over five minutes.
const WINDOW: Duration = Duration::from_secs(300);

pub(crate) struct CloudWatch {
    pub client: aws_sdk_cloudwatch::Client,
    pub region: String,
}

impl CloudWatch {
    /// The largest `ReplicaLag` (seconds) of `identifier` over the last five minutes;
    /// `None` when CloudWatch has no datapoint or replication is not running.
    pub async fn replica_lag(&self, identifier: &str) -> anyhow::Result<Option<Duration>> {
        let now = SystemTime::now();
        let out = self
            .client
            .get_metric_statistics()
            .namespace("AWS/RDS")
            .metric_name("ReplicaLag")
            .dimensions(
                Dimension::builder()
                    .name("DBInstanceIdentifier")
                    .value(identifier)
                    .build(),
            )
            .start_time((now - WINDOW).into())
            // A little past now, so the datapoint of this very minute is in the window.
            .end_time((now + Duration::from_secs(60)).into())
            .period(60)
            .statistics(Statistic::Maximum)
            .statistics(Statistic::Minimum)
            .send()
            .await
            .op(
                "GetMetricStatistics",
                &self.region,
                &format!("the ReplicaLag of {identifier}"),
            )?;
        // -1 means replication is not running (MySQL, MariaDB): the lag is unknown, not 0
        // (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_MySQL.Replication.ReadReplicas.Monitor.html).
        let points = out.datapoints();
        if points
            .iter()
            .any(|d| d.minimum().or(d.maximum()).is_some_and(|v| v < 0.0))
        {
            tracing::warn!(identifier, region = %self.region, "ReplicaLag -1: replication is not running");
            return Ok(None);
        }
        let max = points
            .iter()
            .filter_map(|d| d.maximum())
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        Ok(max.map(Duration::from_secs_f64))
    }
}
