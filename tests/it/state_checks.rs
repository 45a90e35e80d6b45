//! A state belongs to one environment and holds together: the real binary refuses a state
//! copied from another environment, of another service, of another lineage, or with two
//! primaries, before any AWS request (counted by the test proxy), and `state push --force`
//! is the way past.

use crate::support::proxy::Proxy;
use crate::support::specs::{REGIONS, SERVICE};
use crate::support::workspace::{Run, Workspace};
use crate::support::Emulator;
use serde_json::Value;

/// The workload after the service and its regions.
const WORKLOAD: &str = r#"
cluster "web" {
  size  = 1
  image = "ami-12c6146b"
}

bucket "receipts" {}
"#;

fn spec() -> String {
    [SERVICE, REGIONS, WORKLOAD].concat()
}

/// What the emulator holds: every instance with its state, every bucket.
async fn live(emulator: &Emulator) -> Vec<String> {
    let mut out = Vec::new();
    for region in ["us-east-1", "us-west-2"] {
        let ec2 = emulator.ec2(region).await;
        let described = ec2.describe_instances().send().await.unwrap();
        for r in described.reservations() {
            for i in r.instances() {
                let state = i
                    .state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_string());
                out.push(format!(
                    "{} {:?}",
                    i.instance_id().unwrap_or_default(),
                    state
                ));
            }
        }
    }
    let buckets = emulator
        .s3("us-east-1")
        .await
        .list_buckets()
        .send()
        .await
        .unwrap();
    out.extend(
        buckets
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_owned)),
    );
    out.sort();
    out
}

/// The message without the workspace's temporary path.
fn redact(ws: &Workspace, text: &str) -> String {
    text.replace(&ws.path().display().to_string(), "[WS]")
}

