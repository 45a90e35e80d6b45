//! The strict mode's Auto Scaling rules (crates/emulator/src/strict/autoscaling.rs and
//! refresh.rs), one test each, read through the SDK as a client on AWS would: a group's new
//! instances are `Pending` first, new targets `initial`, an instance refresh replaces
//! instances in batches that keep the minimum healthy, an exhausted region fails a scale-up.

use std::time::{Duration, Instant};

use crate::support::proxy::Proxy;
use crate::support::Emulator;
use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use aws_sdk_autoscaling::types::{
    InstanceRefreshStatus, LaunchTemplateSpecification, LifecycleState, RefreshPreferences,
};
use aws_sdk_ec2::types::{InstanceType, RequestLaunchTemplateData};

const REGION: &str = "us-east-1";
const GROUP: &str = "web";

/// A proxy in strict mode (AWS's 60 s of `Pending` last 0.6 s) and the launch template's id
/// and subnet, made straight in the emulator (not through the proxy's EC2 rules).
async fn fixture(emulator: &Emulator) -> (Proxy, String, String) {
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.01);
    let ec2 = aws_sdk_ec2::Client::new(&emulator.sdk_config(REGION).await);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.9.1.0/24")
        .availability_zone("us-east-1a")
        .send()
        .await
        .unwrap();
    let subnet = subnet.subnet().unwrap().subnet_id().unwrap().to_string();
    let template = ec2
        .create_launch_template()
        .launch_template_name(GROUP)
        .launch_template_data(data(InstanceType::T3Micro))
        .send()
        .await
        .unwrap();
    let template = template.launch_template().unwrap();
    (proxy, template.launch_template_id().unwrap().into(), subnet)
}

fn data(t: InstanceType) -> RequestLaunchTemplateData {
    RequestLaunchTemplateData::builder()
        .image_id("ami-12c6146b")
        .instance_type(t)
        .build()
}

async fn asg(proxy: &Proxy) -> aws_sdk_autoscaling::Client {
    aws_sdk_autoscaling::Client::new(&proxy.sdk_config(REGION).await)
}

/// Makes the group at `size` through the proxy, with `target_group` when given.
async fn group(proxy: &Proxy, template: &str, subnet: &str, size: i32, tg: Option<String>) {
    asg(proxy)
        .await
        .create_auto_scaling_group()
        .auto_scaling_group_name(GROUP)
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_id(template)
                .version("$Default")
                .build(),
        )
        .min_size(size)
        .max_size(size)
        .desired_capacity(size)
        .vpc_zone_identifier(subnet)
        .set_target_group_arns(tg.map(|t| vec![t]))
        .send()
        .await
        .unwrap();
}

