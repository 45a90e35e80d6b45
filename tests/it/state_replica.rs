//! The S3 state's replica end to end: the real binary through the test proxy in front of the
//! emulator, both copies read back through the SDK straight from the emulator. Every write
//! lands in both; a promote with the backend's region down runs on the replica and says so in
//! the history; the next command reconciles; a pair that diverged is refused until `state
//! push`; Ctrl-C while waiting for the replica's lock releases the state's.

use crate::support::aws;
use crate::support::proxy::Proxy;
use crate::support::workspace::{read_until, Workspace};
use crate::support::Emulator;
use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;

const BUCKET: &str = "standby-state";
const REPLICA: &str = "standby-state-west";
const KEY: &str = "envs/prod.json";

const SPEC: &str = r#"
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

service "checkout" {
  rto = "15m"
  rpo = "5m"
}

region "us-east-1" {
  role = "primary"
  cidr = "10.0.0.0/16"
}

region "us-west-2" {
  role     = "warm-standby"
  cidr     = "10.1.0.0/16"
  capacity = 0.5
}

cluster "web" {
  size  = 2
  image = "ami-12c6146b"
  port  = 443
}
"#;

struct Setup {
    _emulator: Emulator,
    proxy: Proxy,
    ws: Workspace,
    /// Straight to the emulator, past the proxy: the state's bucket and the replica's.
    east: aws_sdk_s3::Client,
    west: aws_sdk_s3::Client,
}

/// Both versioned buckets, as a platform team would provide them, and an applied
/// environment whose commands go through the proxy.
async fn setup() -> Setup {
    setup_with(SPEC).await
}

/// The same with the environment applied from `spec`.
async fn setup_with(spec: &str) -> Setup {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let east = emulator.s3("us-east-1").await;
    east.create_bucket().bucket(BUCKET).send().await.unwrap();
    let west = emulator.s3("us-west-2").await;
    west.create_bucket()
        .bucket(REPLICA)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for (s3, bucket) in [(&east, BUCKET), (&west, REPLICA)] {
        aws::set_versioning(
            s3,
            bucket,
            aws_sdk_s3::types::BucketVersioningStatus::Enabled,
        )
        .await;
    }
    let ws = Workspace::new(proxy.env());
    ws.write("environments/prod/main.hcl", spec);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    Setup {
        _emulator: emulator,
        proxy,
        ws,
        east,
        west,
    }
}

async fn object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<Value> {
    let out = s3.get_object().bucket(bucket).key(key).send().await.ok()?;
    let bytes = out.body.collect().await.unwrap().into_bytes();
    Some(serde_json::from_slice(&bytes).expect("JSON"))
}

/// The global services an outage of us-east-1 impairs (signed for it).
const GLOBAL: [&str; 3] = ["route53", "iam", "sts"];

impl Setup {
    /// Every version either bucket ever held of the state names at most one primary.
    async fn assert_never_two_primaries(&self) {
        let mut seen = 0;
        for (s3, bucket) in [(&self.east, BUCKET), (&self.west, REPLICA)] {
            let listed = s3
                .list_object_versions()
                .bucket(bucket)
                .prefix(KEY)
                .send()
                .await
                .unwrap();
            for v in listed.versions().iter().filter(|v| v.key() == Some(KEY)) {
                let out = s3
                    .get_object()
                    .bucket(bucket)
                    .key(KEY)
                    .version_id(v.version_id().unwrap())
                    .send()
                    .await
                    .unwrap();
                let state: Value =
                    serde_json::from_slice(&out.body.collect().await.unwrap().into_bytes())
                        .unwrap();
                let primaries = state["roles"]
                    .as_object()
                    .map_or(0, |r| r.values().filter(|x| *x == "primary").count());
                assert!(
                    primaries <= 1,
                    "{bucket} serial {}: {}",
                    state["serial"],
                    state["roles"]
                );
                seen += 1;
            }
        }
        assert!(seen > 4, "every version was read: {seen}");
    }

    async fn primary(&self) -> Value {
        object(&self.east, BUCKET, KEY).await.expect("the state")
    }

    async fn replica(&self) -> Value {
        object(&self.west, REPLICA, KEY).await.expect("the replica")
    }

    async fn locks(&self) -> (bool, bool) {
        let lock = format!("{KEY}.lock");
        (
            object(&self.east, BUCKET, &lock).await.is_some(),
            object(&self.west, REPLICA, &lock).await.is_some(),
        )
    }
}

