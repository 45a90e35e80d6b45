//! Test support: readers (and two small writers) of what the emulator holds, shared by the
//! emulator tests: clients the `Emulator` has no method for, the environment's instances by
//! tag, the failover records of the `example.com` zone, bucket versioning and replication,
//! databases and their replicas, and a `ReplicaLag` datapoint.
//!
//! Invariant: helpers only fetch and shape data through the given `Emulator` (or client);
//! they never assert about the environment, so each test keeps its own assertions. Writers
//! (`set_versioning`) change exactly the one setting they name.

use std::collections::BTreeMap;

use super::Emulator;

/// The environment every emulator test applies.
pub const ENVIRONMENT: &str = "prod";

pub async fn rds(emulator: &Emulator, region: &str) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(&emulator.sdk_config(region).await)
}

pub async fn secrets(emulator: &Emulator, region: &str) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&emulator.sdk_config(region).await)
}

/// The text of the secret `name` in `region`; `None` when it does not exist there.
pub async fn secret_value(emulator: &Emulator, region: &str, name: &str) -> Option<String> {
    let out = secrets(emulator, region)
        .await
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .ok()?;
    out.secret_string().map(str::to_string)
}

/// Route 53 is global: its client is signed for `us-east-1`.
pub async fn route53(emulator: &Emulator) -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::new(&emulator.sdk_config("us-east-1").await)
}

pub async fn cloudwatch(emulator: &Emulator, region: &str) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(&emulator.sdk_config(region).await)
}

/// An EC2 filter on the tag `key` equal to `value`.
pub fn tag_filter(key: &str, value: impl Into<String>) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name(format!("tag:{key}"))
        .values(value)
        .build()
}

/// An EC2 filter on instances in any of `states` (`pending`, `running`, ...).
pub fn state_filter(states: &[&str]) -> aws_sdk_ec2::types::Filter {
    states
        .iter()
        .fold(
            aws_sdk_ec2::types::Filter::builder().name("instance-state-name"),
            |b, s| b.values(*s),
        )
        .build()
}

/// The instances of the environment (`standby:environment` = `prod`) in `region` whose state
/// is one of `states`.
pub async fn environment_instances(
    emulator: &Emulator,
    region: &str,
    states: &[&str],
) -> Vec<aws_sdk_ec2::types::Instance> {
    let out = emulator
        .ec2(region)
        .await
        .describe_instances()
        .filters(tag_filter("standby:environment", ENVIRONMENT))
        .filters(state_filter(states))
        .send()
        .await
        .unwrap();
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .cloned()
        .collect()
}

/// Live (pending or running) instances of the environment in `region`, per the address of
/// the Auto Scaling group that runs them (`region.<r>.cluster.web.group`), else per their own
/// `standby:address`; instances with neither are listed under `untagged`.
pub async fn live_instances_by_address(
    emulator: &Emulator,
    region: &str,
) -> BTreeMap<String, Vec<String>> {
    let groups = autoscaling(emulator, region)
        .await
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap();
    let group_address: BTreeMap<&str, &str> = groups
        .auto_scaling_groups()
        .iter()
        .filter_map(|g| {
            let address = g
                .tags()
                .iter()
                .find(|t| t.key() == Some("standby:address"))?;
            Some((g.auto_scaling_group_name()?, address.value()?))
        })
        .collect();
    let mut by_address: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in environment_instances(emulator, region, &["pending", "running"]).await {
        let tag = |k: &str| i.tags().iter().find(|t| t.key() == Some(k))?.value();
        let address = tag("aws:autoscaling:groupName")
            .and_then(|g| group_address.get(g).copied())
            .or_else(|| tag("standby:address"))
            .unwrap_or("untagged")
            .to_string();
        by_address
            .entry(address)
            .or_default()
            .push(i.instance_id().unwrap().to_string());
    }
    by_address
}

/// Public IPs of the running instances of the environment in `region`, sorted.
pub async fn running_public_ips(emulator: &Emulator, region: &str) -> Vec<String> {
    let mut ips: Vec<String> = environment_instances(emulator, region, &["running"])
        .await
        .iter()
        .filter_map(|i| i.public_ip_address().map(str::to_string))
        .collect();
    ips.sort();
    ips
}

