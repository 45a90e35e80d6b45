//! The commands and flags a Terraform user reaches for, end to end: the real binary against
//! the emulator, results read back through the SDK.

use crate::support::aws::{environment_instances, live_instances_by_address};
use crate::support::specs::{API_DNS, REGIONS, SERVICE};
use crate::support::workspace::Workspace;
use crate::support::Emulator;
use serde_json::Value;

/// The workload after the service and its regions.
const WORKLOAD: &str = r#"
cluster "web" {
  size  = 2
  image = "ami-12c6146b"
  port  = 443
}

database "orders" {
  engine          = "postgres"
  engine_version  = "16.3"
  instance_class  = "db.t3.micro"
  prevent_destroy = false
}

bucket "receipts" {}
"#;

const OUTPUT: &str = "\noutput \"api\" { value = dns.api.name }\n";

fn spec() -> String {
    [SERVICE, REGIONS, WORKLOAD, API_DNS, OUTPUT].concat()
}

const ENV: &str = "environments/prod";
const WEB0: &str = "region.us-east-1.cluster.web.group";

fn workspace(emulator: &Emulator) -> Workspace {
    let ws = Workspace::new(emulator.env());
    ws.write("environments/prod/main.hcl", &spec());
    ws
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test]
async fn apply_prints_its_outputs_and_replace_makes_a_new_group() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator);
    let applied = ws.run(&["apply", ENV, "--auto-approve"]).ok();
    assert!(
        applied.stderr.contains("apply complete:"),
        "{}",
        applied.stderr
    );
    assert!(
        applied
            .stdout
            .ends_with("\nOutputs:\n\napi = \"api.example.com\"\n"),
        "{}",
        applied.stdout
    );
    assert!(
        applied.stderr.contains(" steps, about ") && applied.stderr.contains(" left)"),
        "done lines carry the time left: {}",
        applied.stderr
    );

    let outputs = json(&ws.run(&["output", "--env", ENV, "--json"]).ok().stdout);
    assert_eq!(
        outputs,
        serde_json::json!({"api": {"sensitive": false, "type": "string", "value": "api.example.com"}})
    );
    let one = ws.run(&["output", "api", "--env", ENV, "--json"]).ok();
    assert_eq!(one.stdout, "\"api.example.com\"\n");

    let status = json(&ws.run(&["status", ENV, "--json"]).ok().stdout);
    assert_eq!(status["format_version"], 1);
    let east = &status["regions"][0];
    assert_eq!(
        (&east["region"], &east["role"], &east["spec_role"]),
        (&"us-east-1".into(), &"primary".into(), &"primary".into())
    );
    assert_eq!(
        (&east["instances_running"], &east["instances_desired"]),
        (&2.into(), &2.into())
    );
    assert_eq!(east["database"]["role"], "primary");
    assert_eq!(east["replication"]["role"], "source");
    assert_eq!(
        east["replication"]["destinations"],
        serde_json::json!(["us-west-2"])
    );
    assert_eq!(east["dns"], serde_json::json!(["PRIMARY"]));
    let west = &status["regions"][1];
    assert_eq!(west["database"]["role"], "replica");
    assert_eq!(west["database"]["source_region"], "us-east-1");
    assert!(west["database"].get("lag_seconds").is_some(), "{west}");
    assert_eq!(west["replication"]["role"], "replica");
    assert_eq!(west["dns"], serde_json::json!(["SECONDARY"]));

    let before = live_instances_by_address(&emulator, "us-east-1").await[WEB0].clone();
    let planned = ws.run(&["plan", ENV, "--replace", WEB0, "--detailed-exitcode"]);
    assert_eq!(planned.code, 2, "{}", planned.stderr);
    assert!(
        planned
            .stdout
            .contains(&format!("-/+ {WEB0} (replace: replace requested)")),
        "{}",
        planned.stdout
    );
    ws.run(&["apply", ENV, "--replace", WEB0, "--auto-approve"])
        .ok();
    let after = live_instances_by_address(&emulator, "us-east-1").await[WEB0].clone();
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(after.iter().all(|i| !before.contains(i)), "new instances");
    let old = environment_instances(&emulator, "us-east-1", &["terminated", "shutting-down"]).await;
    assert!(
        before
            .iter()
            .all(|b| old.iter().any(|i| i.instance_id() == Some(b.as_str()))),
        "the old instances are gone"
    );
    ws.run(&["plan", ENV, "--detailed-exitcode"]).ok();

    let unknown = ws.run(&["plan", ENV, "--replace", "region.us-east-1.cluster.nope"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown
            .stderr
            .contains("--replace region.us-east-1.cluster.nope is not a resource"),
        "{}",
        unknown.stderr
    );
}

