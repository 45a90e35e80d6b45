//! Promote, rebuild and failback end to end: the real binary through the project's test
//! proxy in front of the emulator, read back through the SDK.

use crate::support::aws::{
    self, load_balancer_names, primary_record, replication_targets, running_public_ips,
};
use crate::support::proxy::Proxy;
use crate::support::specs::DR;
use crate::support::workspace::Workspace;
use crate::support::Emulator;

struct Setup {
    emulator: Emulator,
    proxy: Proxy,
    ws: Workspace,
}

/// An applied environment whose commands go through the proxy.
fn setup() -> Setup {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let ws = Workspace::new(proxy.env());
    ws.write("environments/prod/main.hcl", DR);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    Setup {
        emulator,
        proxy,
        ws,
    }
}

async fn publish_lag(emulator: &Emulator, identifier: &str, seconds: f64) {
    aws::publish_lag(emulator, "us-west-2", identifier, seconds).await;
}

async fn replica_source(emulator: &Emulator, region: &str) -> Option<String> {
    let rds = aws::rds(emulator, region).await;
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(format!("checkout-prod-orders-{region}"))
        .send()
        .await
        .unwrap();
    out.db_instances()[0]
        .read_replica_source_db_instance_identifier()
        .map(str::to_string)
}

#[tokio::test]
async fn promote_refuses_a_replica_lagging_beyond_the_rpo_unless_data_loss_is_accepted() {
    let s = setup();
    publish_lag(&s.emulator, "checkout-prod-orders-us-west-2", 600.0).await;
    let refused = s.ws.run(&[
        "promote",
        "us-west-2",
        "environments/prod",
        "--auto-approve",
    ]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("replica lag 10m in us-west-2 exceeds the rpo of 5m"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--accept-data-loss"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        s.ws.state("prod")["roles"]["us-east-1"],
        "primary",
        "nothing changed"
    );

    let forced =
        s.ws.run(&[
            "promote",
            "us-west-2",
            "environments/prod",
            "--auto-approve",
            "--accept-data-loss",
        ])
        .ok();
    assert!(
        forced.stderr.contains("data loss accepted"),
        "{}",
        forced.stderr
    );
    let state = s.ws.state("prod");
    assert_eq!(state["roles"]["us-west-2"], "primary");
    assert_eq!(state["roles"]["us-east-1"], "failed");
    let entry = state["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(entry["operation"], "promote us-west-2");
    assert_eq!(entry["details"]["accept_data_loss"], true);
    assert_eq!(entry["details"]["gate"]["accepted_data_loss"], true);
    assert!(
        entry["steps"].as_array().unwrap().len() > 3,
        "each step is timed: {entry}"
    );
}

#[tokio::test]
async fn failover_with_the_primary_down_then_failback_restores_the_layout() {
    let s = setup();
    let status = s.ws.run(&["status", "environments/prod"]).ok();
    assert!(
        status.stdout.contains("us-east-1  primary       primary"),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("4/4"), "{}", status.stdout);

    publish_lag(&s.emulator, "checkout-prod-orders-us-west-2", 3.0).await;
    s.proxy.refuse_region("us-east-1");
    s.proxy.clear();
    let promoted =
        s.ws.run(&[
            "promote",
            "us-west-2",
            "environments/prod",
            "--assume-down",
            "us-east-1",
            "--auto-approve",
        ])
        .ok();
    assert!(
        promoted.stderr.contains("us-west-2 is the primary after"),
        "{}",
        promoted.stderr
    );
    assert!(
        promoted.stderr.contains("rto 15m: met"),
        "{}",
        promoted.stderr
    );
    let regional_in_east: Vec<_> = s
        .proxy
        .seen()
        .into_iter()
        .filter(|r| r.region == "us-east-1" && r.service != "route53" && r.service != "iam")
        .collect();
    assert!(
        regional_in_east.is_empty(),
        "requests went to us-east-1: {regional_in_east:?}"
    );
    assert_eq!(s.proxy.refused_count("us-east-1"), 0);

    assert_eq!(
        running_public_ips(&s.emulator, "us-west-2").await.len(),
        4,
        "the new primary runs the full size"
    );
    let (set, values) = primary_record(&s.emulator).await;
    assert_eq!(set, "us-west-2");
    assert_eq!(values, load_balancer_names(&s.emulator, "us-west-2").await);
    assert_eq!(
        replication_targets(&s.emulator, "us-west-2").await,
        ["arn:aws:s3:::checkout-prod-receipts-eu-west-1"],
        "the new primary replicates to the remaining standby"
    );
    let status = s.ws.run(&["status", "environments/prod"]).ok();
    assert!(
        status.stdout.contains("us-east-1  failed        primary"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("last promote: promote us-west-2"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("unreachable"),
        "the region that is down shows as such: {}",
        status.stdout
    );

    // The old region comes back: writable, replicating, a second primary nothing fenced.
    s.proxy.restore_region("us-east-1");
    let status = s.ws.run(&["status", "environments/prod"]).ok();
    assert!(
        status.stdout.contains(
            "split brain: us-east-1 is failed but still has a writable database, a bucket that replicates"
        ),
        "{}",
        status.stdout
    );
    // Rebuild it as a replica of the new primary: fenced first.
    s.ws.run(&[
        "rebuild",
        "us-east-1",
        "environments/prod",
        "--auto-approve",
    ])
    .ok();
    let source = replica_source(&s.emulator, "us-east-1")
        .await
        .expect("a read replica");
    assert!(
        source.contains("checkout-prod-orders-us-west-2"),
        "{source}"
    );
    assert_eq!(
        running_public_ips(&s.emulator, "us-east-1").await.len(),
        2,
        "warm standby size"
    );
    let rebuild = s.ws.state("prod")["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let mut steps: Vec<_> = rebuild["steps"].as_array().unwrap().clone();
    steps.sort_by_key(|st| st["started_at"].as_str().unwrap().to_string());
    let first: Vec<&str> = steps[..2]
        .iter()
        .map(|st| st["name"].as_str().unwrap())
        .collect();
    assert!(
        first.contains(&"delete region.us-east-1.bucket.receipts.replication")
            && first.contains(&"delete (replace) region.us-east-1.database.orders"),
        "the rebuild fences first: {steps:?}"
    );
    let status = s.ws.run(&["status", "environments/prod"]).ok();
    assert!(!status.stdout.contains("split brain"), "{}", status.stdout);
    let snapshots = aws::rds(&s.emulator, "us-east-1")
        .await
        .describe_db_snapshots()
        .send()
        .await
        .unwrap();
    assert!(
        snapshots.db_snapshots().iter().any(|x| x
            .db_snapshot_identifier()
            .unwrap_or_default()
            .starts_with("checkout-prod-orders-us-east-1-final-")),
        "the stale standalone database left a final snapshot"
    );

    // Failback: promote the original primary and rebuild the original standby.
    s.ws.run(&[
        "promote",
        "us-east-1",
        "environments/prod",
        "--auto-approve",
    ])
    .ok();
    s.ws.run(&[
        "rebuild",
        "us-west-2",
        "environments/prod",
        "--auto-approve",
    ])
    .ok();
    s.ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
    let (set, values) = primary_record(&s.emulator).await;
    assert_eq!(set, "us-east-1");
    assert_eq!(values, load_balancer_names(&s.emulator, "us-east-1").await);
    assert_eq!(
        replication_targets(&s.emulator, "us-east-1").await,
        [
            "arn:aws:s3:::checkout-prod-receipts-eu-west-1",
            "arn:aws:s3:::checkout-prod-receipts-us-west-2"
        ]
    );
    let state = s.ws.state("prod");
    assert_eq!(state["roles"]["us-east-1"], "primary");
    assert_eq!(state["roles"]["us-west-2"], "warm-standby");
}

#[tokio::test]
async fn promote_completes_with_a_tenth_of_requests_failing() {
    let s = setup();
    publish_lag(&s.emulator, "checkout-prod-orders-us-west-2", 1.0).await;
    s.proxy.inject_failures(0.1, 42);
    let promoted =
        s.ws.run(&[
            "promote",
            "us-west-2",
            "environments/prod",
            "--auto-approve",
        ])
        .ok();
    assert!(s.proxy.injected_count() > 0, "failures were injected");
    assert!(!promoted.stderr.contains("not made"), "{}", promoted.stderr);
    s.proxy.inject_failures(0.0, 0);
    assert_eq!(running_public_ips(&s.emulator, "us-west-2").await.len(), 4);
    let (set, _) = primary_record(&s.emulator).await;
    assert_eq!(set, "us-west-2");
    s.ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
}
