//! A real regional outage: us-east-1's regional endpoints and also every Route 53, IAM and
//! STS request refused by the project's test proxy. Promote with `--assume-down` plans from
//! the state's view of what it could not read, completes what it can and lists the DNS
//! changes it could not make; `apply` finishes them once the outage is over. Read back from
//! the emulator through the SDK.

use crate::dr_fence::{assert_no_version_with_two_primaries, assert_one_primary, fence_on_return};
use crate::support::aws::{
    self, load_balancer_names, primary_record, replication_targets, running_public_ips,
};
use crate::support::proxy::{Proxy, Seen};
use crate::support::specs::DR;
use crate::support::workspace::Workspace;
use crate::support::Emulator;
use std::collections::BTreeMap;

const GLOBAL: [&str; 3] = ["route53", "iam", "sts"];

#[tokio::test]
async fn promote_completes_with_the_global_control_planes_down_and_apply_finishes_dns() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let ws = Workspace::new(proxy.env());
    ws.write("environments/prod/main.hcl", DR);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    aws::publish_lag(
        &emulator,
        "us-west-2",
        "checkout-prod-orders-us-west-2",
        2.0,
    )
    .await;
    let (before, _) = primary_record(&emulator).await;
    assert_eq!(before, "us-east-1");

    proxy.refuse_region("us-east-1");
    for service in GLOBAL {
        proxy.refuse_service(service);
    }
    proxy.clear();
    let promoted = ws
        .run(&[
            "promote",
            "us-west-2",
            "environments/prod",
            "--assume-down",
            "us-east-1",
            "--auto-approve",
            // Long: what the control planes refuse falls back at once, not at the timeout.
            "--operation-timeout",
            "10m",
        ])
        .ok();
    for plane in ["route 53", "iam"] {
        assert!(
            promoted.stdout.contains(&format!(
                "note: {plane} could not be read, so the state's last view of"
            )),
            "{}",
            promoted.stdout
        );
    }
    assert!(
        promoted.stdout.contains("dns.api.zone"),
        "the unread resources are named: {}",
        promoted.stdout
    );
    assert!(
        promoted.stderr.contains("us-west-2 is the primary after"),
        "{}",
        promoted.stderr
    );
    let not_made: Vec<&str> = promoted
        .stderr
        .lines()
        .filter(|l| l.contains(" not made: "))
        .collect();
    assert!(
        !not_made.is_empty()
            && not_made
                .iter()
                .all(|l| l.contains("run `standby apply` when Route 53 answers")),
        "{}",
        promoted.stderr
    );
    assert!(
        not_made
            .iter()
            .any(|l| l.contains("dns.api.record.us-west-2")),
        "{}",
        promoted.stderr
    );
    let refused_global = proxy
        .seen()
        .iter()
        .filter(|r| GLOBAL.contains(&r.service.as_str()) && r.status == 503)
        .count();
    assert!(refused_global > 0, "the global control planes were asked");
    let regional_in_east: Vec<_> = proxy
        .seen()
        .into_iter()
        .filter(|r| r.region == "us-east-1" && !GLOBAL.contains(&r.service.as_str()))
        .collect();
    assert!(
        regional_in_east.is_empty(),
        "requests went to us-east-1: {regional_in_east:?}"
    );

    // What the promote could do without the global control planes is done.
    let state = ws.state("prod");
    assert_eq!(state["roles"]["us-west-2"], "primary");
    assert_eq!(state["roles"]["us-east-1"], "failed");
    assert_eq!(
        aws::database_standing(&emulator, "us-west-2")
            .await
            .as_deref(),
        Some("standalone"),
        "the replica was promoted"
    );
    assert_eq!(running_public_ips(&emulator, "us-west-2").await.len(), 4);
    assert_eq!(
        replication_targets(&emulator, "us-west-2").await,
        ["arn:aws:s3:::checkout-prod-receipts-eu-west-1"],
        "replication re-pointed"
    );
    let (set, _) = primary_record(&emulator).await;
    assert_eq!(set, "us-east-1", "no DNS change was made");

    // A refused call is tried a few times, not until the operation timeout: the same
    // request is never seen more than three times (the default would retry it 25 times).
    assert_brief(&proxy.seen(), |r| GLOBAL.contains(&r.service.as_str()));
    assert!(
        !promoted.stdout.contains("timed out") && promoted.stdout.contains("(standby test proxy)"),
        "the fallback names the refusal: {}",
        promoted.stdout
    );

    // Route 53, IAM and STS answer again, us-east-1 is still down: apply finishes the DNS
    // steps, leaving the failed region as the state saw it, and then nothing is left to do.
    for service in GLOBAL {
        proxy.restore_service(service);
    }
    proxy.clear();
    let applied = ws
        .run(&[
            "apply",
            "environments/prod",
            "--auto-approve",
            "--operation-timeout",
            "10m",
        ])
        .ok();
    assert!(
        applied.stdout.contains(
            "note: region us-east-1 is failed in the state and could not be read, so nothing is planned there"
        ),
        "{}",
        applied.stdout
    );
    assert_brief(&proxy.seen(), |r| {
        r.region == "us-east-1" && !GLOBAL.contains(&r.service.as_str())
    });
    assert!(
        proxy.seen().iter().all(|r| r.region != "us-east-1"
            || r.status == 503
            || GLOBAL.contains(&r.service.as_str())),
        "nothing reached us-east-1"
    );
    let (set, values) = primary_record(&emulator).await;
    assert_eq!(set, "us-west-2");
    assert_eq!(values, load_balancer_names(&emulator, "us-west-2").await);
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
    // Drift works too: the failed region it cannot read is named, not an error.
    let drift = ws.run(&["drift", "environments/prod"]);
    assert_ne!(drift.code, 1, "{}", drift.stderr);
    let said = format!("{}{}", drift.stdout, drift.stderr);
    assert!(
        said.contains("region us-east-1 is failed in the state and could not be read"),
        "{said}"
    );
    assert!(
        replication_targets(&emulator, "us-east-1")
            .await
            .contains(&"arn:aws:s3:::checkout-prod-receipts-us-west-2".to_string()),
        "the old primary still replicates: nothing reached it"
    );

    assert_one_primary(&ws);

    // us-east-1 is back: the next apply reaches it and fences it first (its replication into
    // the new primary removed, its database stopped), then nothing is left to do.
    proxy.restore_region("us-east-1");
    fence_on_return(&emulator, &ws).await;
}

