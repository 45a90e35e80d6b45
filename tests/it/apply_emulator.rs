//! `standby apply` end to end: the real binary, the real SDK, the moto emulator, and every
//! result read back from the emulator through the SDK.

use crate::support::aws::{group_counts, live_instances_by_address, tag_filter, versioning};
use crate::support::workspace::{file_mode, read_until, Workspace};
use crate::support::Emulator;
use std::collections::BTreeMap;

const REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];

fn spec(web: u32, with_api: bool) -> String {
    let api = if with_api {
        r#"
cluster "api" {
  instance_type = "t3.small"
  size          = 3
  image         = var.ami
  port          = 8443
}
"#
    } else {
        ""
    };
    format!(
        r#"
service "checkout" {{
  rto  = "15m"
  rpo  = "5m"
  tags = {{ team = "payments" }}
}}

variable "ami" {{
  type    = string
  default = "ami-12c6146b"
}}

region "us-east-1" {{
  role = "primary"
  cidr = "10.0.0.0/16"
}}

region "us-west-2" {{
  role     = "warm-standby"
  cidr     = "10.1.0.0/16"
  capacity = 0.5
}}

region "eu-west-1" {{
  role = "cold-standby"
  cidr = "10.2.0.0/16"
}}

cluster "web" {{
  instance_type = "t3.micro"
  size          = {web}
  image         = var.ami
  port          = 443
}}
{api}
module "jobs" {{
  source = "../../modules/jobs"
  image  = var.ami
}}

bucket "receipts" {{
  cold_storage_class = "GLACIER"
}}
"#
    )
}

const JOBS_MODULE: &str = r#"
variable "image" { type = string }

cluster "worker" {
  instance_type = "t3.micro"
  size          = 2
  image         = var.image
  port          = 8080
}
"#;

fn workspace(emulator: &Emulator, web: u32, with_api: bool) -> Workspace {
    let ws = Workspace::new(emulator.env());
    ws.write("environments/prod/main.hcl", &spec(web, with_api));
    ws.write("modules/jobs/main.hcl", JOBS_MODULE);
    ws
}

fn count_prefix(m: &BTreeMap<String, Vec<String>>, prefix: &str) -> usize {
    m.iter()
        .filter(|(a, _)| a.starts_with(prefix))
        .map(|(_, ids)| ids.len())
        .sum()
}

