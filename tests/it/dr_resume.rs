//! Interrupted DR operations end to end: the real binary through the test proxy in front of
//! the emulator. A promote killed (SIGKILL) at each stage, or stopped by a failing request,
//! is finished by the same command to the same end state as a promote that never stopped,
//! read back through the SDK; status and plan show the interruption in the meantime.
//!
//! The proxy holds one chosen request (`Proxy::hold_operation`) and the test kills the
//! process while it is held, so each interruption happens at the point the test chose.

use crate::support::aws::{
    database_standing, failover_record, load_balancer_names, primary_record, publish_lag,
    replication_targets, running_public_ips,
};
use crate::support::proxy::{Hold, Proxy};
use crate::support::specs::{DR, DR_WITHOUT_DATABASE};
use crate::support::workspace::{Run, Workspace};
use crate::support::Emulator;
use std::collections::BTreeMap;
use std::time::Duration;

const PROMOTE: &[&str] = &[
    "promote",
    "us-west-2",
    "environments/prod",
    "--auto-approve",
];
/// Route 53's ChangeResourceRecordSets, as the proxy names it.
const CHANGE_RECORDS: &str = "POST /2013-04-01/hostedzone/{id}/rrset";
const HELD_FOR: Duration = Duration::from_secs(120);

struct Setup {
    emulator: Emulator,
    proxy: Proxy,
    ws: Workspace,
}

/// An environment applied through the proxy, the replica's lag within the RPO.
async fn setup() -> Setup {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let ws = Workspace::new(proxy.env());
    ws.write("environments/prod/main.hcl", DR);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    lag(&emulator, 2.0).await;
    Setup {
        emulator,
        proxy,
        ws,
    }
}

async fn lag(emulator: &Emulator, seconds: f64) {
    publish_lag(
        emulator,
        "us-west-2",
        "checkout-prod-orders-us-west-2",
        seconds,
    )
    .await;
}

/// What a promote of us-west-2 leaves in AWS, read back through the SDK.
#[derive(Debug, PartialEq)]
struct Layout {
    /// The PRIMARY record's set identifier, and whether it aliases that region's load
    /// balancer.
    primary: (String, bool),
    records: BTreeMap<String, Option<String>>,
    running: BTreeMap<String, usize>,
    /// Each region's database: standalone or a replica.
    databases: BTreeMap<String, Option<String>>,
    replication: BTreeMap<String, Vec<String>>,
}

const REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];

async fn layout(emulator: &Emulator) -> Layout {
    let (set, values) = primary_record(emulator).await;
    let matches = values == load_balancer_names(emulator, &set).await;
    let mut l = Layout {
        primary: (set, matches),
        records: BTreeMap::new(),
        running: BTreeMap::new(),
        databases: BTreeMap::new(),
        replication: BTreeMap::new(),
    };
    for r in REGIONS {
        let record = failover_record(emulator, r).await.map(|(f, _, _)| f);
        l.records.insert(r.into(), record);
        l.running
            .insert(r.into(), running_public_ips(emulator, r).await.len());
        l.databases
            .insert(r.into(), database_standing(emulator, r).await);
        l.replication
            .insert(r.into(), replication_targets(emulator, r).await);
    }
    l
}

/// The layout of a promote of us-west-2 that ran without stopping.
fn promoted() -> Layout {
    fn map<V>(entries: [(&str, V); 3]) -> BTreeMap<String, V> {
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }
    Layout {
        primary: ("us-west-2".into(), true),
        records: map([
            ("us-east-1", None),
            ("us-west-2", Some("PRIMARY".to_string())),
            ("eu-west-1", None),
        ]),
        running: map([("us-east-1", 4), ("us-west-2", 4), ("eu-west-1", 0)]),
        databases: map([
            ("us-east-1", Some("standalone".to_string())),
            ("us-west-2", Some("standalone".to_string())),
            ("eu-west-1", None),
        ]),
        replication: map([
            ("us-east-1", vec![]),
            (
                "us-west-2",
                vec!["arn:aws:s3:::checkout-prod-receipts-eu-west-1".to_string()],
            ),
            ("eu-west-1", vec![]),
        ]),
    }
}

