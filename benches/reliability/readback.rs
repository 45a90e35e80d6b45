//! What the emulator holds, read back through the SDK (not through `standby`): live resources
//! per `standby:address` tag (more than one is a duplicate), the instances of each Auto
//! Scaling group (they carry no address of their own: they are the group's), the PRIMARY
//! failover records and the writable databases per component (more than one of either is a
//! double primary).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use aws_sdk_route53::types::{ResourceRecordSetFailover, TagResourceType};

pub const REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];
const ADDRESS: &str = "standby:address";
/// Set by the provider on a promoted replica, because moto keeps its source set
/// (src/provider/aws/database/mod.rs, TAG_PROMOTED); real RDS clears the source.
const PROMOTED: &str = "standby:promoted";

#[derive(Default)]
pub struct Census {
    /// Live resources per address tag, kind included (`ec2 instance region.us-east-1...`).
    pub by_address: BTreeMap<String, usize>,
    /// Live instances per Auto Scaling group address (many by design, never duplicates).
    pub members: BTreeMap<String, usize>,
    /// Set identifiers of the PRIMARY failover records, per record name.
    pub primary_records: BTreeMap<String, Vec<String>>,
    /// Regions of the writable databases, per component (`database.orders`).
    pub writable: BTreeMap<String, Vec<String>>,
}

impl Census {
    /// Live resources, group members included.
    pub fn resources(&self) -> usize {
        self.by_address.values().sum::<usize>() + self.members.values().sum::<usize>()
    }

    /// Addresses with more than one live resource, with their count.
    pub fn duplicates(&self) -> Vec<String> {
        let many = self.by_address.iter().filter(|(_, n)| **n > 1);
        many.map(|(a, n)| format!("{a} x{n}")).collect()
    }

    /// Two PRIMARY records for one name, or two writable databases of one component outside
    /// `failed` regions (a promoted region's old primary stays writable until rebuilt, by
    /// design: DESIGN.md, "DR operations").
    pub fn double_primaries(&self, failed: &[String]) -> Vec<String> {
        let records = self.primary_records.iter().filter(|(_, ids)| ids.len() > 1);
        let mut found: Vec<String> = records
            .map(|(name, ids)| format!("PRIMARY records for {name}: {ids:?}"))
            .collect();
        for (component, regions) in &self.writable {
            let live: Vec<&String> = regions.iter().filter(|r| !failed.contains(r)).collect();
            if live.len() > 1 {
                found.push(format!("writable {component} in {live:?}"));
            }
        }
        found
    }
}

pub async fn census(endpoint: &str) -> Result<Census> {
    let mut c = Census::default();
    for region in REGIONS {
        let conf = standby_emulator::sdk_config_for(endpoint, region).await;
        ec2(&conf, &mut c).await?;
        groups(&conf, &mut c).await?;
        rds(&conf, region, &mut c).await?;
    }
    let conf = standby_emulator::sdk_config_for(endpoint, "us-east-1").await;
    s3(&conf, &mut c).await?;
    route53(&conf, &mut c).await?;
    Ok(c)
}

fn address_of<'a>(
    tags: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> Option<String> {
    tags.into_iter()
        .find(|(k, _)| *k == Some(ADDRESS))
        .and_then(|(_, v)| v.map(str::to_string))
}

fn count(c: &mut Census, kind: &str, address: Option<String>) {
    if let Some(a) = address {
        *c.by_address.entry(format!("{kind} {a}")).or_default() += 1;
    }
}

async fn ec2(conf: &aws_types::SdkConfig, c: &mut Census) -> Result<()> {
    use aws_sdk_ec2::types::Filter;
    let ec2 = aws_sdk_ec2::Client::new(conf);
    let tagged = || Filter::builder().name("tag-key").values(ADDRESS).build();
    let live = Filter::builder()
        .name("instance-state-name")
        .values("pending")
        .values("running")
        .build();
    let reservations = ec2.describe_instances().filters(tagged()).filters(live);
    let reservations: Vec<_> = reservations.into_paginator().items().send().collect().await;
    for r in reservations {
        for i in r.context("DescribeInstances")?.instances() {
            count(
                c,
                "instance",
                address_of(i.tags().iter().map(|t| (t.key(), t.value()))),
            );
        }
    }
    let vpcs: Vec<_> = ec2
        .describe_vpcs()
        .filters(tagged())
        .into_paginator()
        .items()
        .send()
        .collect()
        .await;
    for v in vpcs {
        let v = v.context("DescribeVpcs")?;
        count(
            c,
            "vpc",
            address_of(v.tags().iter().map(|t| (t.key(), t.value()))),
        );
    }
    let groups = ec2
        .describe_security_groups()
        .filters(tagged())
        .into_paginator();
    let groups: Vec<_> = groups.items().send().collect().await;
    for g in groups {
        let g = g.context("DescribeSecurityGroups")?;
        count(
            c,
            "security group",
            address_of(g.tags().iter().map(|t| (t.key(), t.value()))),
        );
    }
    Ok(())
}

