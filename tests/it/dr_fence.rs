//! Fence on return: after a promote with `--assume-down us-east-1`, us-east-1 answers again
//! with a writable database and a bucket that replicates into the new primary. status, drift
//! and plan warn of the split brain; the next apply fences it before anything else (its
//! database stopped after a snapshot, its replication removed); then nothing is left to do,
//! and a rebuild still replaces the stopped database. Read back from the emulator through
//! the SDK.

use crate::support::aws::{self, replication_targets};
use crate::support::workspace::Workspace;
use crate::support::Emulator;

/// The old primary's database.
const OLD: &str = "checkout-prod-orders-us-east-1";

/// With us-east-1 failed in the state and answering again: the warnings, the fence, and a
/// rebuild of the fenced region.
pub async fn fence_on_return(emulator: &Emulator, ws: &Workspace) {
    let status = ws.run(&["status", "environments/prod"]).ok();
    assert!(
        status.stdout.contains(
            "warning: split brain: us-east-1 is failed but still has a writable database, a bucket that replicates: run `standby apply` to fence it"
        ),
        "{}",
        status.stdout
    );
    let drift = ws.run(&["drift", "environments/prod"]);
    assert_ne!(drift.code, 1, "{}", drift.stderr);
    let said = format!("{}{}", drift.stdout, drift.stderr);
    assert!(
        said.contains("split brain: us-east-1 is failed but still has a writable database"),
        "{said}"
    );

    let plan = ws.run(&["plan", "environments/prod", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains(
            "warning: split brain: us-east-1 is failed but still has a writable database, a bucket that replicates: this plan fences it first"
        ),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(
            "~ region.us-east-1.database.orders (fence: the failed region's database stops after a final snapshot)"
        ) && plan.stdout.contains(
            "- region.us-east-1.bucket.receipts.replication (fence: the failed primary's bucket stops replicating)"
        ),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("AWS starts a stopped database again after 7 days, and the next `standby plan` or `apply` stops it again"),
        "{}",
        plan.stdout
    );
    let json = ws.run(&["plan", "environments/prod", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        doc["split_brain"],
        serde_json::json!([
            "split brain: us-east-1 is failed but still has a writable database, a bucket that replicates"
        ]),
        "{}",
        json.stdout
    );
    let stops: Vec<&str> = doc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "stop")
        .map(|a| a["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        stops,
        ["region.us-east-1.database.orders"],
        "{}",
        json.stdout
    );
    let heads: Vec<&str> = plan
        .stdout
        .lines()
        .filter(|l| l.starts_with("-/+ ") || (l.starts_with("  ") && !l.starts_with("   ")))
        .collect();
    assert!(
        heads.len() >= 2 && heads[..2].iter().all(|h| h.contains("(fence: ")),
        "the fence is listed first: {heads:?}"
    );

    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    let rds = aws::rds(emulator, "us-east-1").await;
    let old = rds
        .describe_db_instances()
        .db_instance_identifier(OLD)
        .send()
        .await
        .unwrap();
    assert_eq!(
        old.db_instances()[0].db_instance_status(),
        Some("stopped"),
        "the old primary's database is out of service, not deleted"
    );
    let snapshots = rds
        .describe_db_snapshots()
        .db_instance_identifier(OLD)
        .send()
        .await
        .unwrap();
    assert!(
        snapshots.db_snapshots().iter().any(|s| s
            .db_snapshot_identifier()
            .unwrap_or_default()
            .starts_with(&format!("{OLD}-fence-"))),
        "the stop left a snapshot: {:?}",
        snapshots.db_snapshots()
    );
    assert!(replication_targets(emulator, "us-east-1").await.is_empty());
    let state = ws.state("prod");
    let entry = state["history"].as_array().unwrap().last().unwrap();
    let mut steps = entry["steps"].as_array().unwrap().clone();
    steps.sort_by_key(|st| st["started_at"].as_str().unwrap().to_string());
    let first: Vec<&str> = steps[..2]
        .iter()
        .map(|st| st["name"].as_str().unwrap())
        .collect();
    assert!(
        first.contains(&"stop region.us-east-1.database.orders")
            && first.contains(&"delete region.us-east-1.bucket.receipts.replication"),
        "the apply fences first: {steps:?}"
    );
    assert_one_primary(ws);

    // Fenced: no warning, and a second apply has nothing to stop.
    let status = ws.run(&["status", "environments/prod"]).ok();
    assert!(!status.stdout.contains("split brain"), "{}", status.stdout);
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.starts_with("us-east-1") && l.contains("stopped")),
        "{}",
        status.stdout
    );
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
    let drift = ws.run(&["drift", "environments/prod"]);
    let said = format!("{}{}", drift.stdout, drift.stderr);
    assert!(!said.contains("split brain"), "{said}");
    assert!(
        !said.contains(OLD),
        "a stopped database is no drift: {said}"
    );

    // A rebuild replaces the stopped database with a replica of the new primary.
    ws.run(&[
        "rebuild",
        "us-east-1",
        "environments/prod",
        "--auto-approve",
    ])
    .ok();
    let rebuilt = rds
        .describe_db_instances()
        .db_instance_identifier(OLD)
        .send()
        .await
        .unwrap();
    let source = rebuilt.db_instances()[0]
        .read_replica_source_db_instance_identifier()
        .unwrap_or_default()
        .to_string();
    assert!(
        source.contains("checkout-prod-orders-us-west-2"),
        "{source}"
    );
    assert_one_primary(ws);
}

/// The local state records exactly one primary.
pub fn assert_one_primary(ws: &Workspace) {
    let state = ws.state("prod");
    assert_eq!(primaries(&state), 1, "{}", state["roles"]);
}

/// How many regions a state records as primary.
pub fn primaries(state: &serde_json::Value) -> usize {
    state["roles"].as_object().map_or(0, |roles| {
        roles.values().filter(|r| *r == "primary").count()
    })
}

/// Every version of the state object `key` in `bucket` records at most one primary.
pub async fn assert_no_version_with_two_primaries(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) {
    let versions = s3
        .list_object_versions()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = versions
        .versions()
        .iter()
        .filter(|v| v.key() == Some(key))
        .filter_map(|v| v.version_id())
        .collect();
    assert!(ids.len() > 1, "the bucket keeps versions: {ids:?}");
    for id in ids {
        let out = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .version_id(id)
            .send()
            .await
            .unwrap();
        let state: serde_json::Value =
            serde_json::from_slice(&out.body.collect().await.unwrap().into_bytes()).unwrap();
        assert!(
            primaries(&state) <= 1,
            "version {id} of s3://{bucket}/{key}: {}",
            state["roles"]
        );
    }
}
