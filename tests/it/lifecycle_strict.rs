//! The DR lifecycle through the strict proxy (issue 14): every command the real binary runs
//! meets what real AWS does (states that take time, eventual consistency, client tokens,
//! Route 53's rate, automatic minor upgrades, the managed-password refusal), with AWS's
//! durations scaled down. Apply from empty, plan clean after a minor upgrade, promote,
//! rebuild, failback, two drills in one region, destroy then apply; read back through the
//! SDK; the generated password is in no state, saved plan, report or `-vvv` log.

use crate::db_real_aws::assert_private_and_admits_the_web_cluster;
use crate::support::aws::{
    self, database_standing, role_policies, running_public_ips, secret_value,
};
use crate::support::proxy::Proxy;
use crate::support::specs::{replace_once, DR};
use crate::support::workspace::{Run, Workspace};
use crate::support::Emulator;

/// AWS's durations times this: an RDS create's 7 minutes last 0.84 s.
const SCALE: f64 = 0.002;
const SECRET_NAME: &str = "standby/checkout/prod/orders/master";
const REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];

/// Runs `args` with `-vvv`, asserting success, and keeps everything it printed.
fn run(ws: &Workspace, logs: &mut String, args: &[&str]) -> Run {
    let verbose: Vec<&str> = std::iter::once("-vvv")
        .chain(args.iter().copied())
        .collect();
    let out = ws.run(&verbose).ok();
    logs.push_str(&out.stdout);
    logs.push_str(&out.stderr);
    out
}

async fn database_count(emulator: &Emulator, region: &str) -> usize {
    aws::rds(emulator, region)
        .await
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
        .len()
}