/// Starts the promote, waits until the proxy holds a request of `operation`, and kills the
/// process there (SIGKILL: nothing of it runs after). `arm` runs once it started, to hold
/// something else first.
fn kill_promote_when_held(s: &Setup, operation: &str, arm: impl FnOnce(&Proxy)) {
    let (mut child, _stderr) = s.ws.spawn(PROMOTE);
    arm(&s.proxy);
    s.proxy.wait_held(operation, HELD_FOR);
    child.kill().expect("the promote is killed");
    child.wait().unwrap();
    s.proxy.release(operation);
}

/// The state's journal says the promote stopped at `stage` (1-based), every stage before it
/// done, and never two primaries.
fn assert_stopped_at(s: &Setup, stage: usize, us_east_1: &str, us_west_2: &str) {
    let state = s.ws.state("prod");
    let journal = &state["journal"];
    assert_eq!(journal["operation"], "promote us-west-2", "{state:#}");
    let done: Vec<bool> = journal["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| st["done"].as_bool().unwrap())
        .collect();
    assert_eq!(done.iter().position(|d| !d), Some(stage - 1), "{journal:#}");
    assert_eq!(state["roles"]["us-east-1"], us_east_1);
    assert_eq!(state["roles"]["us-west-2"], us_west_2);
    let primaries = state["roles"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| *r == "primary")
        .count();
    assert!(primaries <= 1, "{}", state["roles"]);
}

/// Runs the same command again and checks it finished the job with one history entry.
async fn assert_resumed(s: &Setup, stage: usize) -> Run {
    let resumed = s.ws.run(PROMOTE).ok();
    assert!(
        resumed.stdout.contains(&format!(
            "note: resuming promote us-west-2, interrupted at stage {stage}/5"
        )),
        "{}",
        resumed.stdout
    );
    assert_eq!(layout(&s.emulator).await, promoted());
    let state = s.ws.state("prod");
    assert!(state.get("journal").is_none(), "{state:#}");
    assert_eq!(state["roles"]["us-west-2"], "primary");
    assert_eq!(state["roles"]["us-east-1"], "failed");
    let entries: Vec<&serde_json::Value> = state["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["operation"] == "promote us-west-2")
        .collect();
    assert_eq!(entries.len(), 1, "one entry for the whole promote");
    let entry = entries[0];
    assert_eq!(entry["outcome"], "succeeded");
    assert_eq!(
        entry["interruptions"].as_array().unwrap().len(),
        1,
        "{entry:#}"
    );
    let gates = entry["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|st| st["name"] == "rpo gate and plan")
        .count();
    assert_eq!(gates, 2, "the steps of both runs: {entry:#}");
    let status = s.ws.run(&["status", "environments/prod"]).ok();
    assert!(
        status
            .stdout
            .contains("succeeded, resumed after an interruption)"),
        "{}",
        status.stdout
    );
    resumed
}

#[tokio::test]
async fn an_uninterrupted_promote_gives_the_reference_layout() {
    let s = setup().await;
    s.ws.run(PROMOTE).ok();
    assert_eq!(layout(&s.emulator).await, promoted());
    let state = s.ws.state("prod");
    assert!(state.get("journal").is_none());
    let entry = state["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(entry["outcome"], "succeeded");
    assert!(entry.get("interruptions").is_none());
    // The old primary answered: its database was stopped last, once its replica was
    // promoted, leaving no split brain behind.
    let old = crate::support::aws::rds(&s.emulator, "us-east-1")
        .await
        .describe_db_instances()
        .db_instance_identifier("checkout-prod-orders-us-east-1")
        .send()
        .await
        .unwrap();
    assert_eq!(old.db_instances()[0].db_instance_status(), Some("stopped"));
    let last = entry["steps"]
        .as_array()
        .unwrap()
        .iter()
        .any(|st| st["name"] == "stop region.us-east-1.database.orders");
    assert!(last, "{entry:#}");
    let status = s.ws.run(&["status", "environments/prod"]).ok();
    assert!(!status.stdout.contains("split brain"), "{}", status.stdout);
}

#[tokio::test]
async fn a_promote_killed_while_fencing_is_finished_by_the_same_command() {
    let s = setup().await;
    let op = "DELETE bucket?replication";
    s.proxy.hold_operation(op, Hold::Before);
    kill_promote_when_held(&s, op, |_| {});
    assert_stopped_at(&s, 1, "primary", "warm-standby");
    assert_resumed(&s, 1).await;
    let state = s.ws.state("prod");
    let reason =
        &state["history"].as_array().unwrap().last().unwrap()["interruptions"][0]["reason"];
    assert!(reason.as_str().unwrap().contains("killed"), "{reason}");
}

#[tokio::test]
async fn a_promote_killed_while_promoting_the_database_is_finished_by_the_same_command() {
    let s = setup().await;
    s.proxy.hold_operation("PromoteReadReplica", Hold::Before);
    kill_promote_when_held(&s, "PromoteReadReplica", |_| {});
    // Fenced, not yet promoted: no primary at all is what is true.
    assert_stopped_at(&s, 2, "failed", "warm-standby");
    assert_resumed(&s, 2).await;
}

#[tokio::test]
async fn a_promote_killed_after_aws_promoted_the_database_skips_the_rpo_gate_on_resume() {
    let s = setup().await;
    // The promotion's last request (the tag that marks it done) reaches AWS; its answer
    // never reaches standby.
    s.proxy.hold_operation("AddTagsToResource", Hold::After);
    kill_promote_when_held(&s, "AddTagsToResource", |_| {});
    assert_stopped_at(&s, 2, "failed", "warm-standby");
    // The replica was promoted; a lag beyond the RPO no longer matters.
    lag(&s.emulator, 600.0).await;
    let resumed = assert_resumed(&s, 2).await;
    assert!(
        resumed
            .stderr
            .contains("RPO gate: the database in us-west-2 was promoted by the interrupted run"),
        "{}",
        resumed.stderr
    );
}

#[tokio::test]
async fn a_promote_killed_while_scaling_is_finished_by_the_same_command() {
    let s = setup().await;
    s.proxy
        .hold_operation("UpdateAutoScalingGroup", Hold::Before);
    kill_promote_when_held(&s, "UpdateAutoScalingGroup", |_| {});
    // The scale-up is the last stage: replication and DNS are done before it.
    assert_stopped_at(&s, 5, "failed", "primary");
    assert_resumed(&s, 5).await;
}

#[tokio::test]
async fn a_promote_killed_while_moving_dns_is_finished_by_the_same_command() {
    let s = setup().await;
    // The fence changes records too: hold them only once replication (the stage before
    // DNS) started.
    s.proxy
        .hold_operation("PUT bucket?replication", Hold::Before);
    kill_promote_when_held(&s, CHANGE_RECORDS, |proxy| {
        proxy.wait_held("PUT bucket?replication", HELD_FOR);
        proxy.hold_operation(CHANGE_RECORDS, Hold::Before);
        proxy.release("PUT bucket?replication");
    });
    assert_stopped_at(&s, 4, "failed", "primary");
    assert_resumed(&s, 4).await;
}

#[tokio::test]
async fn a_promote_killed_while_moving_replication_is_finished_by_the_same_command() {
    let s = setup().await;
    s.proxy
        .hold_operation("PUT bucket?replication", Hold::Before);
    kill_promote_when_held(&s, "PUT bucket?replication", |_| {});
    assert_stopped_at(&s, 3, "failed", "primary");
    assert_resumed(&s, 3).await;
}

#[tokio::test]
async fn a_promote_short_of_capacity_moves_data_and_traffic_and_reports_the_shortfall() {
    let s = setup().await;
    // us-west-2 runs its 2 warm instances and has room for no more (strict mode's
    // `autoscaling.capacity-failure`: the scale-up to 4 launches nothing, a failed activity).
    s.proxy.strict(0.002);
    s.proxy.limit_capacity("us-west-2", 2);
    let short = s.ws.run(PROMOTE);
    assert_eq!(short.code, 1, "{}", short.stderr);
    assert!(s.proxy.fired("autoscaling.capacity-failure") > 0);
    for said in [
        "region.us-west-2.cluster.web.group: group checkout-prod-web-us-west-2 in us-west-2 has 2 of 4 instances in service",
        "InsufficientInstanceCapacity",
        "promote us-west-2 stopped at stage 5/5 (scale us-west-2 to full size)",
    ] {
        assert!(short.stderr.contains(said), "{said}: {}", short.stderr);
    }
    assert_stopped_at(&s, 5, "failed", "primary");
    // Everything but the scale-up is done: the database, DNS and replication moved.
    let mut want = promoted();
    want.running.insert("us-west-2".into(), 2);
    assert_eq!(layout(&s.emulator).await, want);
}

/// The lines of a plan a person reads first: its notes, and the summary.
fn notes_and_summary(plan: &str) -> String {
    plan.lines()
        .filter(|l| l.starts_with("note:") || l.starts_with("Plan:") || l.starts_with("No changes"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_failed_promote_shows_in_status_and_plan_and_apply_waits_for_it() {
    let s = setup().await;
    s.proxy.fail_operation("PromoteReadReplica");
    let failed = s.ws.run(PROMOTE);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains(
            "promote us-west-2 stopped at stage 2/5 (promote the database in us-west-2): run `standby promote us-west-2` to finish it"
        ),
        "{}",
        failed.stderr
    );
    assert_stopped_at(&s, 2, "failed", "warm-standby");

    let status = s.ws.run(&["status", "environments/prod"]).ok();
    insta::assert_snapshot!("status_of_an_interrupted_promote", status.stdout);
    let plan = s.ws.run(&["plan", "environments/prod"]).ok();
    insta::assert_snapshot!(
        "plan_of_an_interrupted_promote",
        notes_and_summary(&plan.stdout)
    );
    let apply = s.ws.run(&["apply", "environments/prod", "--auto-approve"]);
    assert_eq!(apply.code, 1);
    assert!(
        apply.stderr.contains(
            "promote us-west-2 was interrupted at stage 2/5 (promote the database in us-west-2): run `standby promote us-west-2` to finish it before applying"
        ),
        "{}",
        apply.stderr
    );
    let other = s.ws.run(&[
        "rebuild",
        "eu-west-1",
        "environments/prod",
        "--auto-approve",
    ]);
    assert_eq!(other.code, 1);
    assert!(
        other.stderr.contains("to finish it first"),
        "{}",
        other.stderr
    );

    s.proxy.clear_failed_operations();
    assert_resumed(&s, 2).await;
    let state = s.ws.state("prod");
    let entry = state["history"].as_array().unwrap().last().unwrap().clone();
    let reason = entry["interruptions"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("region.us-west-2.database.orders")
            && reason.contains("PromoteReadReplica"),
        "{reason}"
    );
}

/// An apply through the proxy that stops where `operation` fails.
fn apply_part_way(spec: &str, operation: &str) -> (Emulator, Proxy, Workspace) {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let ws = Workspace::new(proxy.env());
    ws.write("environments/prod/main.hcl", spec);
    proxy.fail_operation(operation);
    let stopped = ws.run(&["apply", "environments/prod", "--auto-approve"]);
    assert_eq!(stopped.code, 1, "{}", stopped.stderr);
    proxy.clear_failed_operations();
    (emulator, proxy, ws)
}

#[tokio::test]
async fn a_promote_after_an_apply_that_stopped_part_way_plans_and_runs() {
    let (emulator, _proxy, ws) = apply_part_way(DR_WITHOUT_DATABASE, "CreateSubnet");
    ws.run(PROMOTE).ok();
    let (set, values) = primary_record(&emulator).await;
    assert_eq!(set, "us-west-2");
    assert_eq!(values, load_balancer_names(&emulator, "us-west-2").await);
    assert_eq!(running_public_ips(&emulator, "us-west-2").await.len(), 4);
    assert_eq!(ws.state("prod")["roles"]["us-west-2"], "primary");
}

#[tokio::test]
async fn a_promote_without_a_replica_is_refused_even_accepting_data_loss() {
    let (_emulator, _proxy, ws) = apply_part_way(DR, "CreateDBSubnetGroup");
    let before = ws.state("prod");
    let refused = ws.run(&[
        "promote",
        "us-west-2",
        "environments/prod",
        "--auto-approve",
        "--accept-data-loss",
    ]);
    assert_eq!(refused.code, 1);
    insta::assert_snapshot!("promote_without_a_replica", refused.stderr);
    assert_eq!(ws.state("prod"), before, "nothing changed");
}
