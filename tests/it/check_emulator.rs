//! `standby check` against the emulator: after apply every standby is ready (exit 0); then
//! readiness is broken for real through the SDK (replication removed from the primary's
//! bucket, the image deregistered in us-west-2, a `ReplicaLag` above the RPO, a drill
//! policy never met) and each makes check exit 2 naming the region, the check and the fix.

use crate::support::aws;
use crate::support::specs::{replace_once, DR};
use crate::support::workspace::{Run, Workspace};
use crate::support::Emulator;
use serde_json::Value;

const REPLICA: &str = "checkout-prod-orders-us-west-2";

/// The DR spec with an RTO of 20 minutes (by the documented defaults, promoting it takes
/// about 15), and `extra` in its service block.
fn spec(extra: &str) -> String {
    let s = replace_once(DR, "rto = \"15m\"", "rto = \"20m\"");
    replace_once(&s, "rpo = \"5m\"", &format!("rpo = \"5m\"{extra}"))
}

fn check(ws: &Workspace, extra: &[&str]) -> Run {
    let mut args = vec!["check", "environments/prod"];
    args.extend_from_slice(extra);
    ws.run(&args)
}

/// The rows of the JSON report, as (region, check, verdict).
fn rows(run: &Run) -> Vec<(String, String, String)> {
    let doc: Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(doc["format_version"], 1);
    doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["region"].as_str().unwrap().to_string(),
                r["check"].as_str().unwrap().to_string(),
                r["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every element closes, in order: the report is well-formed XML.
pub(crate) fn assert_well_formed(xml: &str) -> usize {
    let mut open: Vec<String> = Vec::new();
    let mut cases = 0;
    for token in xmlparser::Tokenizer::from(xml) {
        match token.expect("well-formed XML") {
            xmlparser::Token::ElementStart { local, .. } => {
                cases += usize::from(local.as_str() == "testcase");
                open.push(local.as_str().to_string());
            }
            xmlparser::Token::ElementEnd { end, .. } => match end {
                xmlparser::ElementEnd::Open => {}
                xmlparser::ElementEnd::Close(_, name) => {
                    assert_eq!(open.pop().as_deref(), Some(name.as_str()))
                }
                xmlparser::ElementEnd::Empty => {
                    open.pop();
                }
            },
            _ => {}
        }
    }
    assert!(open.is_empty(), "unclosed: {open:?}");
    cases
}

#[tokio::test]
async fn check_is_ready_after_apply_and_names_each_broken_readiness() {
    let emulator = Emulator::start();
    let ws = Workspace::new(emulator.env());
    ws.write("environments/prod/main.hcl", &spec(""));
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();

    // No ReplicaLag datapoint yet: unknown, which fails only with --strict.
    let unknown = check(&ws, &[]);
    assert_eq!(unknown.code, 0, "{}\n{}", unknown.stdout, unknown.stderr);
    assert!(
        unknown
            .stdout
            .contains("unknown    data      replica lag of region.us-west-2.database.orders"),
        "{}",
        unknown.stdout
    );
    assert_eq!(check(&ws, &["--strict"]).code, 2);

    aws::publish_lag(&emulator, "us-west-2", REPLICA, 2.0).await;
    let ready = check(&ws, &["--format", "json"]);
    assert_eq!(ready.code, 0, "{}", ready.stderr);
    let all = rows(&ready);
    let doc: Value = serde_json::from_str(&ready.stdout).unwrap();
    for row in doc["rows"].as_array().unwrap() {
        // moto answers no orderable option for postgres (emulator.rs, 6) and knows no EC2
        // quota (emulator.rs, 18; `check_signals` answers it through the proxy): unknown.
        if row["need"]["kind"] == "db_class" || row["check"] == "vcpu_quota" {
            assert_eq!(row["verdict"], "unknown", "{row}");
            assert_eq!(row["unknown"]["reason"], "not_available", "{row}");
        } else if row["check"] == "replicated_backups" {
            // moto lacks backups replication (emulator.rs, 14), so no restore window:
            // unknown here, ready through the strict proxy (backups_emulator.rs).
            assert_eq!(row["verdict"], "unknown", "{row}");
            assert_eq!(row["unknown"]["reason"], "no_restore_window", "{row}");
        } else {
            assert_eq!(row["verdict"], "ready", "{row}");
        }
    }
    assert_eq!(doc["ready"], true);
    for wanted in [
        "capacity",
        "replica_lag",
        "bucket_replication",
        "failover_record",
        "failover_time",
        "recovery_estimate",
    ] {
        assert!(
            all.iter().any(|(r, c, _)| r == "us-west-2" && c == wanted),
            "{wanted}: {all:?}"
        );
    }
    assert!(all.iter().any(|(r, _, _)| r == "eu-west-1"), "{all:?}");
    assert!(
        !all.iter().any(|(r, _, _)| r == "us-east-1"),
        "the primary is no standby"
    );

    // Replication removed from the primary's bucket.
    emulator
        .s3("us-east-1")
        .await
        .delete_bucket_replication()
        .bucket("checkout-prod-receipts-us-east-1")
        .send()
        .await
        .unwrap();
    let broken = check(&ws, &[]);
    assert_eq!(broken.code, 2, "{}", broken.stderr);
    assert!(
        broken.stdout.contains(
            "not ready  data      replication region.us-east-1.bucket.receipts.replication: missing, wanted present\n      fix: run `standby apply` to restore region.us-east-1.bucket.receipts.replication"
        ),
        "{}",
        broken.stdout
    );
    assert!(
        broken.stdout.contains("us-west-2: not ready"),
        "{}",
        broken.stdout
    );
    let status = ws.run(&["status", "environments/prod"]).ok();
    let west = status
        .stdout
        .lines()
        .find(|l| l.starts_with("us-west-2"))
        .unwrap_or_default()
        .to_string();
    assert!(
        west.ends_with("not ready"),
        "the READY column: {}",
        status.stdout
    );

    // The image deregistered in us-west-2 only.
    let image = "ami-12c6146b";
    emulator
        .ec2("us-west-2")
        .await
        .deregister_image()
        .image_id(image)
        .send()
        .await
        .unwrap();
    let json = check(&ws, &["--format", "json"]);
    assert_eq!(json.code, 2);
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["ready"], false);
    let image_rows: Vec<&Value> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["need"]["kind"] == "image")
        .collect();
    let west = image_rows
        .iter()
        .find(|r| r["region"] == "us-west-2")
        .unwrap();
    assert_eq!(west["verdict"], "not_ready", "{west}");
    assert_eq!(
        west["measured"],
        serde_json::json!({"unit": "present", "value": false})
    );
    assert!(
        west["fix"]
            .as_str()
            .unwrap()
            .contains("copy image ami-12c6146b to us-west-2"),
        "{west}"
    );
    let eu = image_rows
        .iter()
        .find(|r| r["region"] == "eu-west-1")
        .unwrap();
    assert_eq!(eu["verdict"], "ready", "{eu}");

    // A replica lag above the RPO of 5m.
    aws::publish_lag(&emulator, "us-west-2", REPLICA, 600.0).await;
    let lagging = check(&ws, &["--region", "us-west-2"]);
    assert_eq!(lagging.code, 2);
    assert!(
        lagging.stdout.contains(
            "not ready  data      replica lag of region.us-west-2.database.orders: 10m, wanted at most 5m"
        ),
        "{}",
        lagging.stdout
    );
    assert!(
        !lagging.stdout.contains("eu-west-1"),
        "only the region asked for"
    );

    // A drill policy no drill met.
    ws.write(
        "environments/prod/main.hcl",
        &spec("\n  drill_every = \"90d\""),
    );
    let junit = check(&ws, &["--format", "junit"]);
    assert_eq!(junit.code, 2);
    let cases = assert_well_formed(&junit.stdout);
    assert!(cases > 8, "{}", junit.stdout);
    assert!(
        junit.stdout.contains(
            "<testcase classname=\"us-west-2.practice\" name=\"last drill\">\n      <failure message=\"fix: run `standby drill us-west-2`\" type=\"not ready\">"
        ),
        "{}",
        junit.stdout
    );
    let markdown = check(&ws, &["--format", "markdown"]);
    assert!(
        markdown
            .stdout
            .contains("| us-west-2 | practice | last drill | not ready | none |"),
        "{}",
        markdown.stdout
    );
}
