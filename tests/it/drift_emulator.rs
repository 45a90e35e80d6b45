//! `standby drift` end to end: the real binary against the emulator, with every out-of-band
//! change made through the SDK as a person or another tool would make it.

use crate::support::aws;
use crate::support::specs::{API_DNS, REGIONS, SERVICE};
use crate::support::workspace::{file_mode, Run, Workspace};
use crate::support::Emulator;
use aws_sdk_ec2::types::{Filter, InstanceType, ResourceType, Tag, TagSpecification};
use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch};
use serde_json::Value;

fn spec(web: u32, extra: &str) -> String {
    let workload = format!(
        r#"
cluster "web" {{
  instance_type = "t3.micro"
  size          = {web}
  image         = "ami-12c6146b"
  port          = 443
}}

bucket "receipts" {{}}
"#
    );
    [SERVICE, REGIONS, &workload, API_DNS, extra, "\n"].concat()
}

fn workspace(emulator: &Emulator, web: u32, extra: &str) -> Workspace {
    let ws = Workspace::new(emulator.env());
    ws.write("environments/prod/main.hcl", &spec(web, extra));
    ws
}

/// `drift --format json`: the exit code and the parsed document.
fn drift_json(ws: &Workspace) -> (i32, Value, Run) {
    let run = ws.run(&["drift", "environments/prod", "--format", "json"]);
    assert!(
        run.code == 0 || run.code == 2,
        "drift failed\nstdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    let doc: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("drift JSON does not parse: {e}\n{}", run.stdout));
    assert_eq!(doc["format_version"], 1);
    (run.code, doc, run)
}

/// Address to drift kind, from the JSON document.
fn drifted(doc: &Value) -> Vec<(String, String)> {
    doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap().to_string(),
                r["drift"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn has(d: &[(String, String)], address: &str, kind: &str) -> bool {
    d.iter().any(|(a, k)| a == address && k == kind)
}

/// The AWS id the state holds for `address`.
fn id_of(ws: &Workspace, address: &str) -> String {
    let state = ws.state("prod");
    state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == address)
        .and_then(|r| r["id"].as_str())
        .unwrap_or_else(|| panic!("{address} is not in the state"))
        .to_string()
}

async fn suspend_versioning(emulator: &Emulator, region: &str, bucket: &str) {
    let s3 = emulator.s3(region).await;
    aws::set_versioning(
        &s3,
        bucket,
        aws_sdk_s3::types::BucketVersioningStatus::Suspended,
    )
    .await;
}

/// Stops the failover alias record of `set_identifier` from evaluating its target's health,
/// keeping the rest of it.
async fn ignore_target_health(emulator: &Emulator, set_identifier: &str) {
    let r53 = aws::route53(emulator).await;
    let (zone, sets) = aws::zone_record_sets(&r53).await.expect("the zone exists");
    let mut set = sets
        .into_iter()
        .find(|s| s.set_identifier() == Some(set_identifier))
        .expect("the record exists");
    let alias = set.alias_target.take().expect("an alias record");
    set.alias_target = Some(
        aws_sdk_route53::types::AliasTarget::builder()
            .dns_name(alias.dns_name())
            .hosted_zone_id(alias.hosted_zone_id())
            .evaluate_target_health(false)
            .build()
            .unwrap(),
    );
    r53.change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Upsert)
                        .resource_record_set(set)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// Launches an instance with the environment's tags but no address tag; returns its id.
async fn launch_unmanaged(emulator: &Emulator) -> String {
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
    let out = emulator
        .ec2("us-east-1")
        .await
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .tags(tag("standby:service", "checkout"))
                .tags(tag("standby:environment", "prod"))
                .tags(tag("Name", "someone-s-debug-box"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.instances()[0].instance_id().unwrap().to_string()
}

/// Whether any instance in `region` with `id` still runs (moto keeps terminated ones).
async fn running(emulator: &Emulator, region: &str, id: &str) -> bool {
    let out = emulator
        .ec2(region)
        .await
        .describe_instances()
        .instance_ids(id)
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("running")
                .build(),
        )
        .send()
        .await
        .unwrap();
    !out.reservations().is_empty()
}

#[tokio::test]
async fn every_out_of_band_change_is_named_and_apply_converges_it() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator, 2, "");
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();

    // A fresh apply: no noise (bucket replication, records, checks all normalised).
    let (code, doc, run) = drift_json(&ws);
    assert_eq!(code, 0, "{}", run.stderr);
    assert_eq!(doc["resources"], serde_json::json!([]), "{doc:#}");
    assert_eq!(doc["drifted"], false);
    let text = ws.run(&["drift", "environments/prod"]).ok();
    assert!(text.stdout.starts_with("No drift."), "{}", text.stdout);

    // Out of band, through the SDK.
    let east = emulator.ec2("us-east-1").await;
    let web = id_of(&ws, "region.us-east-1.cluster.web.group");
    aws::autoscaling(&emulator, "us-east-1")
        .await
        .update_auto_scaling_group()
        .auto_scaling_group_name(&web)
        .max_size(5)
        .send()
        .await
        .unwrap();
    let west_web = id_of(&ws, "region.us-west-2.cluster.web.group");
    aws::autoscaling(&emulator, "us-west-2")
        .await
        .delete_auto_scaling_group()
        .auto_scaling_group_name(&west_web)
        .force_delete(true)
        .send()
        .await
        .unwrap();
    let bucket = id_of(&ws, "region.us-east-1.bucket.receipts");
    suspend_versioning(&emulator, "us-east-1", &bucket).await;
    ignore_target_health(&emulator, "us-west-2").await;
    let stray = launch_unmanaged(&emulator).await;

    let (code, doc, run) = drift_json(&ws);
    assert_eq!(code, 2, "{}", run.stderr);
    assert_eq!(doc["drifted"], true);
    let d = drifted(&doc);
    assert!(
        has(&d, "region.us-east-1.cluster.web.group", "changed"),
        "{d:?}"
    );
    assert!(
        has(&d, "region.us-west-2.cluster.web.group", "missing"),
        "{d:?}"
    );
    assert!(
        has(&d, "region.us-east-1.bucket.receipts", "changed"),
        "{d:?}"
    );
    assert!(has(&d, "dns.api.record.us-west-2", "changed"), "{d:?}");
    let stray_address = format!("unmanaged.instance.{stray}");
    assert!(has(&d, &stray_address, "unmanaged"), "{d:?}");
    let group = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "region.us-east-1.cluster.web.group")
        .unwrap();
    assert_eq!(
        group["changes"],
        serde_json::json!([{"key": "max", "before": 2, "after": 5}])
    );
    assert!(
        run.stderr.contains("Drift: "),
        "human summary on stderr: {}",
        run.stderr
    );

    // JUnit: every drifted resource is a failing test case, the stray one too.
    let junit = ws.run(&[
        "drift",
        "environments/prod",
        "--format",
        "junit",
        "--out",
        "drift.xml",
    ]);
    assert_eq!(junit.code, 2, "{}", junit.stderr);
    let xml = std::fs::read_to_string(ws.path().join("drift.xml")).unwrap();
    assert_eq!(file_mode(&ws.path().join("drift.xml")), 0o600);
    assert!(xml.starts_with("<?xml"));
    assert!(
        xml.contains("<testsuite name=\"standby drift prod\"") && xml.contains(" timestamp=\""),
        "the suite says when it ran and how long it took: {xml}"
    );
    for (address, _) in &d {
        let case = format!("name=\"{address}\" time=\"0\">\n      <failure ");
        assert!(xml.contains(&case), "no failure for {address}:\n{xml}");
    }
    assert_eq!(
        xml.matches("<failure ").count(),
        d.len(),
        "one failure per drifted resource"
    );

    // apply converges all but the stray instance, which no plan touches.
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    assert!(running(&emulator, "us-east-1", &stray).await);
    let (code, doc, _) = drift_json(&ws);
    assert_eq!(code, 2);
    assert_eq!(drifted(&doc), [(stray_address, "unmanaged".to_string())]);
    east.terminate_instances()
        .instance_ids(&stray)
        .send()
        .await
        .unwrap();
    let (code, doc, run) = drift_json(&ws);
    assert_eq!(code, 0, "{doc:#}\n{}", run.stderr);
    assert_eq!(doc["resources"], serde_json::json!([]));
}

