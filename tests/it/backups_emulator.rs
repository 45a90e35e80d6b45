//! Backups that survive losing two regions (issue 19): the primary's automated backups
//! replicated into the cold standby, and a promote of the cold standby restoring from them
//! with every other region down. The real binary through the test proxy in strict mode
//! (moto 5.2.5 lacks automated-backups replication: the rule
//! `rds.automated-backups-replication` models it), read back through the SDK.

use crate::support::proxy::Proxy;
use crate::support::specs::{self, DR};
use crate::support::workspace::Workspace;
use crate::support::Emulator;
use aws_sdk_rds::types::DbInstanceAutomatedBackup;

struct Setup {
    _emulator: Emulator,
    proxy: Proxy,
    ws: Workspace,
}

/// `spec` applied through the strict proxy.
fn applied(spec: &str) -> Setup {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.002); // RDS's minutes of `creating` or `pending` last about a second here
    let ws = Workspace::new(proxy.env());
    ws.write("environments/prod/main.hcl", spec);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    Setup {
        _emulator: emulator,
        proxy,
        ws,
    }
}

/// The automated backups replicated into `region` (as RDS lists them there).
async fn replicated_into(proxy: &Proxy, region: &str) -> Vec<DbInstanceAutomatedBackup> {
    let rds = aws_sdk_rds::Client::new(&proxy.sdk_config(region).await);
    let out = rds
        .describe_db_instance_automated_backups()
        .send()
        .await
        .unwrap();
    out.db_instance_automated_backups()
        .iter()
        .filter(|b| b.region() != Some(region))
        .cloned()
        .collect()
}

#[tokio::test]
async fn apply_replicates_the_primarys_backups_into_the_cold_standby_for_the_retention_asked() {
    let spec = specs::replace_once(
        DR,
        "instance_class = \"db.t3.micro\"",
        "instance_class = \"db.t3.micro\"\n  backup         = 14",
    );
    let s = applied(&spec);

    let backups = replicated_into(&s.proxy, "eu-west-1").await;
    assert_eq!(backups.len(), 1, "{backups:?}");
    let b = &backups[0];
    assert_eq!(b.region(), Some("us-east-1"));
    assert_eq!(
        b.db_instance_identifier(),
        Some("checkout-prod-orders-us-east-1")
    );
    assert_eq!(b.status(), Some("replicating"));
    assert_eq!(b.backup_retention_period(), Some(14));
    assert!(
        replicated_into(&s.proxy, "us-west-2").await.is_empty(),
        "a warm standby has a replica instead"
    );
    let primary = aws_sdk_rds::Client::new(&s.proxy.sdk_config("us-east-1").await)
        .describe_db_instances()
        .db_instance_identifier("checkout-prod-orders-us-east-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        primary.db_instances()[0].backup_retention_period(),
        Some(14)
    );

    let state = s.ws.state("prod");
    let address = "region.eu-west-1.database.orders.backups";
    let recorded = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == address)
        .unwrap_or_else(|| panic!("{address} is not in the state"));
    assert_eq!(
        recorded["id"],
        b.db_instance_automated_backups_arn().unwrap()
    );
    let plan =
        s.ws.run(&["plan", "environments/prod", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
}
