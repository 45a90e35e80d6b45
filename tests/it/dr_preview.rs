//! `promote --out` and `--json`: the promote plan previewed without a terminal, run later by
//! `apply FILE`, and its recovery-time estimate, from defaults and then from the history.

use crate::support::aws::{self, primary_record, replication_targets, running_public_ips};
use crate::support::proxy::Proxy;
use crate::support::specs::DR;
use crate::support::workspace::Workspace;
use crate::support::Emulator;

#[tokio::test]
async fn a_saved_promote_plan_applies_later_and_the_next_estimate_uses_recorded_durations() {
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

    // The test's standby has no terminal: the preview neither asks nor changes anything.
    let preview = ws
        .run(&[
            "promote",
            "us-west-2",
            "environments/prod",
            "--out",
            "promote.plan",
        ])
        .ok();
    let estimate = &preview.stdout[preview
        .stdout
        .find("estimated recovery")
        .expect("an estimate")..];
    insta::assert_snapshot!("promote_estimate", redact_recorded(estimate));
    assert!(
        preview.stderr.contains("standby apply promote.plan"),
        "{}",
        preview.stderr
    );
    assert_eq!(
        ws.state("prod")["roles"]["us-east-1"],
        "primary",
        "nothing changed"
    );
    assert_eq!(ws.state("prod")["roles"]["us-west-2"], "warm-standby");

    let plan_file = ws.path().join("promote.plan");
    ws.run(&["apply", plan_file.to_str().unwrap(), "--auto-approve"])
        .ok();
    let state = ws.state("prod");
    assert_eq!(state["roles"]["us-west-2"], "primary");
    assert_eq!(state["roles"]["us-east-1"], "failed");
    assert!(
        state["journal"].is_null(),
        "the promote finished: {}",
        state["journal"]
    );
    let entry = state["history"].as_array().unwrap().last().unwrap();
    assert_eq!(entry["operation"], "promote us-west-2");
    // The end state of a direct promote, read back from the emulator.
    assert_eq!(
        replication_targets(&emulator, "us-west-2").await,
        ["arn:aws:s3:::checkout-prod-receipts-eu-west-1"],
        "the new primary replicates to the remaining standby"
    );
    let db = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "region.us-west-2.database.orders")
        .expect("the promoted database");
    assert!(db["attrs"]["replica_of"].is_null(), "{db}");
    assert_eq!(
        running_public_ips(&emulator, "us-west-2").await.len(),
        4,
        "full size"
    );
    assert_eq!(primary_record(&emulator).await.0, "us-west-2");
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();

    // The next promote's estimate takes what this one measured.
    ws.run(&[
        "rebuild",
        "us-east-1",
        "environments/prod",
        "--role",
        "warm-standby",
        "--auto-approve",
    ])
    .ok();
    aws::publish_lag(
        &emulator,
        "us-east-1",
        "checkout-prod-orders-us-east-1",
        2.0,
    )
    .await;
    let json = ws
        .run(&["promote", "us-east-1", "environments/prod", "--json"])
        .ok();
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).expect("json on stdout");
    let path = plan["estimate"]["critical_path"]
        .as_array()
        .expect("a critical path");
    let recorded: Vec<_> = path.iter().filter(|s| s["basis"] == "recorded").collect();
    assert!(
        recorded
            .iter()
            .any(|s| s["step"].as_str().unwrap().contains("database")),
        "the database promotion is timed from the history: {path:?}"
    );
    assert!(
        json.stderr.contains("estimated recovery"),
        "{}",
        json.stderr
    );
    assert_eq!(
        ws.state("prod")["roles"]["us-west-2"],
        "primary",
        "nothing changed"
    );
}

/// Recorded durations vary from run to run: `  stage 3: create ADDRESS [recorded]`.
fn redact_recorded(estimate: &str) -> String {
    estimate
        .lines()
        .map(|l| match l.strip_suffix(" (recorded)") {
            Some(head) => {
                let words: Vec<&str> = head.split_whitespace().take(4).collect();
                format!("  {} [recorded]", words.join(" "))
            }
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
