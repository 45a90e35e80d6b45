//! DR drills end to end: the real binary against the emulator (through the test proxy where
//! a failure is injected), everything read back through the SDK.

use crate::support::aws;
use crate::support::proxy::Proxy;
use crate::support::specs::{COLD_STANDBY, REGIONS, SERVICE};
use crate::support::workspace::{file_mode, Workspace};
use crate::support::Emulator;

/// The workload after the service and its regions.
const WORKLOAD: &str = r#"
cluster "web" {
  size  = 3
  image = "ami-12c6146b"
  port  = 443
}

database "orders" {
  engine         = "postgres"
  instance_class = "db.t3.micro"
}

bucket "receipts" {}

dns "api" {
  zone    = "example.com"
  name    = "api.example.com"
  cluster = cluster.web
}
"#;

fn spec() -> String {
    [SERVICE, REGIONS, COLD_STANDBY, WORKLOAD].concat()
}

fn setup(env: Vec<(String, String)>) -> Workspace {
    let ws = Workspace::new(env);
    ws.write("environments/prod/main.hcl", &spec());
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    ws
}

/// The one drill report in state/drills/, as JSON.
fn report(ws: &Workspace) -> serde_json::Value {
    let dir = ws.path().join("state/drills");
    let json: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(json.len(), 1, "one report: {json:?}");
    let md = json[0].with_extension("md");
    assert!(md.exists(), "a Markdown report beside the JSON one");
    serde_json::from_str(&std::fs::read_to_string(&json[0]).unwrap()).unwrap()
}

/// The drill's Auto Scaling groups, launch templates and load balancers in `region` (by
/// their `standby:drill` tag).
async fn cluster_leftovers(emulator: &Emulator, region: &str, id: &str) -> Vec<String> {
    let drill =
        |tags: Vec<(Option<&str>, Option<&str>)>| tags.contains(&(Some("standby:drill"), Some(id)));
    let mut left = Vec::new();
    let groups = aws::autoscaling(emulator, region)
        .await
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap();
    for g in groups.auto_scaling_groups() {
        if drill(g.tags().iter().map(|t| (t.key(), t.value())).collect()) {
            let name = g.auto_scaling_group_name().unwrap_or_default();
            left.push(format!("group {name} in {region}"));
        }
    }
    let templates = emulator
        .ec2(region)
        .await
        .describe_launch_templates()
        .filters(aws::tag_filter("standby:drill", id))
        .send()
        .await
        .unwrap();
    for t in templates.launch_templates() {
        let name = t.launch_template_name().unwrap_or_default();
        left.push(format!("launch template {name} in {region}"));
    }
    let elb = aws::elb(emulator, region).await;
    let lbs = elb.describe_load_balancers().send().await.unwrap();
    for lb in lbs.load_balancers() {
        let arn = lb.load_balancer_arn().unwrap_or_default();
        let tags = elb.describe_tags().resource_arns(arn).send().await.unwrap();
        let tags: Vec<_> = tags
            .tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .map(|t| (t.key(), t.value()))
            .collect();
        if drill(tags) {
            left.push(format!("load balancer {arn} in {region}"));
        }
    }
    left
}

/// Everything in the emulator whose name or tags carry `drill-<id>`.
async fn leftovers(emulator: &Emulator, id: &str) -> Vec<String> {
    let needle = format!("drill-{id}");
    let mut left = Vec::new();
    for region in ["us-east-1", "us-west-2", "eu-west-1"] {
        let ec2 = emulator.ec2(region).await;
        let instances = ec2
            .describe_instances()
            .filters(aws::tag_filter("standby:drill", id))
            .send()
            .await
            .unwrap();
        for i in instances.reservations().iter().flat_map(|r| r.instances()) {
            let state = i
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_string())
                .unwrap_or_default();
            if state != "terminated" {
                left.push(format!(
                    "instance {} in {region}",
                    i.instance_id().unwrap_or_default()
                ));
            }
        }
        let vpcs = ec2
            .describe_vpcs()
            .filters(aws::tag_filter("standby:drill", id))
            .send()
            .await
            .unwrap();
        left.extend(
            vpcs.vpcs()
                .iter()
                .map(|v| format!("vpc {} in {region}", v.vpc_id().unwrap_or_default())),
        );
        left.extend(cluster_leftovers(emulator, region, id).await);
        let rds = aws::rds(emulator, region).await;
        let dbs = rds.describe_db_instances().send().await.unwrap();
        left.extend(
            dbs.db_instances()
                .iter()
                .filter_map(|d| d.db_instance_identifier())
                .filter(|n| n.contains(&needle))
                .map(|n| format!("database {n} in {region}")),
        );
        let snaps = rds.describe_db_snapshots().send().await.unwrap();
        left.extend(
            snaps
                .db_snapshots()
                .iter()
                .filter_map(|s| s.db_snapshot_identifier())
                .filter(|n| n.contains(&needle))
                .map(|n| format!("snapshot {n} in {region}")),
        );
    }
    let s3 = emulator.s3("us-east-1").await;
    let buckets = s3.list_buckets().send().await.unwrap();
    left.extend(
        buckets
            .buckets()
            .iter()
            .filter_map(|b| b.name())
            .filter(|n| n.contains(&needle))
            .map(|n| format!("bucket {n}")),
    );
    let r53 = aws::route53(emulator).await;
    let zones = r53.list_hosted_zones().send().await.unwrap();
    for z in zones.hosted_zones() {
        let sets = r53
            .list_resource_record_sets()
            .hosted_zone_id(z.id())
            .send()
            .await
            .unwrap();
        left.extend(
            sets.resource_record_sets()
                .iter()
                .map(|s| s.name().to_string())
                .filter(|n| n.contains(&needle))
                .map(|n| format!("record {n}")),
        );
    }
    left
}

