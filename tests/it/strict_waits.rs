//! standby's waits (src/provider/aws/poll.rs) through the strict proxy: a database create
//! and its cross-region replica come back only once RDS would call them `available`, after
//! `creating` and `backing-up`; a promote after `modifying` and `rebooting`.

use crate::provider_aws_db_dns::primary_and_replica;
use crate::support::provider::{create_all, Ctx};
use crate::support::proxy::Proxy;
use crate::support::Emulator;
use serde_json::json;
use standby::provider::aws::AwsProvider;

async fn status(proxy: &Proxy, region: &str, id: &str) -> String {
    let rds = aws_sdk_rds::Client::new(&proxy.sdk_config(region).await);
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .unwrap();
    out.db_instances()[0]
        .db_instance_status()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_and_its_replica_are_waited_for_until_available() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.005); // RDS's 7 minutes of `creating` and `backing-up` last 2.1 s here
    let p = AwsProvider::with_endpoint(&proxy.endpoint()).await.unwrap();

    let created = create_all(&p, &Ctx::default(), &primary_and_replica()).await;

    assert!(
        proxy.fired("rds.instance-states") >= 2,
        "the waits read `creating`"
    );
    for (o, region) in [(&created[8], "us-east-1"), (&created[9], "us-west-2")] {
        assert_eq!(o.computed["status"], json!("available"), "{}", o.address);
        // The wait did not end early: RDS says `available` now, too.
        assert_eq!(
            status(&proxy, region, &o.id).await,
            "available",
            "{}",
            o.address
        );
    }
}