fn refused(run: &Run) {
    assert_eq!(
        run.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(run.stderr.contains("refusing the state"), "{}", run.stderr);
    assert!(
        run.stderr.contains("nothing was read from AWS"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_state_copied_from_another_environment_is_refused_before_any_request() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let ws = Workspace::new(proxy.env());
    ws.write("environments/prod/main.hcl", &spec());
    ws.write("environments/staging/main.hcl", &spec());
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    let before = live(&emulator).await;
    assert!(before.iter().any(|l| l.starts_with("i-")), "{before:?}");
    std::fs::copy(ws.state_path("prod"), ws.state_path("staging")).unwrap();
    let copied = std::fs::read(ws.state_path("staging")).unwrap();

    proxy.clear();
    let commands: [&[&str]; 6] = [
        &["plan", "environments/staging"],
        &["apply", "environments/staging", "--auto-approve"],
        &["destroy", "environments/staging", "--auto-approve"],
        &["drift", "environments/staging"],
        &["status", "environments/staging"],
        &[
            "promote",
            "us-west-2",
            "environments/staging",
            "--auto-approve",
        ],
    ];
    for args in commands {
        let run = ws.run(args);
        refused(&run);
        assert!(
            run.stderr
                .contains("environment `prod` of service `checkout`"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("environment `staging` of service `checkout`"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(proxy.seen(), vec![], "no AWS request before the refusals");
    assert_eq!(live(&emulator).await, before, "nothing changed in AWS");
    assert_eq!(
        std::fs::read(ws.state_path("staging")).unwrap(),
        copied,
        "nor in the state"
    );
    let plan = ws.run(&["plan", "environments/staging"]);
    insta::assert_snapshot!("foreign_environment", redact(&ws, &plan.stderr));

    // Pushing it on purpose says what --force overrides, and stamps it as staging's.
    ws.write("prod-copy.json", &String::from_utf8(copied).unwrap());
    std::fs::remove_file(ws.state_path("staging")).unwrap();
    let pushed = ws.run(&["state", "push", "prod-copy.json", "environments/staging"]);
    assert_eq!(pushed.code, 1, "{}", pushed.stderr);
    assert!(pushed.stderr.contains("pass --force"), "{}", pushed.stderr);
    let forced = ws
        .run(&[
            "state",
            "push",
            "prod-copy.json",
            "environments/staging",
            "--force",
        ])
        .ok();
    assert!(
        forced
            .stderr
            .contains("--force overrides: it is the state of environment `prod`"),
        "{}",
        forced.stderr
    );
    assert_eq!(ws.state("staging")["environment"], "staging");
    assert_eq!(
        proxy.seen(),
        vec![],
        "state push touches no AWS API with a local state"
    );
}

/// A workspace whose AWS requests would all be counted by a proxy in front of nothing.
fn offline() -> (Proxy, Workspace) {
    let proxy = Proxy::start("http://127.0.0.1:9");
    let ws = Workspace::new(proxy.env());
    ws.write("environments/prod/main.hcl", &spec());
    (proxy, ws)
}

fn seeded_state(service: Option<&str>) -> Value {
    let mut state = serde_json::json!({
        "format_version": 1,
        "serial": 3,
        "lineage": "seed-lineage",
        "environment": "prod",
        "roles": { "us-east-1": "primary", "us-west-2": "warm-standby" },
        "resources": [{
            "address": "region.us-east-1.network.vpc", "kind": "vpc", "region": "us-east-1",
            "id": "vpc-1", "attrs": { "cidr": "10.0.0.0/16" }, "depends_on": []
        }]
    });
    if let Some(s) = service {
        state["service"] = s.into();
    }
    state
}

#[test]
fn a_state_of_another_service_is_refused_and_an_old_state_without_one_is_adopted() {
    let (proxy, ws) = offline();
    ws.write(
        "state/prod.json",
        &seeded_state(Some("billing")).to_string(),
    );
    let run = ws.run(&["plan", "environments/prod"]);
    refused(&run);
    assert!(
        run.stderr.contains("of service `billing`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("of service `checkout`"),
        "{}",
        run.stderr
    );
    assert_eq!(proxy.seen(), vec![]);

    // A state written before the service was recorded loads, and gets it on its next write.
    ws.write("state/prod.json", &seeded_state(None).to_string());
    ws.run(&["state", "list", "environments/prod"]).ok();
    ws.run(&[
        "state",
        "mv",
        "region.us-east-1.network.vpc",
        "region.us-east-1.network.main",
        "environments/prod",
    ])
    .ok();
    let state = ws.state("prod");
    assert_eq!(state["service"], "checkout");
    assert_eq!(state["serial"], 4);
    assert_eq!(proxy.seen(), vec![]);
}

#[test]
fn a_state_that_does_not_hold_together_is_refused_until_repaired() {
    let (proxy, ws) = offline();
    let mut broken = seeded_state(Some("checkout"));
    broken["roles"]["us-west-2"] = "primary".into();
    broken["resources"][0]["address"] = "region.us-east-1.network vpc".into();
    ws.write("state/prod.json", &broken.to_string());
    let run = ws.run(&["plan", "environments/prod"]);
    refused(&run);
    insta::assert_snapshot!("two_primaries", redact(&ws, &run.stderr));
    for args in [
        &["apply", "environments/prod", "--auto-approve"][..],
        &["state", "list", "environments/prod"],
        &[
            "state",
            "mv",
            "region.us-east-1.network vpc",
            "region.x.y",
            "environments/prod",
        ],
    ] {
        refused(&ws.run(args));
    }

    // Pull shows it (with a warning); a pushed repair needs --force, which says why.
    let pulled = ws.run(&["state", "pull", "environments/prod"]).ok();
    assert!(
        pulled.stderr.contains("warning: refusing the state"),
        "{}",
        pulled.stderr
    );
    let mut state: Value = serde_json::from_str(&pulled.stdout).unwrap();
    ws.write("still-broken.json", &state.to_string());
    let still = ws.run(&[
        "state",
        "push",
        "still-broken.json",
        "environments/prod",
        "--force",
    ]);
    assert_eq!(still.code, 1);
    assert!(
        still.stderr.contains("2 primary regions"),
        "{}",
        still.stderr
    );
    state["roles"]["us-west-2"] = "warm-standby".into();
    state["resources"][0]["address"] = "region.us-east-1.network.vpc".into();
    ws.write("fixed.json", &state.to_string());
    let not_newer = ws.run(&["state", "push", "fixed.json", "environments/prod"]);
    assert_eq!(not_newer.code, 1);
    let pushed = ws
        .run(&[
            "state",
            "push",
            "fixed.json",
            "environments/prod",
            "--force",
        ])
        .ok();
    assert!(
        pushed
            .stderr
            .contains("--force overrides: its serial 3 is not newer than the current serial 3"),
        "{}",
        pushed.stderr
    );
    assert_eq!(ws.state("prod")["serial"], 4);
    ws.run(&["state", "list", "environments/prod"]).ok();
    assert_eq!(proxy.seen(), vec![]);
}

#[tokio::test]
async fn a_remote_state_replaced_by_another_lineage_is_refused_until_init_accepts_it() {
    let emulator = Emulator::start();
    let s3 = emulator.s3("us-east-1").await;
    s3.create_bucket()
        .bucket("standby-state")
        .send()
        .await
        .unwrap();
    crate::support::aws::set_versioning(
        &s3,
        "standby-state",
        aws_sdk_s3::types::BucketVersioningStatus::Enabled,
    )
    .await;
    let ws = Workspace::new(emulator.env());
    let backend = r#"
standby {
  backend "s3" {
    bucket = "standby-state"
    key    = "prod.json"
    region = "us-east-1"
  }
}
"#;
    ws.write(
        "environments/prod/main.hcl",
        &format!("{backend}{}", spec()),
    );
    ws.write("seed.json", &seeded_state(Some("checkout")).to_string());
    ws.run(&["state", "push", "seed.json", "environments/prod"])
        .ok();
    ws.run(&["state", "list", "environments/prod"]).ok();

    // Someone replaces the object with a state of the same name but another lineage.
    let mut other = seeded_state(Some("checkout"));
    other["lineage"] = "other-lineage".into();
    s3.put_object()
        .bucket("standby-state")
        .key("prod.json")
        .body(aws_sdk_s3::primitives::ByteStream::from(
            other.to_string().into_bytes(),
        ))
        .send()
        .await
        .unwrap();
    let run = ws.run(&["state", "list", "environments/prod"]);
    refused(&run);
    assert!(
        run.stderr.contains(
            "its lineage is other-lineage, but this environment's state had lineage seed-lineage"
        ),
        "{}",
        run.stderr
    );
    let accepted = ws.run(&["init", "environments/prod"]).ok();
    assert!(
        accepted
            .stderr
            .contains("lineage other-lineage (it was seed-lineage)"),
        "{}",
        accepted.stderr
    );
    ws.run(&["state", "list", "environments/prod"]).ok();
}