/// The id of the `example.com` zone and its record sets, or `None` without the zone.
pub async fn zone_record_sets(
    r53: &aws_sdk_route53::Client,
) -> Option<(String, Vec<aws_sdk_route53::types::ResourceRecordSet>)> {
    let zones = r53
        .list_hosted_zones_by_name()
        .dns_name("example.com")
        .send()
        .await
        .unwrap();
    let zone = zones
        .hosted_zones()
        .iter()
        .find(|z| z.name() == "example.com.")?
        .id()
        .to_string();
    let sets = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zone)
        .send()
        .await
        .unwrap();
    Some((zone, sets.resource_record_sets().to_vec()))
}

/// The values of a record set, sorted; an alias record's is its target's DNS name
/// (lower-case, without the final dot).
pub fn record_values(set: &aws_sdk_route53::types::ResourceRecordSet) -> Vec<String> {
    if let Some(t) = set.alias_target() {
        return vec![t.dns_name().trim_end_matches('.').to_ascii_lowercase()];
    }
    let mut values: Vec<String> = set
        .resource_records()
        .iter()
        .map(|r| r.value().to_string())
        .collect();
    values.sort();
    values
}

/// The failover record of `set_identifier`: (failover, sorted values, health check id);
/// `None` without the zone or the record.
pub async fn failover_record(
    emulator: &Emulator,
    set_identifier: &str,
) -> Option<(String, Vec<String>, Option<String>)> {
    let (_, sets) = zone_record_sets(&route53(emulator).await).await?;
    sets.iter()
        .find(|s| s.set_identifier() == Some(set_identifier))
        .map(|s| {
            (
                s.failover()
                    .map(|f| f.as_str().to_string())
                    .unwrap_or_default(),
                record_values(s),
                s.health_check_id().map(str::to_string),
            )
        })
}

/// The PRIMARY failover record: (set identifier, sorted values). Panics without one.
pub async fn primary_record(emulator: &Emulator) -> (String, Vec<String>) {
    let (_, sets) = zone_record_sets(&route53(emulator).await)
        .await
        .expect("the zone exists");
    let primary = sets
        .iter()
        .find(|s| s.failover().map(|f| f.as_str()) == Some("PRIMARY"))
        .expect("a PRIMARY record");
    (
        primary.set_identifier().unwrap_or_default().to_string(),
        record_values(primary),
    )
}

/// The bucket's versioning status. moto 5.2.5 answers with a root element the SDK's strict
/// parser refuses, so the status is read from the raw answer in that case.
pub async fn versioning(s3: &aws_sdk_s3::Client, bucket: &str) -> Option<String> {
    match s3.get_bucket_versioning().bucket(bucket).send().await {
        Ok(v) => v.status().map(|s| s.as_str().to_string()),
        Err(e) => {
            let raw = e.raw_response().expect("an HTTP answer");
            assert_eq!(raw.status().as_u16(), 200, "{e:?}");
            let body = std::str::from_utf8(raw.body().bytes().unwrap())
                .unwrap()
                .to_string();
            body.split_once("<Status>")
                .and_then(|(_, r)| r.split_once("</Status>"))
                .map(|(s, _)| s.to_string())
        }
    }
}