/// Each group by its address, and its live instances under that address.
async fn groups(conf: &aws_types::SdkConfig, c: &mut Census) -> Result<()> {
    use aws_sdk_autoscaling::types::LifecycleState;
    let asg = aws_sdk_autoscaling::Client::new(conf);
    let groups: Vec<_> = asg
        .describe_auto_scaling_groups()
        .into_paginator()
        .items()
        .send()
        .collect()
        .await;
    for g in groups {
        let g = g.context("DescribeAutoScalingGroups")?;
        let Some(address) = address_of(g.tags().iter().map(|t| (t.key(), t.value()))) else {
            continue;
        };
        let gone = [LifecycleState::Terminating, LifecycleState::Terminated];
        let live = g
            .instances()
            .iter()
            .filter(|i| i.lifecycle_state().is_none_or(|s| !gone.contains(s)))
            .count();
        *c.members.entry(address.clone()).or_default() += live;
        count(c, "auto scaling group", Some(address));
    }
    Ok(())
}

async fn rds(conf: &aws_types::SdkConfig, region: &str, c: &mut Census) -> Result<()> {
    let rds = aws_sdk_rds::Client::new(conf);
    let dbs: Vec<_> = rds
        .describe_db_instances()
        .into_paginator()
        .items()
        .send()
        .collect()
        .await;
    for db in dbs {
        let db = db.context("DescribeDBInstances")?;
        if db.db_instance_status() == Some("deleting") {
            continue;
        }
        let tags = db.tag_list().iter().map(|t| (t.key(), t.value()));
        let Some(address) = address_of(tags) else {
            continue;
        };
        let promoted = db.tag_list().iter().any(|t| t.key() == Some(PROMOTED));
        if db.read_replica_source_db_instance_identifier().is_none() || promoted {
            // `region.<r>.database.orders` is component `database.orders`.
            let component = address
                .splitn(3, '.')
                .nth(2)
                .unwrap_or(&address)
                .to_string();
            c.writable
                .entry(component)
                .or_default()
                .push(region.to_string());
        }
        count(c, "db instance", Some(address));
    }
    Ok(())
}

async fn s3(conf: &aws_types::SdkConfig, c: &mut Census) -> Result<()> {
    let s3 = standby_emulator::s3_client(conf);
    let buckets: Vec<_> = s3
        .list_buckets()
        .into_paginator()
        .items()
        .send()
        .collect()
        .await;
    for b in buckets {
        let name = b
            .context("ListBuckets")?
            .name()
            .unwrap_or_default()
            .to_string();
        // A bucket without tags answers NoSuchTagSet: not one of ours.
        let Ok(tags) = s3.get_bucket_tagging().bucket(&name).send().await else {
            continue;
        };
        let tags = tags
            .tag_set()
            .iter()
            .map(|t| (Some(t.key()), Some(t.value())));
        count(c, "bucket", address_of(tags));
    }
    Ok(())
}

async fn route53(conf: &aws_types::SdkConfig, c: &mut Census) -> Result<()> {
    let r53 = aws_sdk_route53::Client::new(conf);
    let zones: Vec<_> = r53
        .list_hosted_zones()
        .into_paginator()
        .items()
        .send()
        .collect()
        .await;
    for zone in zones {
        let zone = zone.context("ListHostedZones")?;
        let id = zone.id().trim_start_matches("/hostedzone/").to_string();
        let address = tags_address(&r53, TagResourceType::Hostedzone, &id).await?;
        count(c, "hosted zone", address);
        // The emulator is private to the trial: every zone's records are the environment's.
        let sets = r53
            .list_resource_record_sets()
            .hosted_zone_id(&id)
            .send()
            .await;
        for set in sets
            .context("ListResourceRecordSets")?
            .resource_record_sets()
        {
            if set.failover() == Some(&ResourceRecordSetFailover::Primary) {
                let ids = c.primary_records.entry(set.name().to_string()).or_default();
                ids.push(set.set_identifier().unwrap_or_default().to_string());
            }
        }
    }
    let checks: Vec<_> = r53
        .list_health_checks()
        .into_paginator()
        .items()
        .send()
        .collect()
        .await;
    for check in checks {
        let id = check.context("ListHealthChecks")?.id().to_string();
        let address = tags_address(&r53, TagResourceType::Healthcheck, &id).await?;
        count(c, "health check", address);
    }
    Ok(())
}

async fn tags_address(
    r53: &aws_sdk_route53::Client,
    kind: TagResourceType,
    id: &str,
) -> Result<Option<String>> {
    let out = r53
        .list_tags_for_resource()
        .resource_type(kind)
        .resource_id(id)
        .send()
        .await;
    let out = out.context("ListTagsForResource")?;
    let tags = out.resource_tag_set().map(|s| s.tags()).unwrap_or_default();
    Ok(address_of(tags.iter().map(|t| (t.key(), t.value()))))
}
