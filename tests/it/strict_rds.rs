//! The strict mode's RDS refusals (crates/emulator/src/strict/rds.rs), one test each, read
//! through the SDK as a client on AWS would.

use crate::support::proxy::Proxy;
use crate::support::Emulator;
use aws_sdk_rds::error::ProvideErrorMetadata;

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
    rds.create_db_instance()
        .db_instance_identifier("orders")
        .engine("postgres")
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