#[tokio::test]
async fn three_regions_converge_from_empty_by_role_and_then_plan_clean() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator, 4, true);
    let applied = ws
        .run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    assert!(
        applied.stdout.contains("+ region.us-east-1.network.vpc"),
        "{}",
        applied.stdout
    );
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();

    let east = live_instances_by_address(&emulator, "us-east-1").await;
    assert_eq!(count_prefix(&east, "region.us-east-1.cluster.web.group"), 4);
    assert_eq!(count_prefix(&east, "region.us-east-1.cluster.api.group"), 3);
    assert_eq!(
        count_prefix(&east, "region.us-east-1.module.jobs.cluster.worker.group"),
        2
    );
    let west = live_instances_by_address(&emulator, "us-west-2").await;
    assert_eq!(
        count_prefix(&west, "region.us-west-2.cluster.web.group"),
        2,
        "ceil(4 * 0.5)"
    );
    assert_eq!(
        count_prefix(&west, "region.us-west-2.cluster.api.group"),
        2,
        "ceil(3 * 0.5)"
    );
    assert_eq!(
        count_prefix(&west, "region.us-west-2.module.jobs.cluster.worker.group"),
        1
    );
    assert!(
        live_instances_by_address(&emulator, "eu-west-1")
            .await
            .is_empty(),
        "a cold standby runs no instances"
    );

    for region in REGIONS {
        let ec2 = emulator.ec2(region).await;
        let vpcs = ec2
            .describe_vpcs()
            .filters(tag_filter("standby:environment", "prod"))
            .send()
            .await
            .unwrap();
        assert_eq!(vpcs.vpcs().len(), 1, "one VPC in {region}");
        let tags: BTreeMap<&str, &str> = vpcs.vpcs()[0]
            .tags()
            .iter()
            .map(|t| (t.key().unwrap(), t.value().unwrap()))
            .collect();
        assert_eq!(
            tags["team"], "payments",
            "service tags reach every resource"
        );
        assert_eq!(tags["standby:service"], "checkout");
        assert_eq!(
            tags["standby:address"],
            format!("region.{region}.network.vpc")
        );

        let s3 = emulator.s3(region).await;
        let bucket = format!("checkout-prod-receipts-{region}");
        assert_eq!(
            versioning(&s3, &bucket).await.as_deref(),
            Some("Enabled"),
            "{bucket} is versioned"
        );
    }

    let s3 = emulator.s3("us-east-1").await;
    let replication = s3
        .get_bucket_replication()
        .bucket("checkout-prod-receipts-us-east-1")
        .send()
        .await
        .unwrap();
    let rules: BTreeMap<String, String> = replication
        .replication_configuration()
        .unwrap()
        .rules()
        .iter()
        .map(|r| {
            let d = r.destination().unwrap();
            (
                d.bucket().to_string(),
                d.storage_class()
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        BTreeMap::from([
            (
                "arn:aws:s3:::checkout-prod-receipts-eu-west-1".to_string(),
                "GLACIER".to_string()
            ),
            (
                "arn:aws:s3:::checkout-prod-receipts-us-west-2".to_string(),
                "STANDARD".to_string()
            ),
        ])
    );

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(ws.state_path("prod"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

#[tokio::test]
async fn resizing_and_removing_clusters_converge() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator, 2, true);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();

    ws.write("environments/prod/main.hcl", &spec(5, true));
    let plan = ws.run(&["plan", "environments/prod", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("~ region.us-east-1.cluster.web.group"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("~ region.us-west-2.cluster.web.group"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 3 to change, 0 to replace, 0 to destroy."),
        "one update per group (the cold group's maximum follows the size): {}",
        plan.stdout
    );
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    assert_eq!(
        count_prefix(
            &live_instances_by_address(&emulator, "us-east-1").await,
            "region.us-east-1.cluster.web."
        ),
        5
    );
    assert_eq!(
        count_prefix(
            &live_instances_by_address(&emulator, "us-west-2").await,
            "region.us-west-2.cluster.web."
        ),
        3
    );

    ws.write("environments/prod/main.hcl", &spec(5, false));
    let removed = ws
        .run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    assert!(removed
        .stdout
        .contains("- region.us-east-1.cluster.api.group (no longer in the spec)"));
    for region in ["us-east-1", "us-west-2"] {
        let live = live_instances_by_address(&emulator, region).await;
        assert_eq!(
            count_prefix(&live, &format!("region.{region}.cluster.api.")),
            0,
            "{live:?}"
        );
        let groups = emulator
            .ec2(region)
            .await
            .describe_security_groups()
            .filters(tag_filter(
                "standby:address",
                format!("region.{region}.cluster.api.security_group"),
            ))
            .send()
            .await
            .unwrap();
        assert!(
            groups.security_groups().is_empty(),
            "the api security group is gone in {region}"
        );
    }
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
}

#[tokio::test]
async fn an_apply_killed_midway_leaves_a_loadable_state_and_no_duplicates() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator, 12, false);
    let (mut child, mut err) = ws.spawn(&[
        "apply",
        "environments/prod",
        "--auto-approve",
        "--parallelism",
        "2",
    ]);
    let mut done = 0;
    read_until(&mut err, |l| {
        if l.contains(": create done") {
            done += 1;
        }
        done == 20
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(done, 20, "the apply was killed in the middle");

    let listed = ws.run(&["state", "list", "environments/prod"]).ok();
    assert!(
        listed.stdout.lines().count() >= 19,
        "the state holds what completed:\n{}",
        listed.stdout
    );
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();

    for region in ["us-east-1", "us-west-2"] {
        for (address, n) in group_counts(&emulator, region).await {
            assert_eq!(n, 1, "{address} has one group, not {n}");
        }
    }
    let east = live_instances_by_address(&emulator, "us-east-1").await;
    assert_eq!(count_prefix(&east, "region.us-east-1.cluster.web."), 12);
    let buckets = emulator
        .s3("us-east-1")
        .await
        .list_buckets()
        .send()
        .await
        .unwrap();
    assert_eq!(buckets.buckets().len(), 3, "one bucket per region");
}

#[tokio::test]
async fn a_second_apply_is_refused_while_the_first_holds_the_lock() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator, 6, false);
    let (mut first, mut err) = ws.spawn(&[
        "apply",
        "environments/prod",
        "--auto-approve",
        "--parallelism",
        "1",
    ]);
    read_until(&mut err, |l| l.contains("create started"));
    let second = ws.run(&["apply", "environments/prod", "--auto-approve"]);
    assert_eq!(second.code, 1);
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
    read_until(&mut err, |_| false);
    assert!(first.wait().unwrap().success());
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
}

#[tokio::test]
async fn a_saved_plan_applies_once_and_is_refused_when_stale() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator, 2, false);
    let saved = ws
        .run(&["plan", "environments/prod", "--out", "first.plan"])
        .ok();
    assert!(
        saved.stderr.contains("Saved the plan to first.plan"),
        "{}",
        saved.stderr
    );
    assert_eq!(
        file_mode(&ws.path().join("first.plan")),
        0o600,
        "a saved plan is private, like the state"
    );
    ws.run(&["apply", "first.plan"]).ok();
    assert_eq!(
        count_prefix(
            &live_instances_by_address(&emulator, "us-east-1").await,
            "region.us-east-1.cluster.web."
        ),
        2
    );

    ws.write("environments/prod/main.hcl", &spec(3, false));
    ws.run(&[
        "plan",
        "environments/prod",
        "--out",
        "second.plan",
        "--json",
    ])
    .ok();
    ws.run(&["apply", "second.plan"]).ok();
    assert_eq!(
        count_prefix(
            &live_instances_by_address(&emulator, "us-east-1").await,
            "region.us-east-1.cluster.web."
        ),
        3
    );

    let again = ws.run(&["apply", "second.plan"]);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("the saved plan is stale"),
        "{}",
        again.stderr
    );
    let first = ws.run(&["apply", "first.plan"]);
    assert_eq!(first.code, 1);
    assert!(first.stderr.contains("another state"), "{}", first.stderr);
}

