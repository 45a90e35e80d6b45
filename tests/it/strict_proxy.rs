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
        out.db_instances()[0].db_instance_status().unwrap().to_string()
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
        assert!(started.elapsed() < Duration::from_secs(30), "never available: {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, ["creating", "backing-up", "available"]);
}