/// Sets the bucket's versioning to `status` (`Enabled` or `Suspended`).
pub async fn set_versioning(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    status: aws_sdk_s3::types::BucketVersioningStatus,
) {
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(status)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Publishes a CloudWatch `ReplicaLag` datapoint of `seconds` for the database `identifier`
/// in `region`, as RDS would.
pub async fn publish_lag(emulator: &Emulator, region: &str, identifier: &str, seconds: f64) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    cloudwatch(emulator, region)
        .await
        .put_metric_data()
        .namespace("AWS/RDS")
        .metric_data(
            MetricDatum::builder()
                .metric_name("ReplicaLag")
                .dimensions(
                    Dimension::builder()
                        .name("DBInstanceIdentifier")
                        .value(identifier)
                        .build(),
                )
                .value(seconds)
                .timestamp(std::time::SystemTime::now().into())
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// The destination bucket ARNs of `checkout-prod-receipts-<region>`'s replication, sorted;
/// empty without a replication configuration.
pub async fn replication_targets(emulator: &Emulator, region: &str) -> Vec<String> {
    let s3 = emulator.s3(region).await;
    let Ok(out) = s3
        .get_bucket_replication()
        .bucket(format!("checkout-{ENVIRONMENT}-receipts-{region}"))
        .send()
        .await
    else {
        return Vec::new();
    };
    let mut targets: Vec<String> = out
        .replication_configuration()
        .map(|c| {
            c.rules()
                .iter()
                .filter_map(|r| r.destination().map(|d| d.bucket().to_string()))
                .collect()
        })
        .unwrap_or_default();
    targets.sort();
    targets
}

/// How standby sees `checkout-prod-orders-<region>`: `standalone`, `replica of <source>`,
/// or `None` when it does not exist. moto leaves a promoted replica's source set (on both
/// sides), so the `standby:promoted` tag standby writes after a promotion is what tells.
pub async fn database_standing(emulator: &Emulator, region: &str) -> Option<String> {
    let out = rds(emulator, region)
        .await
        .describe_db_instances()
        .db_instance_identifier(format!("checkout-{ENVIRONMENT}-orders-{region}"))
        .send()
        .await
        .ok()?;
    let db = out.db_instances().first()?;
    let promoted = db
        .tag_list()
        .iter()
        .any(|t| t.key() == Some("standby:promoted"));
    Some(match db.read_replica_source_db_instance_identifier() {
        Some(source) if !promoted => format!("replica of {source}"),
        _ => "standalone".to_string(),
    })
}

/// A replication role's trust-policy `aws:SourceAccount` condition and every `Resource` of its
/// inline policy (IAM answers both documents URL-encoded).
pub async fn role_policies(
    emulator: &Emulator,
    role: &str,
) -> (Option<String>, std::collections::BTreeSet<String>) {
    let decode = |doc: &str| -> serde_json::Value {
        let text = percent_encoding::percent_decode_str(doc)
            .decode_utf8()
            .unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let iam = emulator.iam().await;
    let got = iam.get_role().role_name(role).send().await.unwrap();
    let trust = decode(got.role().unwrap().assume_role_policy_document().unwrap());
    let account = trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"]
        .as_str()
        .map(str::to_string);
    let policy = iam
        .get_role_policy()
        .role_name(role)
        .policy_name("standby-replication")
        .send()
        .await
        .unwrap();
    let policy = decode(policy.policy_document());
    let resources = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Resource"].as_array().unwrap())
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    (account, resources)
}

pub async fn autoscaling(emulator: &Emulator, region: &str) -> aws_sdk_autoscaling::Client {
    aws_sdk_autoscaling::Client::new(&emulator.sdk_config(region).await)
}

pub async fn elb(emulator: &Emulator, region: &str) -> aws_sdk_elasticloadbalancingv2::Client {
    aws_sdk_elasticloadbalancingv2::Client::new(&emulator.sdk_config(region).await)
}

/// The environment's Auto Scaling groups in `region` by `standby:address`: (desired
/// capacity, instances `InService`). Two groups at one address would show as one: see
/// `group_counts`.
pub async fn groups_by_address(
    emulator: &Emulator,
    region: &str,
) -> BTreeMap<String, (i32, usize)> {
    let out = autoscaling(emulator, region)
        .await
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap();
    out.auto_scaling_groups()
        .iter()
        .filter_map(|g| {
            let tag = |k: &str| g.tags().iter().find(|t| t.key() == Some(k))?.value();
            if tag("standby:environment") != Some(ENVIRONMENT) {
                return None;
            }
            let in_service = g
                .instances()
                .iter()
                .filter(|i| i.lifecycle_state().map(|s| s.as_str()) == Some("InService"))
                .count();
            let address = tag("standby:address")?.to_string();
            Some((address, (g.desired_capacity().unwrap_or(-1), in_service)))
        })
        .collect()
}

/// The DNS names of the load balancers in `region` (lower-case), sorted.
pub async fn load_balancer_names(emulator: &Emulator, region: &str) -> Vec<String> {
    let out = elb(emulator, region)
        .await
        .describe_load_balancers()
        .send()
        .await
        .unwrap();
    let mut names: Vec<String> = out
        .load_balancers()
        .iter()
        .filter_map(|l| l.dns_name().map(|n| n.to_ascii_lowercase()))
        .collect();
    names.sort();
    names
}

/// How many of the environment's Auto Scaling groups in `region` carry each address.
pub async fn group_counts(emulator: &Emulator, region: &str) -> BTreeMap<String, usize> {
    let out = autoscaling(emulator, region)
        .await
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap();
    let mut counts = BTreeMap::new();
    for g in out.auto_scaling_groups() {
        let tag = |k: &str| g.tags().iter().find(|t| t.key() == Some(k))?.value();
        if tag("standby:environment") == Some(ENVIRONMENT) {
            *counts
                .entry(tag("standby:address").unwrap_or("untagged").to_string())
                .or_default() += 1;
        }
    }
    counts
}
