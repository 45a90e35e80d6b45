//! Remote state end to end: the S3 backend against the emulator's S3 (locking with
//! `If-None-Match: *`, conditional writes on the ETag, release on Ctrl-C, unlock,
//! migration both ways, saved plans across checkouts) and every `state` subcommand, with
//! every result read back through the SDK or the state file.

use crate::support::aws;
use crate::support::workspace::{read_until, Workspace};
use crate::support::Emulator;
use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;
use standby::state::{s3, Backend, S3Location};
use std::time::{Duration, Instant};

const BUCKET: &str = "standby-state";
const KEY: &str = "envs/prod.json";

fn backend_block() -> String {
    format!(
        r#"
standby {{
  backend "s3" {{
    bucket = "{BUCKET}"
    key    = "{KEY}"
    region = "us-east-1"
  }}
}}
"#
    )
}

fn spec(size: u32, remote: bool) -> String {
    let backend = if remote {
        backend_block()
    } else {
        String::new()
    };
    format!(
        r#"{backend}
service "checkout" {{
  rto = "15m"
  rpo = "5m"
}}

region "us-east-1" {{
  role = "primary"
  cidr = "10.0.0.0/16"
}}

cluster "web" {{
  instance_type = "t3.micro"
  size          = {size}
  image         = "ami-12c6146b"
  port          = 443
}}
"#
    )
}

/// The instances the state's Auto Scaling groups run, summed.
fn wanted_instances(state: &Value) -> u64 {
    state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "auto_scaling_group")
        .map(|r| r["attrs"]["desired"].as_u64().unwrap())
        .sum()
}

fn workspace(env: Vec<(String, String)>, size: u32, remote: bool) -> Workspace {
    let ws = Workspace::new(env);
    ws.write("environments/prod/main.hcl", &spec(size, remote));
    ws
}

/// The state bucket, versioned, as a platform team would provide it.
async fn state_bucket(emulator: &Emulator) -> aws_sdk_s3::Client {
    let s3 = emulator.s3("us-east-1").await;
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    aws::set_versioning(
        &s3,
        BUCKET,
        aws_sdk_s3::types::BucketVersioningStatus::Enabled,
    )
    .await;
    s3
}

async fn object(s3: &aws_sdk_s3::Client, key: &str) -> Option<Value> {
    let out = s3.get_object().bucket(BUCKET).key(key).send().await.ok()?;
    let bytes = out.body.collect().await.unwrap().into_bytes();
    Some(serde_json::from_slice(&bytes).expect("JSON"))
}

async fn lock_exists(s3: &aws_sdk_s3::Client) -> bool {
    s3.head_object()
        .bucket(BUCKET)
        .key(format!("{KEY}.lock"))
        .send()
        .await
        .is_ok()
}

fn location() -> S3Location {
    S3Location {
        bucket: BUCKET.into(),
        key: KEY.into(),
        region: "us-east-1".into(),
        kms_key_id: None,
        replica: None,
    }
}

