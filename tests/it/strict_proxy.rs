//! The strict mode of the test proxy (crates/emulator/src/strict): each rule fires, and what
//! it answers is what AWS documents. One test per rule.

use std::time::{Duration, Instant};

use crate::support::proxy::Proxy;
use crate::support::Emulator;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{InstanceStateName, InstanceType};

async fn launch(proxy: &Proxy) -> String {
    let out = proxy
        .ec2("us-east-1")
        .await
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap();
    out.instances()[0].instance_id().unwrap().to_string()
}

/// The instance's state; a NotFound right after the launch (`ec2.new-id-not-found`) is read
/// again, as on AWS.
async fn instance_state(proxy: &Proxy, id: &str) -> InstanceStateName {
    let ec2 = proxy.ec2("us-east-1").await;
    let out = match ec2.describe_instances().instance_ids(id).send().await {
        Err(e) if e.code() == Some("InvalidInstanceID.NotFound") => ec2
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .unwrap(),
        other => other.unwrap(),
    };
    let instance = &out.reservations()[0].instances()[0];
    instance.state().unwrap().name().unwrap().clone()
}

#[tokio::test]
async fn ec2_instance_pending_shows_a_new_instance_pending_before_running() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.05); // AWS's 30 s of `pending` last 1.5 s here
    let id = launch(&proxy).await;

    assert_eq!(
        instance_state(&proxy, &id).await,
        InstanceStateName::Pending
    );
    assert_eq!(proxy.fired("ec2.instance-pending"), 1);
    // A client waits for `running` as it would on AWS: it polls, and the state comes.
    let started = Instant::now();
    while instance_state(&proxy, &id).await != InstanceStateName::Running {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{id} never ran"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn without_strict_mode_moto_answers_as_it_is() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let id = launch(&proxy).await;
    assert_eq!(
        instance_state(&proxy, &id).await,
        InstanceStateName::Running
    );
    assert_eq!(proxy.fired("ec2.instance-pending"), 0);
}

#[tokio::test]
async fn rds_instance_states_show_creating_then_backing_up_before_available() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.01); // RDS's 5 minutes of `creating` last 3 s here
    let rds = aws_sdk_rds::Client::new(&proxy.sdk_config("us-east-1").await);
    rds.create_db_instance()
        .db_instance_identifier("orders")
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("standby")
        .master_user_password("not-a-secret-0")
        .send()
        .await
        .unwrap();
    let status = || async {
        let out = rds
            .describe_db_instances()
            .db_instance_identifier("orders")
            .send()
            .await
            .unwrap();
        out.db_instances()[0]
            .db_instance_status()
            .unwrap()
            .to_string()
    };

    assert_eq!(status().await, "creating");
    assert_eq!(proxy.fired("rds.instance-states"), 1);
    let mut seen = vec![];
    let started = Instant::now();
    loop {
        let now = status().await;
        if seen.last() != Some(&now) {
            seen.push(now.clone());
        }
        if now == "available" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never available: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, ["creating", "backing-up", "available"]);
}

#[tokio::test]
async fn ec2_new_id_not_found_refuses_the_first_call_naming_a_new_vpc() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.01);
    let ec2 = proxy.ec2("us-east-1").await;
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let subnet = || {
        ec2.create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block("10.9.1.0/24")
            .send()
    };

    let err = subnet().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidVpcID.NotFound"));
    assert_eq!(proxy.fired("ec2.new-id-not-found"), 1);
    subnet().await.expect("the id is known on the next call");
}

#[tokio::test]
async fn ec2_dependency_violation_refuses_deleting_a_group_while_instances_drain() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.01); // AWS's 2 minutes of draining last 1.2 s here
    let ec2 = proxy.ec2("us-east-1").await;
    let group = ec2
        .create_security_group()
        .group_name("web")
        .description("web")
        .send()
        .await
        .unwrap();
    let group_id = group.group_id().unwrap().to_string();
    let _ = ec2
        .describe_security_groups()
        .group_ids(&group_id)
        .send()
        .await; // known now
    let id = launch(&proxy).await;
    instance_state(&proxy, &id).await; // known now
    ec2.terminate_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();

    let delete = || ec2.delete_security_group().group_id(&group_id).send();
    let err = delete().await.unwrap_err();
    assert_eq!(err.code(), Some("DependencyViolation"));
    assert_eq!(proxy.fired("ec2.dependency-violation"), 1);
    let started = Instant::now();
    while delete().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never deletable"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn ec2_client_token_refuses_a_token_reused_with_other_parameters() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.01);
    let ec2 = proxy.ec2("us-east-1").await;
    let run = |kind: InstanceType| {
        ec2.run_instances()
            .image_id("ami-12c6146b")
            .instance_type(kind)
            .min_count(1)
            .max_count(1)
            .client_token("token-1")
            .send()
    };
    run(InstanceType::T3Micro).await.unwrap();
    run(InstanceType::T3Micro)
        .await
        .expect("the same request again is idempotent");

    let err = run(InstanceType::T3Small).await.unwrap_err();
    assert_eq!(err.code(), Some("IdempotentParameterMismatch"));
    assert_eq!(proxy.fired("ec2.client-token"), 1);
}

