//! Databases with cross-region read replicas and Route 53 failover DNS, end to end: the real
//! binary against the emulator, read back through the SDK.

use crate::support::aws::{
    failover_record, groups_by_address, load_balancer_names, rds, secret_value,
};
use crate::support::specs::{API_DNS, COLD_STANDBY, REGIONS, SERVICE};
use crate::support::workspace::Workspace;
use crate::support::Emulator;

/// The database's password secret (`standby/<service>/<environment>/<database>/master`).
const SECRET_NAME: &str = "standby/checkout/prod/orders/master";

struct Knobs {
    web: u32,
    engine: &'static str,
    class: &'static str,
    protect: bool,
}

const DEFAULT: Knobs = Knobs {
    web: 2,
    engine: "postgres",
    class: "db.t3.micro",
    protect: true,
};

fn spec(k: &Knobs) -> String {
    let workload = format!(
        r#"
cluster "web" {{
  size  = {web}
  image = "ami-12c6146b"
  port  = 443
}}

database "orders" {{
  engine          = "{engine}"
  engine_version  = "16.3"
  instance_class  = "{class}"
  storage_gb      = 20
  prevent_destroy = {protect}
}}
"#,
        web = k.web,
        engine = k.engine,
        class = k.class,
        protect = k.protect
    );
    [SERVICE, REGIONS, COLD_STANDBY, &workload, API_DNS].concat()
}

fn workspace(emulator: &Emulator, k: &Knobs) -> Workspace {
    let ws = Workspace::new(emulator.env());
    ws.write("environments/prod/main.hcl", &spec(k));
    ws
}

#[tokio::test]
async fn primary_database_replica_and_failover_records_converge_and_follow_resizes() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator, &DEFAULT);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();

    let primary = rds(&emulator, "us-east-1")
        .await
        .describe_db_instances()
        .db_instance_identifier("checkout-prod-orders-us-east-1")
        .send()
        .await
        .unwrap();
    let primary = &primary.db_instances()[0];
    assert!(
        primary
            .read_replica_source_db_instance_identifier()
            .is_none(),
        "the primary is writable"
    );
    assert!(
        primary.master_user_secret().is_none(),
        "standby's own password: RDS refuses replicas of a source whose password it manages"
    );
    let password = secret_value(&emulator, "us-east-1", SECRET_NAME)
        .await
        .expect("the password's secret");
    for region in ["us-west-2", "eu-west-1"] {
        assert_eq!(
            secret_value(&emulator, region, SECRET_NAME).await.as_ref(),
            Some(&password),
            "the secret is replicated to {region}"
        );
    }
    let primary_arn = primary.db_instance_arn().unwrap().to_string();

    let replica = rds(&emulator, "us-west-2")
        .await
        .describe_db_instances()
        .db_instance_identifier("checkout-prod-orders-us-west-2")
        .send()
        .await
        .unwrap();
    let source = replica.db_instances()[0]
        .read_replica_source_db_instance_identifier()
        .unwrap_or_default();
    assert!(
        source == primary_arn || primary_arn.ends_with(source),
        "replica of {source}, not {primary_arn}"
    );
    let cold = rds(&emulator, "eu-west-1")
        .await
        .describe_db_instances()
        .send()
        .await
        .unwrap();
    assert!(
        cold.db_instances().is_empty(),
        "a cold standby has no database"
    );

    let (failover, values, health) = failover_record(&emulator, "us-east-1")
        .await
        .expect("a PRIMARY record");
    assert_eq!(failover, "PRIMARY");
    assert_eq!(values, load_balancer_names(&emulator, "us-east-1").await);
    assert_eq!(values.len(), 1, "an alias to the load balancer");
    assert!(health.is_none(), "failover follows the targets' health");
    let (failover, values, health) = failover_record(&emulator, "us-west-2")
        .await
        .expect("a SECONDARY record");
    assert_eq!(failover, "SECONDARY");
    assert_eq!(values, load_balancer_names(&emulator, "us-west-2").await);
    assert!(health.is_none());
    assert!(failover_record(&emulator, "eu-west-1").await.is_none());

    ws.write(
        "environments/prod/main.hcl",
        &spec(&Knobs { web: 4, ..DEFAULT }),
    );
    let plan = ws.run(&["plan", "environments/prod"]).ok();
    assert!(
        plan.stdout.contains("~ region.us-east-1.cluster.web.group"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("desired = 2 -> 4"), "{}", plan.stdout);
    assert!(
        !plan.stdout.contains("dns.api.record"),
        "the records alias the load balancers: {}",
        plan.stdout
    );
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    let east = groups_by_address(&emulator, "us-east-1").await;
    assert_eq!(east["region.us-east-1.cluster.web.group"], (4, 4));
    let (_, values, _) = failover_record(&emulator, "us-east-1").await.unwrap();
    assert_eq!(values, load_balancer_names(&emulator, "us-east-1").await);
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
}

