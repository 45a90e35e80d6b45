//! Test support: every tag of every resource an environment has in the emulator, read through
//! the SDK, per service and AWS id.
//!
//! Invariant: read only; a resource belongs to the environment when its
//! `standby:environment` tag says so (Route 53 records carry no tags and are not listed).

use super::Emulator;
use std::collections::BTreeMap;

/// Tags per resource: `"<kind> <id>"` (`vpc vpc-1a2b`, `bucket checkout-…`) to its tags.
pub type TagsById = BTreeMap<String, BTreeMap<String, String>>;

/// Every tagged resource of `environment` in `regions` (and the global services).
pub async fn environment_tags(
    emulator: &Emulator,
    environment: &str,
    regions: &[&str],
) -> TagsById {
    let mut all = TagsById::new();
    for region in regions {
        all.extend(ec2_tags(emulator, region).await);
        all.extend(rds_tags(emulator, region).await);
        all.extend(group_tags(emulator, region).await);
        all.extend(elb_tags(emulator, region).await);
    }
    all.extend(s3_tags(emulator).await);
    all.extend(iam_tags(emulator).await);
    all.extend(route53_tags(emulator).await);
    all.retain(|_, tags| tags.get("standby:environment").map(String::as_str) == Some(environment));
    all
}

/// Tags of the region's EC2 resources that exist (moto keeps the tags of deleted ones, and
/// EC2 lists terminated instances for a while).
async fn ec2_tags(emulator: &Emulator, region: &str) -> TagsById {
    use aws_sdk_ec2::types::Tag;
    let ec2 = emulator.ec2(region).await;
    let map = |tags: &[Tag]| -> BTreeMap<String, String> {
        tags.iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().into(),
                    t.value().unwrap_or_default().into(),
                )
            })
            .collect()
    };
    let mut all = TagsById::new();
    for v in ec2.describe_vpcs().send().await.unwrap().vpcs() {
        all.insert(
            format!("vpc {}", v.vpc_id().unwrap_or_default()),
            map(v.tags()),
        );
    }
    for s in ec2.describe_subnets().send().await.unwrap().subnets() {
        all.insert(
            format!("subnet {}", s.subnet_id().unwrap_or_default()),
            map(s.tags()),
        );
    }
    for g in ec2
        .describe_security_groups()
        .send()
        .await
        .unwrap()
        .security_groups()
    {
        let id = g.group_id().unwrap_or_default();
        all.insert(format!("security_group {id}"), map(g.tags()));
    }
    for g in ec2
        .describe_internet_gateways()
        .send()
        .await
        .unwrap()
        .internet_gateways()
    {
        let id = g.internet_gateway_id().unwrap_or_default();
        all.insert(format!("internet_gateway {id}"), map(g.tags()));
    }
    let live = super::aws::state_filter(&["pending", "running", "stopping", "stopped"]);
    let out = ec2.describe_instances().filters(live).send().await.unwrap();
    // A group's instances are the group's: tagged at launch, never retagged.
    let in_group = |i: &&aws_sdk_ec2::types::Instance| {
        i.tags()
            .iter()
            .any(|t| t.key() == Some("aws:autoscaling:groupName"))
    };
    for i in out.reservations().iter().flat_map(|r| r.instances()) {
        if in_group(&i) {
            continue;
        }
        let id = i.instance_id().unwrap_or_default();
        all.insert(format!("instance {id}"), map(i.tags()));
    }
    // moto 5.2.5 describes a template with the tags it was created with: read them as tags.
    let templates = ec2.describe_launch_templates().send().await.unwrap();
    for t in templates.launch_templates() {
        let id = t.launch_template_id().unwrap_or_default();
        let filter = aws_sdk_ec2::types::Filter::builder()
            .name("resource-id")
            .values(id)
            .build();
        let out = ec2.describe_tags().filters(filter).send().await.unwrap();
        let tags = out
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().into(),
                    t.value().unwrap_or_default().into(),
                )
            })
            .collect();
        all.insert(format!("launch_template {id}"), tags);
    }
    all
}

/// Tags of the region's Auto Scaling groups.
async fn group_tags(emulator: &Emulator, region: &str) -> TagsById {
    let out = super::aws::autoscaling(emulator, region)
        .await
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap();
    out.auto_scaling_groups()
        .iter()
        .map(|g| {
            let tags = g
                .tags()
                .iter()
                .map(|t| {
                    let (k, v) = (t.key().unwrap_or_default(), t.value().unwrap_or_default());
                    (k.to_string(), v.to_string())
                })
                .collect();
            let name = g.auto_scaling_group_name().unwrap_or_default();
            (format!("auto_scaling_group {name}"), tags)
        })
        .collect()
}