/// Every text file under `dir`, recursively.
fn texts_under(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(texts_under(&path));
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            out.push((path.display().to_string(), text));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dr_lifecycle_converges_through_the_strict_mode() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(SCALE);
    let ws = Workspace::new(proxy.env());
    let spec = replace_once(
        DR,
        r#"instance_class = "db.t3.micro""#,
        "instance_class = \"db.t3.micro\"\n  prevent_destroy = false",
    );
    ws.write("environments/prod/main.hcl", &spec);
    let mut logs = String::new();
    let env = "environments/prod";

    // Apply from empty; RDS upgrades the minor version meanwhile; the plan stays clean.
    run(&ws, &mut logs, &["apply", env, "--auto-approve"]);
    assert!(
        proxy.fired("rds.instance-states") > 0,
        "the waits met `creating`"
    );
    assert!(proxy.fired("rds.minor-upgrade") > 0, "16.3 reads 16.4 now");
    run(
        &ws,
        &mut logs,
        &["plan", env, "--detailed-exitcode", "--out", "prod.plan"],
    );
    assert!(
        database_standing(&emulator, "us-west-2")
            .await
            .is_some_and(|s| s.starts_with("replica of")),
        "the warm standby's database is a read replica"
    );
    let password = secret_value(&emulator, "us-east-1", SECRET_NAME)
        .await
        .expect("the password's secret");
    for region in REGIONS {
        assert_eq!(
            secret_value(&emulator, region, SECRET_NAME).await.as_ref(),
            Some(&password),
            "the secret is readable in {region}"
        );
    }
    for region in ["us-east-1", "us-west-2"] {
        assert_private_and_admits_the_web_cluster(&emulator, region).await;
    }
    let (account, resources) =
        role_policies(&emulator, "standby-checkout-prod-receipts-replication").await;
    assert_eq!(
        account.as_deref(),
        Some("123456789012"),
        "aws:SourceAccount"
    );
    assert_eq!(resources.len(), 2 * REGIONS.len(), "{resources:?}");
    assert!(
        resources
            .iter()
            .all(|r| r.starts_with("arn:aws:s3:::checkout-prod-receipts-")),
        "the receipts buckets only: {resources:?}"
    );

    // Promote the warm standby, rebuild the old primary, fail back.
    aws::publish_lag(
        &emulator,
        "us-west-2",
        "checkout-prod-orders-us-west-2",
        2.0,
    )
    .await;
    run(
        &ws,
        &mut logs,
        &["promote", "us-west-2", env, "--auto-approve"],
    );
    run(
        &ws,
        &mut logs,
        &["rebuild", "us-east-1", env, "--auto-approve"],
    );
    aws::publish_lag(
        &emulator,
        "us-east-1",
        "checkout-prod-orders-us-east-1",
        2.0,
    )
    .await;
    run(
        &ws,
        &mut logs,
        &["promote", "us-east-1", env, "--auto-approve"],
    );
    run(
        &ws,
        &mut logs,
        &["rebuild", "us-west-2", env, "--auto-approve"],
    );
    run(&ws, &mut logs, &["plan", env, "--detailed-exitcode"]);
    assert_eq!(ws.state("prod")["roles"]["us-east-1"], "primary");
    assert!(
        database_standing(&emulator, "us-west-2")
            .await
            .is_some_and(|s| s.starts_with("replica of")),
        "the warm standby's database is a read replica again"
    );

    // Two drills in the cold standby: restored from the backups replicated into it (no
    // snapshot of the primary at all, so nothing suspends its I/O), no token reused with
    // other parameters, nothing left behind.
    proxy.clear();
    for _ in 0..2 {
        run(
            &ws,
            &mut logs,
            &[
                "drill",
                "eu-west-1",
                env,
                "--auto-approve",
                "--report",
                "reports",
            ],
        );
    }
    assert!(proxy.count_operation("rds", "RestoreDBInstanceToPointInTime") >= 2);
    assert_eq!(
        proxy.count_operation("rds", "CreateDBSnapshot"),
        0,
        "no manual snapshot suspends the primary's I/O"
    );
    assert_eq!(
        database_count(&emulator, "eu-west-1").await,
        0,
        "drills torn down"
    );

    // Destroy, then apply again: the same layout, no duplicate, no token error.
    run(&ws, &mut logs, &["destroy", env, "--auto-approve"]);
    for region in REGIONS {
        assert_eq!(database_count(&emulator, region).await, 0, "{region}");
        assert!(
            running_public_ips(&emulator, region).await.is_empty(),
            "{region}"
        );
    }
    run(&ws, &mut logs, &["apply", env, "--auto-approve"]);
    run(&ws, &mut logs, &["plan", env, "--detailed-exitcode"]);
    assert_eq!(database_count(&emulator, "us-east-1").await, 1);
    assert_eq!(database_count(&emulator, "us-west-2").await, 1);
    assert_eq!(running_public_ips(&emulator, "us-east-1").await.len(), 4);
    assert_eq!(
        secret_value(&emulator, "us-west-2", SECRET_NAME).await,
        Some(password.clone()),
        "the restored secret keeps its password"
    );
    assert_eq!(proxy.fired("ec2.client-token"), 0, "no token reused");
    // Failover follows the load balancers' target health: no Route 53 health check, and
    // destroy then apply left one load balancer per serving region, not two.
    let checks = aws::route53(&emulator)
        .await
        .list_health_checks()
        .send()
        .await
        .unwrap();
    assert_eq!(
        checks.health_checks().len(),
        0,
        "alias records need no health check"
    );
    for region in ["us-east-1", "us-west-2"] {
        assert_eq!(
            aws::load_balancer_names(&emulator, region).await.len(),
            1,
            "{region}"
        );
    }

    // The password is nowhere standby writes or prints.
    let mut texts = texts_under(&ws.path().join("state"));
    texts.extend(texts_under(&ws.path().join("reports")));
    texts.push((
        "prod.plan".into(),
        std::fs::read_to_string(ws.path().join("prod.plan")).unwrap(),
    ));
    assert!(
        texts.iter().any(|(p, _)| p.ends_with(".md")),
        "reports read"
    );
    texts.push(("logs".into(), logs));
    for (what, text) in texts {
        assert!(!text.contains(&password), "{what} holds the password");
    }
}
