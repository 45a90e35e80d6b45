//! The strict mode's RDS rules (crates/emulator/src/strict/rds.rs, cloudwatch.rs), one test each, read
//! through the SDK as a client on AWS would.

use crate::support::proxy::Proxy;
use crate::support::Emulator;
use aws_sdk_rds::error::ProvideErrorMetadata;
use std::time::Duration;

/// `orders` (a writable `engine` instance) and its read replica `orders-replica`.
async fn source_and_replica(rds: &aws_sdk_rds::Client, engine: &str) {
    rds.create_db_instance()
        .db_instance_identifier("orders")
        .engine(engine)
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
}

#[tokio::test]
async fn rds_managed_password_replica_refuses_a_replica_of_a_managed_password_source() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.001);
    let rds = aws_sdk_rds::Client::new(&proxy.sdk_config("us-east-1").await);
    let create = |id: &'static str, managed: bool| {
        let mut req = rds
            .create_db_instance()
            .db_instance_identifier(id)
            .engine("postgres")
            .db_instance_class("db.t3.micro")
            .allocated_storage(20)
            .master_username("standby");
        req = if managed {
            req.manage_master_user_password(true)
        } else {
            req.master_user_password("not-a-real-one-1")
        };
        req.send()
    };
    create("managed", true).await.unwrap();
    create("own", false).await.unwrap();
    let replica = |id: &'static str, source: &'static str| {
        rds.create_db_instance_read_replica()
            .db_instance_identifier(id)
            .source_db_instance_identifier(source)
            .send()
    };
    let err = replica("managed-replica", "managed").await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterCombination"));
    assert_eq!(proxy.fired("rds.managed-password-replica"), 1);
    replica("own-replica", "own").await.unwrap();
    assert_eq!(proxy.fired("rds.managed-password-replica"), 1);
}

#[tokio::test]
async fn rds_stop_with_replicas_refuses_to_stop_a_source_or_its_replica_until_promoted() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.001);
    let rds = aws_sdk_rds::Client::new(&proxy.sdk_config("us-east-1").await);
    source_and_replica(&rds, "postgres").await;
    let stop = |id: &'static str| rds.stop_db_instance().db_instance_identifier(id).send();
    for id in ["orders", "orders-replica"] {
        let err = stop(id).await.unwrap_err();
        assert_eq!(err.code(), Some("InvalidDBInstanceState"), "{id}");
    }
    assert_eq!(proxy.fired("rds.stop-with-replicas"), 2);
    rds.promote_read_replica()
        .db_instance_identifier("orders-replica")
        .send()
        .await
        .unwrap();
    stop("orders").await.unwrap();
    assert_eq!(proxy.fired("rds.stop-with-replicas"), 2);
}

#[tokio::test]
async fn cloudwatch_negative_lag_reports_minus_one_until_a_mysql_replica_replicates() {
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.01);
    let config = proxy.sdk_config("us-east-1").await;
    let rds = aws_sdk_rds::Client::new(&config);
    source_and_replica(&rds, "mysql").await;
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