#[tokio::test]
async fn instance_class_changes_in_place_and_engine_forces_a_replacement() {
    let emulator = Emulator::start();
    let ws = workspace(
        &emulator,
        &Knobs {
            protect: false,
            ..DEFAULT
        },
    );
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();

    ws.write(
        "environments/prod/main.hcl",
        &spec(&Knobs {
            class: "db.t3.small",
            protect: false,
            ..DEFAULT
        }),
    );
    let plan = ws.run(&["plan", "environments/prod", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout
            .contains("  ~ region.us-east-1.database.orders\n"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains(r#"instance_class = "db.t3.micro" -> "db.t3.small""#),
        "{}",
        plan.stdout
    );
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    let db = rds(&emulator, "us-east-1")
        .await
        .describe_db_instances()
        .db_instance_identifier("checkout-prod-orders-us-east-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        db.db_instances()[0].db_instance_class(),
        Some("db.t3.small")
    );

    ws.write(
        "environments/prod/main.hcl",
        &spec(&Knobs {
            class: "db.t3.small",
            engine: "mysql",
            protect: false,
            ..DEFAULT
        }),
    );
    let plan = ws.run(&["plan", "environments/prod", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout.contains(
            "-/+ region.us-east-1.database.orders (replace: `engine` cannot change in place)"
        ),
        "{}",
        plan.stdout
    );
}

#[tokio::test]
async fn destroy_refuses_protected_databases_and_snapshots_the_rest() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator, &DEFAULT);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();

    let refused = ws.run(&["destroy", "environments/prod", "--auto-approve"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("region.us-east-1.database.orders has prevent_destroy = true"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("set prevent_destroy = false"),
        "{}",
        refused.stderr
    );
    let still = rds(&emulator, "us-east-1")
        .await
        .describe_db_instances()
        .send()
        .await
        .unwrap();
    assert_eq!(still.db_instances().len(), 1, "nothing was deleted");

    ws.write(
        "environments/prod/main.hcl",
        &spec(&Knobs {
            protect: false,
            ..DEFAULT
        }),
    );
    ws.run(&["destroy", "environments/prod", "--auto-approve"])
        .ok();
    for region in ["us-east-1", "us-west-2"] {
        let left = rds(&emulator, region)
            .await
            .describe_db_instances()
            .send()
            .await
            .unwrap();
        assert!(
            left.db_instances().is_empty(),
            "no database left in {region}"
        );
    }
    let snapshots = rds(&emulator, "us-east-1")
        .await
        .describe_db_snapshots()
        .send()
        .await
        .unwrap();
    assert!(
        snapshots.db_snapshots().iter().any(|s| s
            .db_snapshot_identifier()
            .unwrap_or_default()
            .starts_with("checkout-prod-orders-us-east-1-final-")),
        "a final snapshot was taken: {:?}",
        snapshots.db_snapshots()
    );
    assert!(
        failover_record(&emulator, "us-east-1").await.is_none(),
        "the records are gone"
    );
    assert!(ws.state("prod")["resources"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn no_password_in_state_saved_plans_or_verbose_logs() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator, &DEFAULT);
    let planned = ws
        .run(&["-vvv", "plan", "environments/prod", "--out", "prod.plan"])
        .ok();
    let applied = ws.run(&["-vvv", "apply", "prod.plan"]).ok();
    let logs = format!(
        "{}{}{}{}",
        planned.stdout, planned.stderr, applied.stdout, applied.stderr
    );
    let password = secret_value(&emulator, "us-east-1", SECRET_NAME)
        .await
        .expect("the password's secret");
    assert!(
        logs.contains("region.us-east-1.database.orders"),
        "the logs are about the database"
    );
    let texts = [
        (
            "state",
            std::fs::read_to_string(ws.state_path("prod")).unwrap(),
        ),
        (
            "plan",
            std::fs::read_to_string(ws.path().join("prod.plan")).unwrap(),
        ),
        ("logs", logs),
    ];
    for (what, text) in texts {
        assert!(!text.contains(&password), "{what} holds the password");
        let lower = text.to_lowercase();
        assert!(
            !lower.contains("masteruserpassword"),
            "{what} mentions a password"
        );
    }
}