async fn route53(proxy: &Proxy, retries: bool) -> aws_sdk_route53::Client {
    let sdk = proxy.sdk_config("us-east-1").await;
    let mut conf = aws_sdk_route53::config::Builder::from(&sdk);
    if !retries {
        conf = conf.retry_config(aws_sdk_route53::config::retry::RetryConfig::disabled());
    }
    aws_sdk_route53::Client::from_conf(conf.build())
}

#[tokio::test]
async fn route53_rate_throttles_above_five_requests_a_second() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.01);
    let r53 = route53(&proxy, false).await;
    let calls = (0..8).map(|_| r53.list_hosted_zones().send());
    let mut throttled = 0;
    for answer in futures::future::join_all(calls).await {
        if let Err(e) = answer {
            assert_eq!(e.code(), Some("Throttling"));
            throttled += 1;
        }
    }
    assert!(throttled >= 3, "eight calls at once, {throttled} throttled");
    assert_eq!(proxy.fired("route53.rate"), throttled);
}

#[tokio::test]
async fn route53_change_pending_shows_a_change_pending_before_insync() {
    use aws_sdk_route53::types::*;
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.01); // Route 53's 60 s of propagation last 0.6 s here
    let r53 = route53(&proxy, true).await;
    let zone = r53
        .create_hosted_zone()
        .name("strict.example.com")
        .caller_reference("zone-1")
        .send()
        .await
        .unwrap();
    let zone_id = zone.hosted_zone().unwrap().id().to_string();
    let record = ResourceRecordSet::builder()
        .name("www.strict.example.com")
        .r#type(RrType::A)
        .ttl(60)
        .resource_records(
            ResourceRecord::builder()
                .value("192.0.2.1")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let change = Change::builder()
        .action(ChangeAction::Upsert)
        .resource_record_set(record)
        .build()
        .unwrap();
    let out = r53
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(ChangeBatch::builder().changes(change).build().unwrap())
        .send()
        .await
        .unwrap();
    let info = out.change_info().unwrap();
    assert_eq!(info.status(), &ChangeStatus::Pending);
    assert!(proxy.fired("route53.change-pending") >= 1);
    let started = Instant::now();
    loop {
        let now = r53.get_change().id(info.id()).send().await.unwrap();
        if now.change_info().unwrap().status() == &ChangeStatus::Insync {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never INSYNC");
        // Two reads a second: well inside the account's rate, which the rule also enforces.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn route53_caller_reference_is_never_reused_for_other_settings() {
    use aws_sdk_route53::types::{HealthCheckConfig, HealthCheckType};
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.01);
    let r53 = route53(&proxy, true).await;
    let check = |port: i32| {
        let config = HealthCheckConfig::builder()
            .r#type(HealthCheckType::Tcp)
            .ip_address("192.0.2.1")
            .port(port)
            .build()
            .unwrap();
        r53.create_health_check()
            .caller_reference("check-1")
            .health_check_config(config)
            .send()
    };
    check(80).await.unwrap();

    let err = check(443).await.unwrap_err();
    assert_eq!(err.code(), Some("HealthCheckAlreadyExists"));
    assert_eq!(proxy.fired("route53.caller-reference"), 1);
}

#[tokio::test]
async fn rds_minor_upgrade_reports_the_next_minor_version_after_creation() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.01);
    let rds = aws_sdk_rds::Client::new(&proxy.sdk_config("us-east-1").await);
    rds.create_db_instance()
        .db_instance_identifier("orders")
        .engine("postgres")
        .engine_version("16.3")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("standby")
        .master_user_password("not-a-real-one-1")
        .send()
        .await
        .unwrap();
    let out = rds
        .describe_db_instances()
        .db_instance_identifier("orders")
        .send()
        .await
        .unwrap();
    assert_eq!(out.db_instances()[0].engine_version(), Some("16.4"));
    assert_eq!(proxy.fired("rds.minor-upgrade"), 1);
}