#[tokio::test]
async fn an_ignore_rule_suppresses_drift_and_an_expired_one_does_not() {
    let emulator = Emulator::start();
    let rules = r#"
drift {
  ignore "region.us-east-1.bucket.receipts" {
    attributes = ["versioning"]
    reason     = "versioning trial"
    until      = "2099-12-31"
  }
  ignore "dns.api.record" {
    reason = "the DNS team tunes failover"
    until  = "2020-01-31"
  }
}
"#;
    let ws = workspace(&emulator, 1, rules);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    let bucket = id_of(&ws, "region.us-east-1.bucket.receipts");
    suspend_versioning(&emulator, "us-east-1", &bucket).await;

    let (code, doc, run) = drift_json(&ws);
    assert_eq!(
        code, 0,
        "the active rule covers it: {doc:#}\n{}",
        run.stderr
    );
    assert_eq!(
        doc["ignored"][0]["address"],
        "region.us-east-1.bucket.receipts"
    );
    assert_eq!(doc["ignored"][0]["reason"], "versioning trial");
    let expired =
        "ignore rule for dns.api.record expired on 2020-01-31: its drift is reported again";
    assert!(
        doc["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == expired),
        "{doc:#}"
    );

    ignore_target_health(&emulator, "us-east-1").await;
    let (code, doc, _) = drift_json(&ws);
    assert_eq!(code, 2);
    assert_eq!(
        drifted(&doc),
        [(
            "dns.api.record.us-east-1".to_string(),
            "changed".to_string()
        )]
    );
    let markdown = ws.run(&["drift", "environments/prod", "--format", "markdown"]);
    assert_eq!(markdown.code, 2);
    assert!(
        markdown
            .stdout
            .contains("| ~ | `dns.api.record.us-east-1` | changed |"),
        "{}",
        markdown.stdout
    );
}