/// The requests `picked` that the proxy refused (503) were tried briefly: each operation at
/// most three times for each of the few concurrent calls that make it (nine), where the
/// default budget (25 retries) would send every call 26 times.
fn assert_brief(seen: &[Seen], picked: impl Fn(&Seen) -> bool) {
    let mut refused: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for r in seen.iter().filter(|r| picked(r) && r.status == 503) {
        *refused.entry((&r.service, &r.operation)).or_default() += 1;
    }
    assert!(!refused.is_empty(), "something was refused");
    assert!(
        refused.values().all(|n| *n <= 9),
        "retried past the brief budget: {refused:?}"
    );
}

/// The DR environment with its state in us-east-1 and a replica in us-west-2.
const BACKEND: &str = r#"
standby {
  backend "s3" {
    bucket = "standby-state"
    key    = "envs/prod.json"
    region = "us-east-1"
    replica {
      bucket = "standby-state-west"
      region = "us-west-2"
    }
  }
}
"#;

async fn state_object(s3: &aws_sdk_s3::Client, bucket: &str) -> serde_json::Value {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key("envs/prod.json")
        .send()
        .await
        .expect("the state object");
    serde_json::from_slice(&out.body.collect().await.unwrap().into_bytes()).unwrap()
}

#[tokio::test]
async fn with_the_state_in_the_failed_region_apply_finishes_dns_on_the_replica_and_reconciles() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let (east, west) = (
        emulator.s3("us-east-1").await,
        emulator.s3("us-west-2").await,
    );
    east.create_bucket()
        .bucket("standby-state")
        .send()
        .await
        .unwrap();
    west.create_bucket()
        .bucket("standby-state-west")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for (s3, bucket) in [(&east, "standby-state"), (&west, "standby-state-west")] {
        aws::set_versioning(
            s3,
            bucket,
            aws_sdk_s3::types::BucketVersioningStatus::Enabled,
        )
        .await;
    }
    let ws = Workspace::new(proxy.env());
    ws.write("environments/prod/main.hcl", &format!("{BACKEND}{DR}"));
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    aws::publish_lag(
        &emulator,
        "us-west-2",
        "checkout-prod-orders-us-west-2",
        2.0,
    )
    .await;

    // us-east-1 down while it is still the primary: apply needs the state's region.
    proxy.refuse_region("us-east-1");
    let refused = ws.run(&["apply", "environments/prod", "--auto-approve"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("the state's region us-east-1 does not answer, and it is not failed in the state replica"),
        "{}",
        refused.stderr
    );

    for service in GLOBAL {
        proxy.refuse_service(service);
    }
    ws.run(&[
        "promote",
        "us-west-2",
        "environments/prod",
        "--assume-down",
        "us-east-1",
        "--auto-approve",
    ])
    .ok();
    let (set, _) = primary_record(&emulator).await;
    assert_eq!(set, "us-east-1", "no DNS change was made");

    // Route 53 answers again, us-east-1 does not: apply runs on the replica.
    for service in GLOBAL {
        proxy.restore_service(service);
    }
    let applied = ws
        .run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    assert!(
        applied
            .stderr
            .contains("apply reads, locks and writes the state replica s3://standby-state-west/envs/prod.json in us-west-2"),
        "{}",
        applied.stderr
    );
    let (set, _) = primary_record(&emulator).await;
    assert_eq!(set, "us-west-2");
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
    let (before, replica) = (
        state_object(&east, "standby-state").await,
        state_object(&west, "standby-state-west").await,
    );
    assert_eq!(
        before["roles"]["us-east-1"], "primary",
        "untouched in us-east-1"
    );
    assert_eq!(replica["roles"]["us-east-1"], "failed");
    let ops: Vec<&str> = replica["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["apply", "promote us-west-2", "apply"]);

    // us-east-1 is back: the next apply reconciles the two states, then fences it.
    proxy.restore_region("us-east-1");
    let back = ws
        .run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    assert!(
        back.stderr.contains(
            "reconciled the state: s3://standby-state/envs/prod.json in us-east-1 was at serial"
        ),
        "{}",
        back.stderr
    );
    assert!(replication_targets(&emulator, "us-east-1").await.is_empty());
    let old = aws::rds(&emulator, "us-east-1")
        .await
        .describe_db_instances()
        .db_instance_identifier("checkout-prod-orders-us-east-1")
        .send()
        .await
        .unwrap();
    assert_eq!(old.db_instances()[0].db_instance_status(), Some("stopped"));
    assert_eq!(
        state_object(&east, "standby-state").await,
        state_object(&west, "standby-state-west").await
    );
    for (s3, bucket) in [(&east, "standby-state"), (&west, "standby-state-west")] {
        assert_no_version_with_two_primaries(s3, bucket, "envs/prod.json").await;
    }
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
}