#[tokio::test]
async fn rds_automated_backups_replication_replicates_lists_restores_and_stops() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.002); // RDS's 5 minutes of `pending` last 0.6 s here
    let east = aws_sdk_rds::Client::new(&proxy.sdk_config("us-east-1").await);
    let eu = aws_sdk_rds::Client::new(&proxy.sdk_config("eu-west-1").await);
    east.create_db_instance()
        .db_instance_identifier("orders")
        .engine("postgres")
        .engine_version("16.3")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("standby")
        .manage_master_user_password(true)
        .backup_retention_period(7)
        .send()
        .await
        .unwrap();
    let described = east
        .describe_db_instances()
        .db_instance_identifier("orders")
        .send()
        .await
        .unwrap();
    let source_arn = described.db_instances()[0]
        .db_instance_arn()
        .unwrap()
        .to_string();

    let started = eu
        .start_db_instance_automated_backups_replication()
        .source_db_instance_arn(&source_arn)
        .backup_retention_period(14)
        .kms_key_id("alias/aws/rds")
        .send()
        .await
        .unwrap();
    let backup = started.db_instance_automated_backup().unwrap();
    assert_eq!(backup.status(), Some("pending"));
    let backups_arn = backup
        .db_instance_automated_backups_arn()
        .unwrap()
        .to_string();
    let listed = || async {
        let out = eu
            .describe_db_instance_automated_backups()
            .send()
            .await
            .unwrap();
        out.db_instance_automated_backups().to_vec()
    };
    let begun = Instant::now();
    let backup = loop {
        let all = listed().await;
        let b = all
            .iter()
            .find(|b| b.db_instance_arn() == Some(&source_arn))
            .cloned()
            .unwrap();
        if b.status() == Some("replicating") {
            break b;
        }
        assert!(
            begun.elapsed() < Duration::from_secs(30),
            "never replicating"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(backup.region(), Some("us-east-1"));
    assert_eq!(backup.backup_retention_period(), Some(14));
    assert!(backup
        .restore_window()
        .and_then(|w| w.latest_time())
        .is_some());

    // With the source region down, the destination restores from its replica of the backups.
    proxy.refuse_region("us-east-1");
    eu.restore_db_instance_to_point_in_time()
        .target_db_instance_identifier("orders-restored")
        .source_db_instance_automated_backups_arn(&backups_arn)
        .use_latest_restorable_time(true)
        .db_instance_class("db.t3.micro")
        .send()
        .await
        .unwrap();
    let restored = eu
        .describe_db_instances()
        .db_instance_identifier("orders-restored")
        .send()
        .await
        .unwrap();
    assert_eq!(restored.db_instances()[0].engine(), Some("postgres"));
    assert_eq!(restored.db_instances()[0].allocated_storage(), Some(20));

    eu.stop_db_instance_automated_backups_replication()
        .source_db_instance_arn(&source_arn)
        .send()
        .await
        .unwrap();
    assert!(listed()
        .await
        .iter()
        .all(|b| b.db_instance_arn() != Some(&source_arn)));
    assert!(proxy.fired("rds.automated-backups-replication") >= 4);
}

#[tokio::test]
async fn autoscaling_capacity_failure_launches_to_the_limit_and_reports_a_failed_activity() {
    use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, ScalingActivityStatusCode};
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.01);
    proxy.limit_capacity("us-east-1", 1);
    let config = proxy.sdk_config("us-east-1").await;
    let ec2 = proxy.ec2("us-east-1").await;
    ec2.create_launch_template()
        .launch_template_name("web")
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id("ami-12c6146b")
                .instance_type(InstanceType::T3Micro)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let asg = aws_sdk_autoscaling::Client::new(&config);
    asg.create_auto_scaling_group()
        .auto_scaling_group_name("web")
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_name("web")
                .build(),
        )
        .min_size(3)
        .max_size(3)
        .desired_capacity(3)
        .availability_zones("us-east-1a")
        .send()
        .await
        .expect("AWS takes the request; the launches fail later");

    let groups = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("web")
        .send()
        .await
        .unwrap();
    assert_eq!(groups.auto_scaling_groups()[0].instances().len(), 1);
    let activities = asg
        .describe_scaling_activities()
        .auto_scaling_group_name("web")
        .send()
        .await
        .unwrap();
    let failed = &activities.activities()[0];
    assert_eq!(
        failed.status_code(),
        Some(&ScalingActivityStatusCode::Failed)
    );
    assert!(failed
        .status_message()
        .unwrap()
        .contains("InsufficientInstanceCapacity"));
    assert_eq!(proxy.fired("autoscaling.capacity-failure"), 1);
}