#[tokio::test]
async fn every_write_lands_in_both_copies_with_the_same_serial_and_lineage() {
    let s = setup().await;
    s.ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    let (primary, replica) = (s.primary().await, s.replica().await);
    assert_eq!(primary["serial"], replica["serial"]);
    assert_eq!(primary["lineage"], replica["lineage"]);
    assert!(primary["serial"].as_u64().unwrap() >= 2, "{primary}");
    assert_eq!(primary, replica, "the replica is the same state");
    assert_eq!(s.locks().await, (false, false), "both locks released");
    let pulled =
        s.ws.run(&["state", "pull", "environments/prod", "--replica"])
            .ok();
    let pulled: Value = serde_json::from_str(&pulled.stdout).unwrap();
    assert_eq!(pulled, replica);
}

#[tokio::test]
async fn init_gives_a_replica_added_to_the_backend_its_first_copy() {
    let without = SPEC.replace(
        "    replica {\n      bucket = \"standby-state-west\"\n      region = \"us-west-2\"\n    }\n",
        "",
    );
    assert_ne!(without, SPEC);
    let s = setup_with(&without).await;
    assert!(object(&s.west, REPLICA, KEY).await.is_none());
    s.ws.write("environments/prod/main.hcl", SPEC);
    s.ws.run(&["init", "environments/prod"]).ok();
    assert_eq!(s.replica().await, s.primary().await);
    assert_eq!(s.locks().await, (false, false));
}