/// (instance id, lifecycle state, instance type) of the group's instances.
async fn members(proxy: &Proxy) -> Vec<(String, LifecycleState, String)> {
    let out = asg(proxy)
        .await
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(GROUP)
        .send()
        .await
        .unwrap();
    out.auto_scaling_groups()[0]
        .instances()
        .iter()
        .map(|i| {
            (
                i.instance_id().unwrap().to_string(),
                i.lifecycle_state().unwrap().clone(),
                i.instance_type().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn in_service(members: &[(String, LifecycleState, String)]) -> usize {
    members
        .iter()
        .filter(|m| m.1 == LifecycleState::InService)
        .count()
}

/// Polls `ready` as a client on AWS would, failing the test after 30 s.
async fn eventually<F, Fut>(what: &str, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !ready().await {
        assert!(started.elapsed() < Duration::from_secs(30), "never {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn autoscaling_instance_pending_shows_new_instances_pending_before_in_service() {
    let emulator = Emulator::start();
    let (proxy, template, subnet) = fixture(&emulator).await;
    group(&proxy, &template, &subnet, 2, None).await;

    let first = members(&proxy).await;
    assert_eq!(first.len(), 2);
    assert_eq!(in_service(&first), 0, "{first:?}");
    assert!(proxy.fired("autoscaling.instance-pending") >= 1);
    eventually("in service", || async {
        in_service(&members(&proxy).await) == 2
    })
    .await;
}

#[tokio::test]
async fn elbv2_target_initial_shows_new_targets_initial_before_healthy() {
    let emulator = Emulator::start();
    let (proxy, template, subnet) = fixture(&emulator).await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&proxy.sdk_config(REGION).await);
    let ec2 = aws_sdk_ec2::Client::new(&emulator.sdk_config(REGION).await);
    let vpc = ec2.describe_vpcs().send().await.unwrap();
    let vpc = vpc.vpcs().last().unwrap().vpc_id().unwrap().to_string();
    let tg = elb
        .create_target_group()
        .name("web")
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .vpc_id(vpc)
        .send()
        .await
        .unwrap();
    let arn = tg.target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    group(&proxy, &template, &subnet, 1, Some(arn.clone())).await;
    let state = || async {
        let out = elb
            .describe_target_health()
            .target_group_arn(&arn)
            .send()
            .await
            .unwrap();
        let t = &out.target_health_descriptions()[0];
        t.target_health()
            .unwrap()
            .state()
            .unwrap()
            .as_str()
            .to_string()
    };

    assert_eq!(state().await, "initial");
    assert_eq!(proxy.fired("elbv2.target-initial"), 1);
    eventually("healthy", || async { state().await == "healthy" }).await;
}

#[tokio::test]
async fn autoscaling_instance_refresh_replaces_every_instance_keeping_the_minimum_healthy() {
    let emulator = Emulator::start();
    let (proxy, template, subnet) = fixture(&emulator).await;
    group(&proxy, &template, &subnet, 2, None).await;
    eventually("in service", || async {
        in_service(&members(&proxy).await) == 2
    })
    .await;
    let old: Vec<String> = members(&proxy).await.into_iter().map(|m| m.0).collect();
    let ec2 = aws_sdk_ec2::Client::new(&emulator.sdk_config(REGION).await);
    let v2 = ec2
        .create_launch_template_version()
        .launch_template_id(&template)
        .launch_template_data(data(InstanceType::M6iLarge))
        .send()
        .await
        .unwrap();
    let v2 = v2
        .launch_template_version()
        .unwrap()
        .version_number()
        .unwrap();
    ec2.modify_launch_template()
        .launch_template_id(&template)
        .default_version(v2.to_string())
        .send()
        .await
        .unwrap();
    let client = asg(&proxy).await;
    let start = || {
        client
            .start_instance_refresh()
            .auto_scaling_group_name(GROUP)
            .preferences(
                RefreshPreferences::builder()
                    .min_healthy_percentage(100)
                    .max_healthy_percentage(200)
                    .build(),
            )
            .send()
    };
    let id = start()
        .await
        .unwrap()
        .instance_refresh_id()
        .unwrap()
        .to_string();
    let again = start().await.unwrap_err();
    assert_eq!(again.code(), Some("InstanceRefreshInProgress"));

    let mut fewest = usize::MAX;
    let started = Instant::now();
    loop {
        fewest = fewest.min(in_service(&members(&proxy).await));
        let out = client
            .describe_instance_refreshes()
            .auto_scaling_group_name(GROUP)
            .instance_refresh_ids(&id)
            .send()
            .await
            .unwrap();
        let status = out.instance_refreshes()[0].status().unwrap().clone();
        if status == InstanceRefreshStatus::Successful {
            break;
        }
        assert_eq!(status, InstanceRefreshStatus::InProgress);
        assert!(started.elapsed() < Duration::from_secs(60), "never done");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert_eq!(
        fewest, 2,
        "never fewer in service than the minimum (100% of 2)"
    );
    let now = members(&proxy).await;
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(
        now.iter().all(|m| !old.contains(&m.0)),
        "all replaced: {now:?}"
    );
    assert!(now.iter().all(|m| m.2 == "m6i.large"), "{now:?}");
    let desired = client
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(GROUP)
        .send()
        .await
        .unwrap();
    assert_eq!(desired.auto_scaling_groups()[0].desired_capacity(), Some(2));
    assert!(proxy.fired("autoscaling.instance-refresh") >= 3);
}

#[tokio::test]
async fn autoscaling_insufficient_capacity_fails_a_scale_up_with_its_activity() {
    let emulator = Emulator::start();
    let (proxy, template, subnet) = fixture(&emulator).await;
    group(&proxy, &template, &subnet, 1, None).await;
    members(&proxy).await;
    proxy.exhaust_capacity(REGION);
    let client = asg(&proxy).await;
    client
        .update_auto_scaling_group()
        .auto_scaling_group_name(GROUP)
        .min_size(3)
        .max_size(3)
        .desired_capacity(3)
        .send()
        .await
        .expect("AWS takes the change and fails the launches later");

    let out = client
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(GROUP)
        .send()
        .await
        .unwrap();
    let g = &out.auto_scaling_groups()[0];
    assert_eq!((g.desired_capacity(), g.instances().len()), (Some(3), 1));
    let activities = client
        .describe_scaling_activities()
        .auto_scaling_group_name(GROUP)
        .send()
        .await
        .unwrap();
    let latest = &activities.activities()[0];
    assert_eq!(latest.status_code().unwrap().as_str(), "Failed");
    assert!(latest.status_message().unwrap().contains("vCPU limit"));
    assert!(proxy.fired("autoscaling.insufficient-capacity") >= 2);
}
