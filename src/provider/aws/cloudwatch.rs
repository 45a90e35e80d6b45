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
    /// `None` when CloudWatch has no datapoint.
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
            .send()
            .await
            .op(
                "GetMetricStatistics",
                &self.region,
                &format!("the ReplicaLag of {identifier}"),
            )?;
        let max = out
            .datapoints()
            .iter()
            .filter_map(|d| d.maximum())
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        Ok(max.map(|secs| Duration::from_secs_f64(secs.max(0.0))))
    }
}
