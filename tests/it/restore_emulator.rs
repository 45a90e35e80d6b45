//! `standby restore` (issue 19, point 3): the primary's database restored to an earlier time
//! and swapped in, the standby's replica re-created from it, the replaced instance kept
//! stopped with a snapshot until `--cleanup`. The real binary against the emulator, read
//! back through the SDK.

use crate::support::aws;
use crate::support::specs::DR;
use crate::support::workspace::Workspace;
use crate::support::Emulator;
use aws_sdk_rds::types::DbInstance;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const PRIMARY: &str = "checkout-prod-orders-us-east-1";
const KEPT: &str = "checkout-prod-orders-us-east-1-replaced";

fn applied() -> (Emulator, Workspace) {
    let emulator = Emulator::start();
    let ws = Workspace::new(emulator.env());
    ws.write("environments/prod/main.hcl", DR);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    (emulator, ws)
}

async fn instance(emulator: &Emulator, region: &str, id: &str) -> Option<DbInstance> {
    let rds = aws::rds(emulator, region).await;
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .ok()?;
    out.db_instances().first().cloned()
}

fn tag(i: &DbInstance, key: &str) -> Option<String> {
    i.tag_list()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value().map(str::to_string))
}

#[tokio::test]
async fn restore_to_a_time_swaps_in_a_new_primary_and_cleanup_deletes_the_old_one() {
    let (emulator, ws) = applied();
    let before = instance(&emulator, "us-east-1", PRIMARY).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let t = now.replace_nanosecond(0).unwrap().format(&Rfc3339).unwrap();

    let run = ws
        .run(&[
            "restore",
            "environments/prod",
            "--to-time",
            &t,
            "--auto-approve",
        ])
        .ok();
    assert!(
        run.stdout
            .contains(&format!("the current instance is kept as {KEPT}")),
        "{}",
        run.stdout
    );

    let now = instance(&emulator, "us-east-1", PRIMARY).await.unwrap();
    assert_eq!(now.db_instance_status(), Some("available"));
    // moto copies the source's DbiResourceId into a restored instance, so the tags tell
    // the two apart: the kept one answers at `<address>.replaced`.
    assert_eq!(
        tag(&now, "standby:address").as_deref(),
        Some("region.us-east-1.database.orders")
    );
    assert_eq!(tag(&now, "standby:kept-by-restore"), None);
    assert_eq!(tag(&now, "standby:restoring"), None);
    let kept = instance(&emulator, "us-east-1", KEPT).await.unwrap();
    assert_eq!(
        tag(&kept, "standby:address").as_deref(),
        Some("region.us-east-1.database.orders.replaced")
    );
    assert!(tag(&kept, "standby:kept-by-restore").is_some());
    assert_eq!(kept.db_instance_status(), Some("stopped"));
    assert_eq!(kept.instance_create_time(), before.instance_create_time());
    let rds = aws::rds(&emulator, "us-east-1").await;
    let snapshot = rds
        .describe_db_snapshots()
        .db_snapshot_identifier(format!("{KEPT}-final"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        snapshot.db_snapshots().len(),
        1,
        "the kept instance's snapshot"
    );

    let replica = instance(&emulator, "us-west-2", "checkout-prod-orders-us-west-2")
        .await
        .unwrap();
    let source = replica
        .read_replica_source_db_instance_identifier()
        .unwrap();
    assert!(source.ends_with(&format!(":db:{PRIMARY}")), "{source}");
    assert_eq!(
        now.read_replica_db_instance_identifiers().len(),
        1,
        "the new primary lists the re-created replica"
    );

    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
    let state = ws.state("prod");
    let last = state["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["operation"], "restore us-east-1");
    assert_eq!(last["details"]["restored"][0]["kept_as"], KEPT);
    assert_eq!(last["details"]["restored"][0]["point"]["to_time"], t);

    ws.run(&[
        "restore",
        "environments/prod",
        "--cleanup",
        "--auto-approve",
    ])
    .ok();
    assert!(instance(&emulator, "us-east-1", KEPT).await.is_none());
    assert!(instance(&emulator, "us-east-1", PRIMARY).await.is_some());
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
}

#[tokio::test]
async fn restore_refuses_a_time_it_cannot_reach_and_conflicting_flags() {
    let (emulator, ws) = applied();
    let at = |t: OffsetDateTime| t.format(&Rfc3339).unwrap();
    let now = OffsetDateTime::now_utc();
    let cases = [
        (
            vec!["--to-time".to_string(), at(now + time::Duration::hours(1))],
            "is in the future",
        ),
        (
            vec!["--to-time".to_string(), at(now - time::Duration::days(30))],
            "is before the earliest restorable time",
        ),
        (
            vec!["--to-time".to_string(), "yesterday".to_string()],
            "is not an RFC 3339 time",
        ),
        (
            vec!["--latest".into(), "--to-time".into(), at(now)],
            "cannot be used with",
        ),
        (
            vec!["--latest".into(), "--region".into(), "us-west-2".into()],
            "restore acts on the primary's databases",
        ),
        (vec![], "give the point to restore to"),
    ];
    for (flags, said) in cases {
        let mut args = vec!["restore", "environments/prod", "--auto-approve"];
        args.extend(flags.iter().map(String::as_str));
        let run = ws.run(&args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(said), "{args:?}: {}", run.stderr);
    }
    let primary = instance(&emulator, "us-east-1", PRIMARY).await.unwrap();
    assert_eq!(primary.db_instance_status(), Some("available"));
    assert!(instance(&emulator, "us-east-1", KEPT).await.is_none());
}

async fn body(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<String> {
    let out = s3.get_object().bucket(bucket).key(key).send().await.ok()?;
    let bytes = out.body.collect().await.ok()?.into_bytes();
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, text: &str) -> OffsetDateTime {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(text.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let secs = head.last_modified().unwrap().secs();
    OffsetDateTime::from_unix_timestamp(secs).unwrap()
}

#[tokio::test]
async fn restore_with_buckets_brings_each_object_back_to_its_version_of_then() {
    let (emulator, ws) = applied();
    let s3 = emulator.s3("us-east-1").await;
    let bucket = "checkout-prod-receipts-us-east-1";
    let v1 = put(&s3, bucket, "receipt.json", "v1").await;
    let t = v1.max(put(&s3, bucket, "deleted.json", "kept").await);
    // S3 times have whole seconds: what follows must be written after T, so the emulator's
    // clock is read (through an object of its own) until it has moved past it.
    let mut ticked = false;
    for _ in 0..10_000 {
        if put(&s3, bucket, "clock.json", "tick").await > t {
            ticked = true;
            break;
        }
    }
    assert!(ticked, "the emulator's clock did not move past {t}");
    put(&s3, bucket, "created-after.json", "new").await;
    put(&s3, bucket, "receipt.json", "v2 (corrupt)").await;
    s3.delete_object()
        .bucket(bucket)
        .key("deleted.json")
        .send()
        .await
        .unwrap();

    let at = t.format(&Rfc3339).unwrap();
    let run = ws
        .run(&[
            "restore",
            "environments/prod",
            "--to-time",
            &at,
            "--buckets",
            "--auto-approve",
        ])
        .ok();
    for line in [
        "receipt.json: back to version",
        "deleted.json: undeleted (1 delete marker removed)",
        "created-after.json: deleted (it did not exist then)",
    ] {
        assert!(run.stdout.contains(line), "{line}: {}", run.stdout);
    }
    assert_eq!(
        body(&s3, bucket, "receipt.json").await.as_deref(),
        Some("v1")
    );
    assert_eq!(
        body(&s3, bucket, "deleted.json").await.as_deref(),
        Some("kept")
    );
    assert_eq!(body(&s3, bucket, "created-after.json").await, None);
    let state = ws.state("prod");
    let last = state["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["details"]["buckets"][0]["bucket"], bucket);
    // The three above, and the clock object (its versions straddle T).
    let objects = last["details"]["buckets"][0]["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 4, "{objects:?}");
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
}