#[tokio::test]
async fn targeted_apply_warns_and_a_saved_destroy_plan_shows_and_applies() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator);
    let targeted = ws
        .run(&[
            "apply",
            ENV,
            "--target",
            "region.us-east-1.cluster.web",
            "--auto-approve",
        ])
        .ok();
    assert!(
        targeted
            .stdout
            .contains("warning: resource targeting is in effect"),
        "{}",
        targeted.stdout
    );
    assert!(
        targeted
            .stderr
            .contains("warning: applied changes may be incomplete"),
        "{}",
        targeted.stderr
    );
    let east = live_instances_by_address(&emulator, "us-east-1").await;
    assert_eq!(east.len(), 1, "only the targeted cluster: {east:?}");
    assert_eq!(east[WEB0].len(), 2, "{east:?}");
    assert!(live_instances_by_address(&emulator, "us-west-2")
        .await
        .is_empty());
    let buckets = emulator
        .s3("us-east-1")
        .await
        .list_buckets()
        .send()
        .await
        .unwrap();
    assert!(buckets.buckets().is_empty(), "nothing outside the target");
    assert_eq!(
        ws.run(&["plan", ENV, "--detailed-exitcode"]).code,
        2,
        "the rest is still to do"
    );
    ws.run(&["apply", ENV, "--auto-approve"]).ok();

    let saved = ws.path().join("destroy.plan");
    let planned = ws
        .run(&[
            "plan",
            ENV,
            "--destroy",
            "--json",
            "--out",
            saved.to_str().unwrap(),
        ])
        .ok();
    let plan = json(&planned.stdout);
    assert_eq!(plan["summary"]["create"], 0);
    assert!(
        plan["summary"]["delete"].as_u64().unwrap() > 10,
        "{}",
        plan["summary"]
    );
    let shown = ws.run(&["show", saved.to_str().unwrap(), "--json"]).ok();
    assert_eq!(
        shown.stdout, planned.stdout,
        "show PLAN_FILE --json is what plan --json printed"
    );
    let human = ws.run(&["show", saved.to_str().unwrap()]).ok();
    assert!(
        human.stdout.contains(&format!("  - {WEB0} (destroy)")),
        "{}",
        human.stdout
    );
    assert_eq!(
        live_instances_by_address(&emulator, "us-east-1").await[WEB0].len(),
        2,
        "plan changed nothing"
    );

    ws.run(&["apply", saved.to_str().unwrap()]).ok();
    assert!(live_instances_by_address(&emulator, "us-east-1")
        .await
        .is_empty());
    assert!(live_instances_by_address(&emulator, "us-west-2")
        .await
        .is_empty());
    let state = json(&ws.run(&["show", ENV, "--json"]).ok().stdout);
    assert_eq!(state["resources"], serde_json::json!([]), "{state}");
    assert_eq!(state["outputs"], serde_json::json!({}), "{state}");
}

#[tokio::test]
async fn drill_without_a_terminal_or_auto_approve_refuses_and_creates_nothing() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator);
    let vpcs = || async {
        let out = emulator
            .ec2("us-west-2")
            .await
            .describe_vpcs()
            .send()
            .await
            .unwrap();
        out.vpcs().len()
    };
    let before = vpcs().await;
    let drill = ws.run(&["drill", "us-west-2", ENV]);
    assert_eq!(drill.code, 1, "{}{}", drill.stdout, drill.stderr);
    assert!(
        drill.stdout.contains("+ region.us-west-2.network.vpc"),
        "the plan is shown: {}",
        drill.stdout
    );
    insta::assert_snapshot!(drill.stderr);
    assert_eq!(vpcs().await, before, "nothing was created");
    let left: Vec<_> = std::fs::read_dir(ws.path().join("state"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "no drill state: {left:?}");
}