#[tokio::test]
async fn plan_json_goes_to_stdout_and_targets_narrow_the_plan() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator, 2, false);
    let plan = ws
        .run(&[
            "plan",
            "environments/prod",
            "--json",
            "--target",
            "region.us-west-2.cluster.web",
        ])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&plan.stdout).expect("stdout is JSON only");
    assert_eq!(v["format_version"], 1);
    let addresses: Vec<&str> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap())
        .collect();
    assert!(
        addresses.contains(&"region.us-west-2.cluster.web.group"),
        "{addresses:?}"
    );
    assert!(
        addresses.contains(&"region.us-west-2.network.vpc"),
        "dependencies come along: {addresses:?}"
    );
    assert!(
        addresses.iter().all(|a| a.starts_with("region.us-west-2.")),
        "{addresses:?}"
    );
    assert!(
        plan.stderr.contains("Plan: "),
        "the human plan goes to stderr"
    );

    let bad = ws.run(&[
        "plan",
        "environments/prod",
        "--target",
        "region.us-west-2.cluster.nope",
    ]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("matches no resource"), "{}", bad.stderr);
}

#[tokio::test]
async fn ctrl_c_stops_scheduling_saves_the_state_and_the_next_apply_finishes() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator, 12, false);
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
        done == 8
    });
    // SIGINT to this one child, by its PID, as Ctrl-C in a terminal would send.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let rest = read_until(&mut err, |_| false).concat();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{rest}");
    assert!(rest.contains("apply interrupted"), "{rest}");
    let state = ws.state("prod");
    let saved = state["resources"].as_array().unwrap().len();
    assert!(saved >= 8, "completed actions are in the state: {saved}");
    assert_eq!(state["history"][0]["outcome"], "interrupted");

    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    for (address, n) in group_counts(&emulator, "us-east-1").await {
        assert_eq!(n, 1, "{address} has one group, not {n}");
    }
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
}