#[tokio::test]
async fn a_cold_standby_drill_meets_the_rto_and_leaves_nothing_behind() {
    let emulator = Emulator::start();
    let ws = setup(emulator.env());
    let drill = ws
        .run(&["drill", "eu-west-1", "environments/prod", "--auto-approve"])
        .ok();
    assert!(
        drill.stdout.contains("Verdict: **met the RTO**"),
        "{}",
        drill.stdout
    );
    let r = report(&ws);
    assert_eq!(r["verdict"], "met");
    assert_eq!(r["removed"], true);
    let steps: Vec<&str> = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for wanted in ["stand up", "instances running", "tear down"] {
        assert!(steps.contains(&wanted), "{steps:?}");
    }
    assert!(
        steps.iter().any(|s| s.starts_with("database ")),
        "{steps:?}"
    );
    assert!(
        steps.iter().any(|s| s.starts_with("dns drill-")),
        "{steps:?}"
    );
    assert!(r["created"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "region.eu-west-1.database.orders"));
    let id = r["id"].as_str().unwrap();
    assert_eq!(leftovers(&emulator, id).await, Vec::<String>::new());

    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
    let status = ws.run(&["status", "environments/prod"]).ok();
    assert!(
        status.stdout.contains("last drill: drill eu-west-1"),
        "{}",
        status.stdout
    );
}

#[tokio::test]
async fn a_failed_restore_still_tears_everything_down_and_reports_it() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let ws = setup(proxy.env());
    proxy.fail_operation("RestoreDBInstanceFromDBSnapshot");
    let drill = ws.run(&["drill", "eu-west-1", "environments/prod", "--auto-approve"]);
    assert_eq!(drill.code, 1, "{}{}", drill.stdout, drill.stderr);
    let r = report(&ws);
    assert_eq!(r["verdict"], "failed");
    let error = r["error"].as_str().unwrap();
    assert!(error.contains("RestoreDBInstanceFromDBSnapshot"), "{error}");
    assert_eq!(r["removed"], true, "{r}");
    let id = r["id"].as_str().unwrap();
    assert_eq!(leftovers(&emulator, id).await, Vec::<String>::new());
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
}

#[tokio::test]
async fn keep_then_cleanup_leaves_nothing_behind() {
    let emulator = Emulator::start();
    let ws = setup(emulator.env());
    let kept = ws
        .run(&[
            "drill",
            "us-west-2",
            "environments/prod",
            "--keep",
            "--report",
            "reports",
            "--auto-approve",
        ])
        .ok();
    assert!(
        kept.stdout.contains("standby drill --cleanup"),
        "{}",
        kept.stdout
    );
    let dir = ws.path().join("reports");
    let json = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.path().extension().is_some_and(|x| x == "json"))
        .unwrap();
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json.path()).unwrap()).unwrap();
    let id = r["id"].as_str().unwrap().to_string();
    assert_eq!(r["removed"], false);
    for report in [json.path(), json.path().with_extension("md")] {
        assert_eq!(file_mode(&report), 0o600, "{}", report.display());
    }
    let up = leftovers(&emulator, &id).await;
    for kind in ["group ", "launch template ", "load balancer "] {
        assert!(
            up.iter().any(|l| l.starts_with(kind)),
            "--keep leaves the drill's {kind}up: {up:?}"
        );
    }

    let cleaned = ws.run(&["drill", "--cleanup", "environments/prod"]).ok();
    assert!(cleaned.stdout.contains(&id), "{}", cleaned.stdout);
    assert_eq!(leftovers(&emulator, &id).await, Vec::<String>::new());
    let again = ws.run(&["drill", "--cleanup", "environments/prod"]).ok();
    assert!(
        again.stdout.contains("No drill left anything behind"),
        "{}",
        again.stdout
    );
}