/// Holds the OS lock on `state/prod.json.lock` as `host`/`pid` would, under lock id `id`.
fn hold_lock(ws: &Workspace, id: &str, host: &str, pid: u32) -> std::fs::File {
    use std::io::Write;
    let path = ws.path().join("state/prod.json.lock");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .unwrap();
    file.try_lock().expect("the lock is free");
    let holder = serde_json::json!({
        "id": id, "user": "ci", "host": host, "pid": pid,
        "operation": "apply", "since": "2026-01-02T03:04:05Z"
    });
    file.write_all(holder.to_string().as_bytes()).unwrap();
    file
}

#[test]
fn state_unlock_breaks_a_stale_local_lock_but_not_a_live_one() {
    let ws = Workspace::new(Vec::new());
    ws.write("environments/prod/main.hcl", &spec());
    let vpc = "region.us-east-1.network.vpc";
    let state = serde_json::json!({
        "format_version": 1, "serial": 1, "lineage": "l-1", "environment": "prod",
        "resources": [{"address": vpc, "kind": "vpc", "region": "us-east-1", "id": "vpc-1", "attrs": {}}]
    });
    ws.write("state/prod.json", &state.to_string());
    let clean = |s: &str| s.replace(&ws.path().display().to_string(), "<ws>");

    // A runner that was lost while applying, on a shared file system.
    let _lost = hold_lock(&ws, "stale-1", "lost-runner-7", 4242);
    let locked = ws.run(&["state", "rm", vpc, ENV]);
    assert_eq!(locked.code, 1);
    assert!(
        locked.stderr.contains("locked by ci@lost-runner-7"),
        "{}",
        locked.stderr
    );
    let wrong = ws.run(&["state", "unlock", "other", ENV, "--force"]);
    assert_eq!(wrong.code, 1);
    assert!(
        wrong.stderr.contains("is not the current lock"),
        "{}",
        wrong.stderr
    );
    let asked = ws.run(&["state", "unlock", "stale-1", ENV]);
    assert_eq!(
        asked.code, 1,
        "no terminal, no --force: it asks, so it refuses"
    );
    let unlocked = ws.run(&["state", "unlock", "stale-1", ENV, "--force"]).ok();
    insta::assert_snapshot!(clean(&unlocked.stderr));
    ws.run(&["state", "rm", vpc, ENV]).ok();

    // A holder still running here: stopping it releases the lock, so unlock refuses.
    let host = hostname::get().unwrap().to_string_lossy().into_owned();
    let _live = hold_lock(&ws, "live-1", &host, std::process::id());
    let refused = ws.run(&["state", "unlock", "live-1", ENV, "--force"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains(&format!(
            "still running: stop it (`kill {}`)",
            std::process::id()
        )),
        "{}",
        refused.stderr
    );
    assert!(
        ws.path().join("state/prod.json.lock").exists(),
        "the lock stays"
    );
}

#[test]
fn version_and_completions_need_no_spec() {
    let ws = Workspace::new(Vec::new());
    let version = ws.run(&["version"]).ok();
    let flag = ws.run(&["--version"]).ok();
    assert_eq!(
        version.stdout.lines().next(),
        flag.stdout.lines().next(),
        "`version` and `--version` agree"
    );
    assert!(version.stdout.contains(&format!(
        "\non {}_{}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )));
    let bash = ws.run(&["completions", "bash"]).ok();
    assert!(
        bash.stdout.contains("_standby()") && bash.stdout.contains("complete -F _standby"),
        "{}",
        bash.stdout
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = ws.run(&["completions", shell]).ok();
        assert!(
            script.stdout.contains("auto-approve"),
            "{shell}: {}",
            script.stdout
        );
    }
    let bad = ws.run(&["completions", "tcsh"]);
    assert_ne!(bad.code, 0, "an unknown shell is refused: {}", bad.stderr);
}