#[tokio::test]
async fn two_applies_at_once_give_one_winner_and_name_the_holder() {
    let emulator = Emulator::start();
    let s3 = state_bucket(&emulator).await;
    let ws = workspace(emulator.env(), 6, true);
    let (mut first, mut err) = ws.spawn(&[
        "apply",
        "environments/prod",
        "--auto-approve",
        "--parallelism",
        "1",
    ]);
    read_until(&mut err, |l| l.contains("create started"));
    assert!(lock_exists(&s3).await, "the first apply holds the lock");
    let second = ws.run(&["apply", "environments/prod", "--auto-approve"]);
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(
        second.stderr.contains("the state is locked by"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains(&format!("pid {}", first.id())),
        "{}",
        second.stderr
    );
    assert!(second.stderr.contains("apply since"), "{}", second.stderr);
    let rest = read_until(&mut err, |_| false).concat();
    assert!(first.wait().unwrap().success(), "{rest}");

    assert!(!lock_exists(&s3).await, "the winner released the lock");
    let state = object(&s3, KEY).await.expect("the state object");
    assert_eq!(
        wanted_instances(&state),
        6,
        "the winner's apply is complete"
    );
    assert_eq!(
        state["history"].as_array().unwrap().len(),
        1,
        "one apply ran"
    );
    assert_eq!(state["history"][0]["outcome"], "succeeded");
    assert!(
        !ws.state_path("prod").exists(),
        "nothing was written locally"
    );
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
}

#[tokio::test]
async fn a_write_whose_etag_no_longer_matches_is_refused() {
    let emulator = Emulator::start();
    let s3 = state_bucket(&emulator).await;
    let loc = location();

    // The first version is written with If-None-Match: *: somebody else creating the object
    // first makes it fail.
    let mut store = s3::open_with(s3.clone(), &loc, "prod", "apply", None)
        .await
        .unwrap();
    assert!(!store.exists());
    s3.put_object()
        .bucket(BUCKET)
        .key(KEY)
        .body(ByteStream::from_static(b"{}"))
        .send()
        .await
        .unwrap();
    let err = format!("{:#}", store.save().await.unwrap_err());
    assert!(err.contains("changed since apply read it"), "{err}");
    assert_eq!(store.state().serial, 0, "a refused save leaves the serial");
    store.release().await.unwrap();
    s3.delete_object()
        .bucket(BUCKET)
        .key(KEY)
        .send()
        .await
        .unwrap();

    // Later versions are written with If-Match on the ETag read.
    let mut store = s3::open_with(s3.clone(), &loc, "prod", "apply", None)
        .await
        .unwrap();
    store.save().await.unwrap();
    store.save().await.unwrap();
    assert_eq!(object(&s3, KEY).await.unwrap()["serial"], 2);
    let behind_its_back = serde_json::json!({
        "format_version": 1, "serial": 9, "lineage": "someone-else", "environment": "prod"
    });
    s3.put_object()
        .bucket(BUCKET)
        .key(KEY)
        .body(ByteStream::from(
            serde_json::to_vec(&behind_its_back).unwrap(),
        ))
        .send()
        .await
        .unwrap();
    store.state_mut().outputs.insert("x".into(), "y".into());
    let err = format!("{:#}", store.save().await.unwrap_err());
    assert!(err.contains("changed since apply read it"), "{err}");
    assert!(err.contains("nothing was overwritten"), "{err}");
    assert_eq!(
        object(&s3, KEY).await.unwrap()["lineage"],
        "someone-else",
        "the other writer's version stands"
    );
    assert!(lock_exists(&s3).await);
    store.release().await.unwrap();
    assert!(!lock_exists(&s3).await);
    let err = store.save().await.unwrap_err().to_string();
    assert!(err.contains("was released"), "{err}");
}

#[tokio::test]
async fn a_held_lock_fails_at_once_or_is_waited_for() {
    let emulator = Emulator::start();
    let s3 = state_bucket(&emulator).await;
    let loc = location();
    let mut holder = s3::open_with(s3.clone(), &loc, "prod", "promote us-west-2", None)
        .await
        .unwrap();
    let id = holder.holder().unwrap().id.clone();
    let err = s3::open_with(s3.clone(), &loc, "prod", "apply", None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("the state is locked by"), "{err}");
    assert!(err.contains("promote us-west-2 since"), "{err}");
    assert!(err.contains(&format!("standby state unlock {id}")), "{err}");

    let t = Instant::now();
    let err = s3::open_with(
        s3.clone(),
        &loc,
        "prod",
        "apply",
        Some(Duration::from_secs(1)),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    assert!(err.contains(&id), "{err}");

    let waiter = tokio::spawn({
        let (s3, loc) = (s3.clone(), loc.clone());
        async move { s3::open_with(s3, &loc, "prod", "apply", Some(Duration::from_secs(30))).await }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    holder.release().await.unwrap();
    let mut next = waiter
        .await
        .unwrap()
        .expect("the waiter gets the lock once it is free");
    assert_eq!(next.holder().unwrap().operation, "apply");
    next.release().await.unwrap();
}

#[tokio::test]
async fn ctrl_c_during_apply_releases_the_lock() {
    let emulator = Emulator::start();
    let s3 = state_bucket(&emulator).await;
    let ws = workspace(emulator.env(), 10, true);
    let (mut child, mut err) = ws.spawn(&[
        "apply",
        "environments/prod",
        "--auto-approve",
        "--parallelism",
        "1",
    ]);
    let mut done = 0;
    read_until(&mut err, |l| {
        done += l.contains(": create done") as usize;
        done == 4
    });
    assert!(lock_exists(&s3).await);
    // SIGINT to this one child, by its PID, as Ctrl-C in a terminal would send.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let rest = read_until(&mut err, |_| false).concat();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{rest}");
    assert!(rest.contains("apply interrupted"), "{rest}");
    assert!(!lock_exists(&s3).await, "the lock is gone: {rest}");
    let state = object(&s3, KEY).await.unwrap();
    assert_eq!(state["history"][0]["outcome"], "interrupted");
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
}

#[tokio::test]
async fn unlock_removes_a_stuck_lock_only_by_its_id() {
    let emulator = Emulator::start();
    let s3 = state_bucket(&emulator).await;
    let ws = workspace(emulator.env(), 1, true);
    let stuck = serde_json::json!({
        "id": "4f9e-stuck", "user": "ci", "host": "runner-7", "pid": 4242,
        "operation": "apply", "since": "2025-01-01T00:00:00Z"
    });
    s3.put_object()
        .bucket(BUCKET)
        .key(format!("{KEY}.lock"))
        .body(ByteStream::from(serde_json::to_vec(&stuck).unwrap()))
        .send()
        .await
        .unwrap();

    let refused = ws.run(&["apply", "environments/prod", "--auto-approve"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("the state is locked by ci@runner-7 (pid 4242, apply since 2025-01-01T00:00:00Z, lock id 4f9e-stuck)"),
        "{}",
        refused.stderr
    );
    let wrong = ws.run(&["state", "unlock", "nope", "environments/prod", "--force"]);
    assert_eq!(wrong.code, 1);
    assert!(
        wrong.stderr.contains("is not the current lock"),
        "{}",
        wrong.stderr
    );
    let unasked = ws.run(&["state", "unlock", "4f9e-stuck", "environments/prod"]);
    assert_eq!(unasked.code, 1, "no terminal to confirm on");
    assert!(lock_exists(&s3).await);

    let unlocked = ws
        .run(&[
            "state",
            "unlock",
            "4f9e-stuck",
            "environments/prod",
            "--force",
        ])
        .ok();
    assert!(
        unlocked.stderr.contains("ci@runner-7"),
        "{}",
        unlocked.stderr
    );
    assert!(!lock_exists(&s3).await);
    let again = ws.run(&[
        "state",
        "unlock",
        "4f9e-stuck",
        "environments/prod",
        "--force",
    ]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("not locked"), "{}", again.stderr);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
}

#[tokio::test]
async fn migration_from_local_to_s3_and_back_keeps_lineage_and_serial() {
    let emulator = Emulator::start();
    let s3 = state_bucket(&emulator).await;
    let ws = workspace(emulator.env(), 1, false);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    let local = ws.state("prod");
    let (lineage, serial) = (local["lineage"].clone(), local["serial"].as_u64().unwrap());

    ws.write("environments/prod/main.hcl", &spec(1, true));
    let refused = ws.run(&["plan", "environments/prod"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("standby init --migrate-state"),
        "{}",
        refused.stderr
    );
    let without_flag = ws.run(&["init", "environments/prod"]);
    assert_eq!(without_flag.code, 1);
    assert!(
        without_flag.stderr.contains("--migrate-state"),
        "{}",
        without_flag.stderr
    );
    ws.run(&[
        "init",
        "environments/prod",
        "--migrate-state",
        "--auto-approve",
    ])
    .ok();
    let remote = object(&s3, KEY).await.expect("copied to S3");
    assert_eq!(remote["lineage"], lineage);
    let remote_serial = remote["serial"].as_u64().unwrap();
    assert!(remote_serial >= serial, "{remote_serial} < {serial}");
    assert_eq!(remote["resources"], local["resources"]);
    assert!(!ws.state_path("prod").exists(), "the local copy is retired");
    assert!(!lock_exists(&s3).await);
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
    let again = ws.run(&["init", "environments/prod"]).ok();
    assert!(
        again.stderr.contains("nothing to migrate"),
        "{}",
        again.stderr
    );

    // And back: the backend block removed.
    ws.write("environments/prod/main.hcl", &spec(1, false));
    let refused = ws.run(&["state", "list", "environments/prod"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains(&format!("s3://{BUCKET}/{KEY}")),
        "{}",
        refused.stderr
    );
    ws.run(&[
        "init",
        "environments/prod",
        "--migrate-state",
        "--auto-approve",
    ])
    .ok();
    let back = ws.state("prod");
    assert_eq!(back["lineage"], lineage);
    assert!(back["serial"].as_u64().unwrap() >= remote_serial);
    assert_eq!(back["resources"], local["resources"]);
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
}

#[tokio::test]
async fn migration_refuses_a_destination_of_another_lineage() {
    let emulator = Emulator::start();
    let s3 = state_bucket(&emulator).await;
    let ws = workspace(emulator.env(), 1, false);
    ws.write(
        "state/prod.json",
        &serde_json::json!({"format_version": 1, "serial": 3, "lineage": "mine", "environment": "prod"}).to_string(),
    );
    let theirs = serde_json::json!({"format_version": 1, "serial": 1, "lineage": "theirs", "environment": "prod"});
    s3.put_object()
        .bucket(BUCKET)
        .key(KEY)
        .body(ByteStream::from(serde_json::to_vec(&theirs).unwrap()))
        .send()
        .await
        .unwrap();
    ws.write("environments/prod/main.hcl", &spec(1, true));
    let refused = ws.run(&[
        "init",
        "environments/prod",
        "--migrate-state",
        "--auto-approve",
    ]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("another lineage"),
        "{}",
        refused.stderr
    );
    assert_eq!(object(&s3, KEY).await.unwrap()["lineage"], "theirs");
    assert!(ws.state_path("prod").exists());
}

#[tokio::test]
async fn a_saved_plan_applies_from_another_checkout_and_is_refused_when_stale() {
    let emulator = Emulator::start();
    let s3 = state_bucket(&emulator).await;
    let laptop = workspace(emulator.env(), 1, true);
    let ci = workspace(emulator.env(), 1, true);
    laptop
        .run(&["plan", "environments/prod", "--out", "first.plan"])
        .ok();
    let plan: Value =
        serde_json::from_slice(&std::fs::read(laptop.path().join("first.plan")).unwrap()).unwrap();
    assert_eq!(plan["backend"]["type"], "s3");
    assert_eq!(plan["backend"]["bucket"], BUCKET);
    let carried = ci.path().join("first.plan");
    std::fs::copy(laptop.path().join("first.plan"), &carried).unwrap();
    // The plan's own checkout is gone: the state is found through the plan's backend.
    std::fs::remove_dir_all(laptop.path().join("environments")).unwrap();
    ci.run(&["apply", "first.plan"]).ok();
    assert_eq!(wanted_instances(&object(&s3, KEY).await.unwrap()), 1);
    let again = ci.run(&["apply", "first.plan"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("another state"), "{}", again.stderr);

    // A plan made against serial N is refused once another apply moved the state on.
    ci.write("environments/prod/main.hcl", &spec(2, true));
    ci.run(&["plan", "environments/prod", "--out", "second.plan"])
        .ok();
    ci.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    let stale = ci.run(&["apply", "second.plan"]);
    assert_eq!(stale.code, 1);
    assert!(
        stale.stderr.contains("the saved plan is stale"),
        "{}",
        stale.stderr
    );
    assert!(!lock_exists(&s3).await, "released after the refusal too");
}

// --- the `state` subcommands -------------------------------------------------------------

fn resource(address: &str, kind: &str, deps: &[&str]) -> Value {
    serde_json::json!({
        "address": address, "kind": kind, "region": "us-east-1",
        "id": format!("id-{}", address.len()), "attrs": {}, "depends_on": deps
    })
}

fn seeded_state() -> Value {
    serde_json::json!({
        "format_version": 1,
        "serial": 4,
        "lineage": "seed-lineage",
        "environment": "prod",
        "resources": [
            resource("region.us-east-1.cluster.web.instance[0]", "instance", &["region.us-east-1.network.vpc"]),
            resource("region.us-east-1.cluster.web.instance[1]", "instance", &["region.us-east-1.network.vpc"]),
            resource("region.us-east-1.network.vpc", "vpc", &[]),
        ]
    })
}

/// A workspace with a local state seeded by hand: no AWS is needed for these.
fn seeded_local() -> Workspace {
    let ws = workspace(Vec::new(), 2, false);
    ws.write("state/prod.json", &seeded_state().to_string());
    ws
}

fn list(ws: &Workspace) -> Vec<String> {
    ws.run(&["state", "list", "environments/prod"])
        .ok()
        .stdout
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn state_list_and_show_read_the_state() {
    let ws = seeded_local();
    assert_eq!(list(&ws).len(), 3);
    let shown = ws
        .run(&[
            "state",
            "show",
            "region.us-east-1.network.vpc",
            "environments/prod",
        ])
        .ok();
    let v: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(v["kind"], "vpc");
    let missing = ws.run(&[
        "state",
        "show",
        "region.us-east-1.nope",
        "environments/prod",
    ]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("is not in the state"),
        "{}",
        missing.stderr
    );
}

#[test]
fn state_mv_renames_an_address_and_its_references() {
    let ws = seeded_local();
    let moved = ws
        .run(&[
            "state",
            "mv",
            "region.us-east-1.network.vpc",
            "region.us-east-1.network.main",
            "environments/prod",
        ])
        .ok();
    assert!(
        moved.stderr.contains("nothing in AWS was"),
        "{}",
        moved.stderr
    );
    let state = ws.state("prod");
    assert_eq!(state["serial"], 5);
    assert!(list(&ws).contains(&"region.us-east-1.network.main".to_string()));
    assert_eq!(
        state["resources"][0]["depends_on"][0], "region.us-east-1.network.main",
        "references follow the move"
    );
    let missing = ws.run(&[
        "state",
        "mv",
        "region.us-east-1.network.vpc",
        "region.us-east-1.network.x",
        "environments/prod",
    ]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("is not in the state"),
        "{}",
        missing.stderr
    );
    let taken = ws.run(&[
        "state",
        "mv",
        "region.us-east-1.cluster.web.instance[0]",
        "region.us-east-1.cluster.web.instance[1]",
        "environments/prod",
    ]);
    assert_eq!(taken.code, 1);
    assert!(
        taken.stderr.contains("already in the state"),
        "{}",
        taken.stderr
    );
    assert_eq!(ws.state("prod")["serial"], 5, "refusals write nothing");
}

#[test]
fn state_rm_forgets_without_destroying() {
    let ws = seeded_local();
    let removed = ws
        .run(&[
            "state",
            "rm",
            "region.us-east-1.cluster.web",
            "environments/prod",
        ])
        .ok();
    assert!(
        removed.stderr.contains("Nothing was destroyed"),
        "{}",
        removed.stderr
    );
    assert_eq!(list(&ws), vec!["region.us-east-1.network.vpc".to_string()]);
    let again = ws.run(&[
        "state",
        "rm",
        "region.us-east-1.cluster.web",
        "environments/prod",
    ]);
    assert_eq!(again.code, 1);
}

#[test]
fn state_pull_prints_the_state_and_push_replaces_it_with_a_newer_one() {
    let ws = seeded_local();
    let pulled = ws.run(&["state", "pull", "environments/prod"]).ok();
    let mut state: Value = serde_json::from_str(&pulled.stdout).expect("stdout is the state");
    assert_eq!(state["lineage"], "seed-lineage");

    // Equal serial: refused.
    ws.write("same.json", &state.to_string());
    let refused = ws.run(&["state", "push", "same.json", "environments/prod"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("not newer"), "{}", refused.stderr);

    state["serial"] = 10.into();
    state["resources"].as_array_mut().unwrap().pop();
    ws.write("newer.json", &state.to_string());
    ws.run(&["state", "push", "newer.json", "environments/prod"])
        .ok();
    let now = ws.state("prod");
    assert_eq!(now["serial"], 11, "max(current, pushed) + 1");
    assert_eq!(now["resources"].as_array().unwrap().len(), 2);

    state["lineage"] = "another".into();
    state["serial"] = 50.into();
    ws.write("other.json", &state.to_string());
    let other = ws.run(&["state", "push", "other.json", "environments/prod"]);
    assert_eq!(other.code, 1);
    assert!(other.stderr.contains("lineage"), "{}", other.stderr);
    ws.run(&[
        "state",
        "push",
        "other.json",
        "environments/prod",
        "--force",
    ])
    .ok();
    assert_eq!(ws.state("prod")["lineage"], "another");
    assert_eq!(ws.state("prod")["serial"], 51);
}

#[test]
fn state_unlock_explains_that_a_local_lock_cannot_be_stuck() {
    let ws = seeded_local();
    let out = ws.run(&["state", "unlock", "x", "environments/prod", "--force"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("not locked") || out.stderr.contains("operating-system lock"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn state_subcommands_work_through_s3() {
    let emulator = Emulator::start();
    let s3 = state_bucket(&emulator).await;
    let ws = workspace(emulator.env(), 2, true);
    ws.write("seed.json", &seeded_state().to_string());
    ws.run(&["state", "push", "seed.json", "environments/prod"])
        .ok();
    assert_eq!(object(&s3, KEY).await.unwrap()["serial"], 5);
    assert_eq!(list(&ws).len(), 3);
    ws.run(&[
        "state",
        "mv",
        "region.us-east-1.cluster.web.instance[1]",
        "region.us-east-1.cluster.web.instance[7]",
        "environments/prod",
    ])
    .ok();
    ws.run(&[
        "state",
        "rm",
        "region.us-east-1.cluster.web.instance[0]",
        "environments/prod",
    ])
    .ok();
    let remote = object(&s3, KEY).await.unwrap();
    assert_eq!(remote["serial"], 7);
    let addresses: Vec<&str> = remote["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        addresses,
        [
            "region.us-east-1.cluster.web.instance[7]",
            "region.us-east-1.network.vpc"
        ]
    );
    let pulled: Value =
        serde_json::from_str(&ws.run(&["state", "pull", "environments/prod"]).ok().stdout).unwrap();
    assert_eq!(pulled, remote);
    ws.run(&[
        "state",
        "show",
        "region.us-east-1.network.vpc",
        "environments/prod",
    ])
    .ok();
    assert!(!lock_exists(&s3).await);
    assert!(
        !ws.state_path("prod").exists(),
        "nothing was written locally"
    );
    // The backend record lets a later removal of the block be noticed.
    assert!(ws.path().join("state/prod.backend.json").exists());
    let backend: Backend =
        serde_json::from_slice(&std::fs::read(ws.path().join("state/prod.backend.json")).unwrap())
            .unwrap();
    assert_eq!(backend, Backend::S3(location()));
}

#[tokio::test]
async fn a_command_that_fails_while_holding_the_lock_releases_it_on_drop() {
    let emulator = Emulator::start();
    let s3 = state_bucket(&emulator).await;
    let ws = workspace(emulator.env(), 1, true);
    // promote takes the lock, then refuses an environment without state: the store is
    // dropped without an explicit release, so the blocking fallback removes the lock.
    let refused = ws.run(&[
        "promote",
        "us-east-1",
        "environments/prod",
        "--auto-approve",
    ]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("no state yet"),
        "{}",
        refused.stderr
    );
    assert!(!lock_exists(&s3).await, "{}", refused.stderr);
}
