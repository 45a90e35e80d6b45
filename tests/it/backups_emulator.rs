//! Backups that survive losing two regions (issue 19): the primary's automated backups
//! replicated into the cold standby, and a promote of the cold standby restoring from them
//! with every other region down. The real binary through the test proxy in strict mode
//! (moto 5.2.5 lacks automated-backups replication: the rule
//! `rds.automated-backups-replication` models it), read back through the SDK.

use crate::support::aws;
use crate::support::proxy::Proxy;
use crate::support::specs::{self, DR};
use crate::support::workspace::Workspace;
use crate::support::Emulator;
use aws_sdk_rds::types::DbInstanceAutomatedBackup;

struct Setup {
    emulator: Emulator,
    proxy: Proxy,
    ws: Workspace,
}

/// `spec` applied through the strict proxy, AWS's durations times `scale`.
fn applied(spec: &str, scale: f64) -> Setup {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(scale);
    let ws = Workspace::new(proxy.env());
    ws.write("environments/prod/main.hcl", spec);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    Setup {
        emulator,
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
    // RDS's minutes of `creating` or `pending` last about a second here.
    let s = applied(&spec, 0.002);

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

#[tokio::test]
async fn promote_of_the_cold_standby_with_both_other_regions_down_restores_from_its_backups() {
    // An RPO of 1s, below the 3 s by which the latest restorable time trails here (RDS's
    // five minutes times 0.01), so the gate refuses first.
    let spec = specs::replace_once(DR, "rpo = \"5m\"", "rpo = \"1s\"");
    let s = applied(&spec, 0.01);
    s.proxy.refuse_region("us-east-1");
    s.proxy.refuse_region("us-west-2");
    s.proxy.clear();
    let promote = [
        "promote",
        "eu-west-1",
        "environments/prod",
        "--assume-down",
        "us-east-1",
        "--assume-down",
        "us-west-2",
        "--auto-approve",
    ];
    let refused = s.ws.run(&promote);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("the latest restorable time of the backups replicated into eu-west-1 is")
            && refused.stderr.contains("beyond the rpo of 1s")
            && refused.stderr.contains("--accept-data-loss"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        s.ws.state("prod")["roles"]["eu-west-1"],
        "cold-standby",
        "nothing changed"
    );

    let accepted: Vec<&str> = promote
        .iter()
        .copied()
        .chain(["--accept-data-loss"])
        .collect();
    let run = s.ws.run(&accepted).ok();
    assert!(run.stderr.contains("data loss accepted"), "{}", run.stderr);

    let rds = aws_sdk_rds::Client::new(&s.proxy.sdk_config("eu-west-1").await);
    let out = rds
        .describe_db_instances()
        .db_instance_identifier("checkout-prod-orders-eu-west-1")
        .send()
        .await
        .unwrap();
    let db = &out.db_instances()[0];
    assert_eq!(db.db_instance_status(), Some("available"));
    assert_eq!(
        db.read_replica_source_db_instance_identifier(),
        None,
        "writable"
    );
    assert_eq!(
        db.engine(),
        Some("postgres"),
        "the source's engine, restored"
    );
    let seen = s.proxy.seen();
    assert!(
        seen.iter()
            .any(|c| c.region == "eu-west-1" && c.operation == "RestoreDBInstanceToPointInTime"),
        "restored from the replicated backups"
    );
    let down: Vec<_> = seen
        .iter()
        .filter(|c| {
            matches!(c.region.as_str(), "us-east-1" | "us-west-2")
                && !matches!(c.service.as_str(), "route53" | "iam" | "sts")
        })
        .map(|c| format!("{} {} {}", c.service, c.region, c.operation))
        .collect();
    assert!(
        down.is_empty(),
        "no call to a region assumed down: {down:?}"
    );
    let running =
        aws::environment_instances(&s.emulator, "eu-west-1", &["pending", "running"]).await;
    assert_eq!(running.len(), 4, "the web cluster at full size");

    let state = s.ws.state("prod");
    assert_eq!(state["roles"]["eu-west-1"], "primary");
    assert_eq!(state["roles"]["us-east-1"], "failed");
    assert_eq!(state["roles"]["us-west-2"], "failed");
    let entry = state["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(entry["operation"], "promote eu-west-1");
    assert_eq!(entry["details"]["accept_data_loss"], true);
    let gate = &entry["details"]["gate"];
    assert_eq!(gate["accepted_data_loss"], true, "{gate}");
    assert!(
        gate["backup_age"].is_string() && gate["restore_time"].is_string(),
        "{gate}"
    );
    assert!(
        !state["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["address"] == "region.eu-west-1.database.orders.backups"),
        "the new primary replicates nowhere into itself"
    );
}

#[tokio::test]
async fn promote_of_a_cold_standby_without_replicated_backups_is_refused() {
    let s = applied(DR, 0.002);
    s.ws.run(&[
        "state",
        "rm",
        "region.eu-west-1.database.orders.backups",
        "environments/prod",
    ])
    .ok();
    s.proxy.refuse_region("us-east-1");
    s.proxy.refuse_region("us-west-2");
    let refused = s.ws.run(&[
        "promote",
        "eu-west-1",
        "environments/prod",
        "--assume-down",
        "us-east-1",
        "--assume-down",
        "us-west-2",
        "--auto-approve",
        "--accept-data-loss",
    ]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let error = refused
        .stderr
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or_default();
    insta::assert_snapshot!(error);
    assert_eq!(s.ws.state("prod")["roles"]["eu-west-1"], "cold-standby");

    let rebuild = s.ws.run(&[
        "rebuild",
        "eu-west-1",
        "environments/prod",
        "--role",
        "primary",
    ]);
    assert_eq!(rebuild.code, 1);
    assert!(
        rebuild
            .stderr
            .contains("run `standby promote eu-west-1` with --assume-down for each of them"),
        "{}",
        rebuild.stderr
    );

    // With the warm standby up, it is the one to promote.
    let run = s.ws.run(&[
        "promote",
        "eu-west-1",
        "environments/prod",
        "--assume-down",
        "us-east-1",
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("while us-west-2 is not assumed down: promote a warm standby"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_cold_standby_drill_restores_from_its_replicated_backups_without_a_snapshot() {
    let s = applied(DR, 0.002);
    s.proxy.clear();
    let drill =
        s.ws.run(&["drill", "eu-west-1", "environments/prod", "--auto-approve"]);
    assert_eq!(drill.code, 0, "{}{}", drill.stdout, drill.stderr);
    let seen = s.proxy.seen();
    assert!(
        seen.iter()
            .any(|c| c.region == "eu-west-1" && c.operation == "RestoreDBInstanceToPointInTime"),
        "restored from the replicated backups"
    );
    let snapshots: Vec<_> = seen
        .iter()
        .filter(|c| c.operation.contains("DBSnapshot") && c.operation != "DescribeDBSnapshots")
        .map(|c| format!("{} {}", c.region, c.operation))
        .collect();
    assert!(
        snapshots.is_empty(),
        "no snapshot of the primary: {snapshots:?}"
    );
    assert!(
        drill.stdout.contains("Verdict: **met the RTO**"),
        "{}",
        drill.stdout
    );
    // The drill's instance is gone; the replicated backups stay.
    let rds = aws_sdk_rds::Client::new(&s.proxy.sdk_config("eu-west-1").await);
    let left = rds.describe_db_instances().send().await.unwrap();
    assert!(left.db_instances().is_empty(), "{:?}", left.db_instances());
    assert_eq!(replicated_into(&s.proxy, "eu-west-1").await.len(), 1);
}

#[tokio::test]
async fn after_a_promote_the_cold_standbys_backups_follow_the_new_primary() {
    let s = applied(DR, 0.002);
    aws::publish_lag(
        &s.emulator,
        "us-west-2",
        "checkout-prod-orders-us-west-2",
        1.0,
    )
    .await;
    s.ws.run(&[
        "promote",
        "us-west-2",
        "environments/prod",
        "--auto-approve",
    ])
    .ok();

    let backups = replicated_into(&s.proxy, "eu-west-1").await;
    let sources: Vec<_> = backups.iter().map(|b| b.db_instance_identifier()).collect();
    assert_eq!(
        sources,
        [Some("checkout-prod-orders-us-west-2")],
        "{backups:?}"
    );
    assert_eq!(backups[0].region(), Some("us-west-2"));
    let seen = s.proxy.seen();
    for op in [
        "StopDBInstanceAutomatedBackupsReplication",
        "StartDBInstanceAutomatedBackupsReplication",
    ] {
        assert!(
            seen.iter()
                .any(|c| c.region == "eu-west-1" && c.operation == op),
            "{op} in eu-west-1"
        );
    }
    let plan =
        s.ws.run(&["plan", "environments/prod", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
}

/// The rows of `check --region eu-west-1 --format json` about the replicated backups.
fn backup_rows(s: &Setup) -> (i32, Vec<serde_json::Value>) {
    let run = s.ws.run(&[
        "check",
        "environments/prod",
        "--region",
        "eu-west-1",
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_default();
    let rows = doc["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["check"] == "replicated_backups" || r["check"] == "backup_retention")
        .cloned()
        .collect();
    (run.code, rows)
}

#[tokio::test]
async fn check_holds_the_cold_standbys_backups_to_the_rpo_and_their_retention_to_the_spec() {
    let s = applied(DR, 0.002);
    let (code, rows) = backup_rows(&s);
    assert_eq!(code, 0, "{rows:?}");
    let [age, retention] = &rows[..] else {
        panic!("two rows: {rows:?}")
    };
    assert_eq!(age["check"], "replicated_backups");
    assert_eq!(age["backups"], "region.eu-west-1.database.orders.backups");
    assert_eq!(age["verdict"], "ready", "{age}");
    assert_eq!(age["threshold"]["value"], 300.0, "the rpo");
    assert!(age["measured"]["value"].as_f64().unwrap() < 300.0, "{age}");
    assert_eq!(retention["verdict"], "ready", "{retention}");
    assert_eq!(
        retention["measured"],
        serde_json::json!({"unit": "days", "value": 7})
    );

    // The spec asks for two weeks, not applied yet.
    let longer = specs::replace_once(
        DR,
        "instance_class = \"db.t3.micro\"",
        "instance_class = \"db.t3.micro\"\n  backup         = 14",
    );
    s.ws.write("environments/prod/main.hcl", &longer);
    let (code, rows) = backup_rows(&s);
    assert_eq!(code, 2, "{rows:?}");
    let retention = &rows[1];
    assert_eq!(retention["verdict"], "not_ready", "{retention}");
    assert_eq!(retention["measured"]["value"], 7);
    assert_eq!(retention["threshold"]["value"], 14);
    let text =
        s.ws.run(&["check", "environments/prod", "--region", "eu-west-1"]);
    assert!(
        text.stdout
            .contains("retention of region.eu-west-1.database.orders.backups"),
        "{}",
        text.stdout
    );
}