#[tokio::test]
async fn a_promote_with_the_backend_region_down_runs_on_the_replica_and_the_next_command_reconciles(
) {
    let s = setup().await;
    let before = s.primary().await;
    s.proxy.refuse_region("us-east-1");
    // The outage impairs the global control planes too.
    for service in GLOBAL {
        s.proxy.refuse_service(service);
    }
    s.proxy.clear();
    let promoted =
        s.ws.run(&[
            "promote",
            "us-west-2",
            "environments/prod",
            "--assume-down",
            "us-east-1",
            "--auto-approve",
            "--max-retries",
            "2",
        ])
        .ok();
    assert!(
        promoted.stderr.contains(
            "promote us-west-2 reads, locks and writes the state replica s3://standby-state-west/envs/prod.json in us-west-2"
        ),
        "{}",
        promoted.stderr
    );
    let to_east: Vec<_> = s
        .proxy
        .seen()
        .into_iter()
        .filter(|r| r.region == "us-east-1" && !GLOBAL.contains(&r.service.as_str()))
        .collect();
    assert!(
        to_east.is_empty(),
        "requests went to us-east-1: {to_east:?}"
    );
    assert!(
        promoted
            .stdout
            .contains("note: iam could not be read, so the state holds none of its resources"),
        "{}",
        promoted.stdout
    );
    for service in GLOBAL {
        s.proxy.restore_service(service);
    }

    let (primary, replica) = (s.primary().await, s.replica().await);
    assert_eq!(primary, before, "the state in us-east-1 was not touched");
    assert_eq!(replica["lineage"], before["lineage"]);
    let promoted_serial = replica["serial"].as_u64().unwrap();
    assert!(promoted_serial > before["serial"].as_u64().unwrap());
    assert_eq!(replica["roles"]["us-west-2"], "primary");
    let entry = replica["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(entry["operation"], "promote us-west-2");
    assert_eq!(
        entry["state_replica"],
        "s3://standby-state-west/envs/prod.json in us-west-2"
    );
    assert_eq!(s.locks().await, (false, false));

    // Back: a read shows the newer replica and writes nothing; the next locking command
    // copies it over the state, then writes both.
    s.proxy.restore_region("us-east-1");
    let listed = s.ws.run(&["status", "environments/prod"]).ok();
    assert!(
        listed.stdout.contains("us-west-2  primary"),
        "{}",
        listed.stdout
    );
    assert_eq!(s.primary().await, before, "a read reconciles nothing");
    let rebuilt =
        s.ws.run(&[
            "rebuild",
            "us-east-1",
            "environments/prod",
            "--auto-approve",
        ])
        .ok();
    assert!(
        rebuilt.stderr.contains(&format!(
            "reconciled the state: s3://standby-state/envs/prod.json in us-east-1 was at serial {}, \
             its replica s3://standby-state-west/envs/prod.json in us-west-2 at serial {promoted_serial}",
            before["serial"]
        )),
        "{}",
        rebuilt.stderr
    );
    let (primary, replica) = (s.primary().await, s.replica().await);
    assert_eq!(primary, replica);
    assert!(primary["serial"].as_u64().unwrap() > promoted_serial);
    let history = primary["history"].as_array().unwrap();
    let ops: Vec<_> = history.iter().map(|h| h["operation"].clone()).collect();
    assert_eq!(
        ops,
        [
            "apply",
            "promote us-west-2",
            "rebuild us-east-1 as warm-standby"
        ],
        "{history:?}"
    );
    assert!(history[1]["state_replica"].is_string());
    assert!(history[2].get("state_replica").is_none(), "{history:?}");
    assert_eq!(primary["roles"]["us-east-1"], "warm-standby");
    s.assert_never_two_primaries().await;
}

#[tokio::test]
async fn a_pair_that_diverged_is_refused_until_state_push() {
    let s = setup().await;
    let before = s.primary().await;
    let mut forked = s.replica().await;
    forked["outputs"]["forked"] = "yes".into();
    s.west
        .put_object()
        .bucket(REPLICA)
        .key(KEY)
        .body(ByteStream::from(serde_json::to_vec(&forked).unwrap()))
        .send()
        .await
        .unwrap();

    for args in [
        &["plan", "environments/prod"][..],
        &["apply", "environments/prod", "--auto-approve"],
    ] {
        let refused = s.ws.run(args);
        assert_eq!(refused.code, 1, "{}", refused.stderr);
        let line = refused
            .stderr
            .lines()
            .find(|l| l.contains("diverged"))
            .unwrap_or_else(|| panic!("{}", refused.stderr))
            .replace(before["lineage"].as_str().unwrap(), "[lineage]")
            .replace(&format!("serial {}", before["serial"]), "serial [serial]");
        insta::assert_snapshot!("diverged_state_and_replica", line);
    }
    assert_eq!(s.primary().await, before, "nothing written");
    assert_eq!(s.replica().await, forked, "nothing written");
    assert_eq!(s.locks().await, (false, false));

    // The way out: push the copy to keep, with a newer serial; it lands in both.
    let pulled =
        s.ws.run(&["state", "pull", "environments/prod", "--replica"])
            .ok();
    let mut keep: Value = serde_json::from_str(&pulled.stdout).unwrap();
    keep["serial"] = (before["serial"].as_u64().unwrap() + 1).into();
    s.ws.write("keep.json", &keep.to_string());
    s.ws.run(&["state", "push", "keep.json", "environments/prod"])
        .ok();
    let (primary, replica) = (s.primary().await, s.replica().await);
    assert_eq!(primary, replica);
    assert_eq!(primary["outputs"]["forked"], "yes");
    s.ws.run(&["plan", "environments/prod"]).ok();
}

#[tokio::test]
async fn ctrl_c_while_waiting_for_the_replica_lock_releases_the_state_lock() {
    let s = setup().await;
    let other = serde_json::json!({
        "id": "lock-west", "user": "ci", "host": "runner-7", "pid": 4242,
        "operation": "promote us-west-2", "since": "2025-01-01T00:00:00Z"
    });
    s.west
        .put_object()
        .bucket(REPLICA)
        .key(format!("{KEY}.lock"))
        .body(ByteStream::from(serde_json::to_vec(&other).unwrap()))
        .send()
        .await
        .unwrap();
    let (mut child, mut err) = s.ws.spawn(&[
        "apply",
        "environments/prod",
        "--auto-approve",
        "--lock-timeout",
        "5m",
        "-v",
    ]);
    let waited = read_until(&mut err, |l| l.contains("waiting")).concat();
    assert!(waited.contains("lock id lock-west"), "{waited}");
    assert_eq!(s.locks().await, (true, true), "it holds the state's lock");
    // SIGINT to this one child, by its PID, as Ctrl-C in a terminal would send.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let rest = read_until(&mut err, |_| false).concat();
    assert_eq!(child.wait().unwrap().code(), Some(130), "{rest}");
    assert!(rest.contains("interrupted"), "{rest}");
    assert_eq!(
        s.locks().await,
        (false, true),
        "its own lock released, the other holder's left: {rest}"
    );
}
