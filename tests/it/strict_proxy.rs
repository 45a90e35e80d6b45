//! The strict mode of the test proxy (crates/emulator/src/strict): each rule fires, and what
//! it answers is what AWS documents. One test per rule.

use std::time::{Duration, Instant};

use crate::support::proxy::Proxy;
use crate::support::Emulator;
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

async fn instance_state(proxy: &Proxy, id: &str) -> InstanceStateName {
    let out = proxy
        .ec2("us-east-1")
        .await
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap();
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
async fn cloudwatch_negative_lag_reports_minus_one_until_a_mysql_replica_replicates() {
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.01);
    let config = proxy.sdk_config("us-east-1").await;
    let rds = aws_sdk_rds::Client::new(&config);
    rds.create_db_instance()
        .db_instance_identifier("orders")
        .engine("mysql")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("standby")
        .master_user_password("not-a-real-one-1")
        .send()
        .await
        .unwrap();
    rds.create_db_instance_read_replica()
        .db_instance_identifier("orders-replica")
        .source_db_instance_identifier("orders")
        .send()
        .await
        .unwrap();
    let lag = || async {
        let now = std::time::SystemTime::now();
        aws_sdk_cloudwatch::Client::new(&config)
            .get_metric_statistics()
            .namespace("AWS/RDS")
            .metric_name("ReplicaLag")
            .dimensions(
                Dimension::builder()
                    .name("DBInstanceIdentifier")
                    .value("orders-replica")
                    .build(),
            )
            .start_time((now - Duration::from_secs(300)).into())
            .end_time(now.into())
            .period(60)
            .statistics(Statistic::Maximum)
            .send()
            .await
            .unwrap()
            .datapoints()
            .iter()
            .filter_map(|d| d.maximum())
            .collect::<Vec<f64>>()
    };
    assert_eq!(lag().await, vec![-1.0]);
    assert_eq!(proxy.fired("cloudwatch.negative-lag"), 1);
}
