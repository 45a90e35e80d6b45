//! CloudWatch rules.

use super::{elements, Call, Clock, Reply, Rule};
use std::collections::HashSet;
use std::time::Instant;

/// A MySQL or MariaDB read replica whose replication is not running reports `ReplicaLag`
/// -1 (`Seconds_Behind_Master` NULL); moto reports nothing. Here a MySQL or MariaDB replica
/// created through the proxy replicates only once a `ReplicaLag` of 0 or more is published
/// for it; until then its `GetMetricStatistics` answers -1. AWS: "If the ReplicaLag metric
/// returns -1, then replication is currently not active"
/// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_MySQL.Replication.ReadReplicas.Monitor.html,
/// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_MariaDB.Replication.ReadReplicas.Monitor.html).
#[derive(Default)]
pub struct NegativeLag {
    stopped: HashSet<String>,
}

impl Rule for NegativeLag {
    fn name(&self) -> &'static str {
        "cloudwatch.negative-lag"
    }

    fn after(&mut self, call: &Call, reply: &mut Reply, _now: Instant, _clock: Clock) -> bool {
        if reply.status != 200 {
            return false;
        }
        match (call.service.as_str(), call.operation.as_str()) {
            ("rds", "CreateDBInstanceReadReplica") => {
                let engine = elements(&reply.body, "Engine").first().copied();
                if matches!(engine, Some("mysql" | "mariadb")) {
                    if let Some(id) = call.param("DBInstanceIdentifier") {
                        self.stopped.insert(id.to_ascii_lowercase());
                    }
                }
                false
            }
            ("monitoring", "PutMetricData") if is_lag(call) => {
                let running = call
                    .param("MetricData.member.1.Value")
                    .and_then(|v| v.parse::<f64>().ok())
                    .is_some_and(|v| v >= 0.0);
                if running {
                    if let Some(id) =
                        instance(call, "MetricData.member.1.Dimensions.member.1.Value")
                    {
                        self.stopped.remove(&id);
                    }
                }
                false
            }
            ("monitoring", "GetMetricStatistics") if is_lag(call) => {
                let Some(id) = instance(call, "Dimensions.member.1.Value") else {
                    return false;
                };
                if !self.stopped.contains(&id) {
                    return false;
                }
                let at = call.param("StartTime").unwrap_or("1970-01-01T00:00:00Z");
                reply.body = negative_lag(&reply.body, at);
                true
            }
            _ => false,
        }
    }
}

fn is_lag(call: &Call) -> bool {
    call.param("MetricName") == Some("ReplicaLag")
        || call.param("MetricData.member.1.MetricName") == Some("ReplicaLag")
}

fn instance(call: &Call, key: &str) -> Option<String> {
    call.param(key).map(str::to_ascii_lowercase)
}

/// The answer with one datapoint of -1 (at `at`) as every statistic, as CloudWatch gives it.
fn negative_lag(body: &str, at: &str) -> String {
    let point = format!(
        "<member><Timestamp>{at}</Timestamp><Maximum>-1.0</Maximum><Minimum>-1.0</Minimum>\
         <Average>-1.0</Average><SampleCount>1.0</SampleCount><Unit>Seconds</Unit></member>"
    );
    match (body.find("<Datapoints>"), body.find("</Datapoints>")) {
        (Some(start), Some(end)) => {
            let mut out = body.to_string();
            out.replace_range(start + "<Datapoints>".len()..end, &point);
            out
        }
        _ => body.replace(
            "<Datapoints/>",
            &format!("<Datapoints>{point}</Datapoints>"),
        ),
    }
}