/// Tags of the region's load balancers, target groups and listeners.
async fn elb_tags(emulator: &Emulator, region: &str) -> TagsById {
    let elb = super::aws::elb(emulator, region).await;
    let mut arns: Vec<(String, String)> = Vec::new();
    let lbs = elb.describe_load_balancers().send().await.unwrap();
    for lb in lbs.load_balancers() {
        let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        let listeners = elb
            .describe_listeners()
            .load_balancer_arn(&arn)
            .send()
            .await
            .unwrap();
        for l in listeners.listeners() {
            arns.push((
                "listener".into(),
                l.listener_arn().unwrap_or_default().into(),
            ));
        }
        arns.push(("load_balancer".into(), arn));
    }
    let groups = elb.describe_target_groups().send().await.unwrap();
    for g in groups.target_groups() {
        arns.push((
            "target_group".into(),
            g.target_group_arn().unwrap_or_default().into(),
        ));
    }
    let mut all = TagsById::new();
    for (kind, arn) in arns {
        let out = elb
            .describe_tags()
            .resource_arns(&arn)
            .send()
            .await
            .unwrap();
        let tags = out
            .tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .map(|t| {
                let (k, v) = (t.key().unwrap_or_default(), t.value().unwrap_or_default());
                (k.to_string(), v.to_string())
            })
            .collect();
        all.insert(format!("{kind} {arn}"), tags);
    }
    all
}

async fn rds_tags(emulator: &Emulator, region: &str) -> TagsById {
    let rds = super::aws::rds(emulator, region).await;
    let mut all = TagsById::new();
    let tags = |list: &[aws_sdk_rds::types::Tag]| -> BTreeMap<String, String> {
        list.iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().into(),
                    t.value().unwrap_or_default().into(),
                )
            })
            .collect()
    };
    for db in rds
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
    {
        let id = db.db_instance_identifier().unwrap_or_default();
        all.insert(format!("database {id}"), tags(db.tag_list()));
    }
    for g in rds
        .describe_db_subnet_groups()
        .send()
        .await
        .unwrap()
        .db_subnet_groups()
    {
        let arn = g.db_subnet_group_arn().unwrap_or_default();
        let out = rds
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .unwrap();
        let id = g.db_subnet_group_name().unwrap_or_default();
        all.insert(format!("db_subnet_group {id}"), tags(out.tag_list()));
    }
    all
}

async fn s3_tags(emulator: &Emulator) -> TagsById {
    let s3 = emulator.s3("us-east-1").await;
    let mut all = TagsById::new();
    for b in s3.list_buckets().send().await.unwrap().buckets() {
        let name = b.name().unwrap_or_default();
        let Ok(out) = s3.get_bucket_tagging().bucket(name).send().await else {
            continue;
        };
        let tags = out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        all.insert(format!("bucket {name}"), tags);
    }
    all
}

async fn iam_tags(emulator: &Emulator) -> TagsById {
    let iam = emulator.iam().await;
    let mut all = TagsById::new();
    for role in iam.list_roles().send().await.unwrap().roles() {
        let out = iam
            .list_role_tags()
            .role_name(role.role_name())
            .send()
            .await
            .unwrap();
        let tags = out
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        all.insert(format!("replication_role {}", role.role_name()), tags);
    }
    all
}

async fn route53_tags(emulator: &Emulator) -> TagsById {
    use aws_sdk_route53::types::TagResourceType;
    let r53 = super::aws::route53(emulator).await;
    let zones: Vec<String> = r53
        .list_hosted_zones()
        .send()
        .await
        .unwrap()
        .hosted_zones()
        .iter()
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_string())
        .collect();
    let checks: Vec<String> = r53
        .list_health_checks()
        .send()
        .await
        .unwrap()
        .health_checks()
        .iter()
        .map(|c| c.id().to_string())
        .collect();
    let mut all = TagsById::new();
    for (kind, ids, resource_type) in [
        ("hosted_zone", zones, TagResourceType::Hostedzone),
        ("health_check", checks, TagResourceType::Healthcheck),
    ] {
        for id in ids {
            let out = r53
                .list_tags_for_resource()
                .resource_type(resource_type.clone())
                .resource_id(&id)
                .send()
                .await
                .unwrap();
            let tags = out
                .resource_tag_set()
                .map(|s| {
                    s.tags()
                        .iter()
                        .map(|t| {
                            (
                                t.key().unwrap_or_default().to_string(),
                                t.value().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            all.insert(format!("{kind} {id}"), tags);
        }
    }
    all
}
