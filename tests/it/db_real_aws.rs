//! Databases as real AWS makes them (issue 14): private, reachable from the clusters only,
//! read replicas in warm standbys, and engine versions as floors. The real binary against
//! the emulator, read back through the SDK.

use crate::support::aws::{database_standing, rds};
use crate::support::proxy::Proxy;
use crate::support::specs::DR;
use crate::support::workspace::Workspace;
use crate::support::Emulator;

fn workspace(emulator: &Emulator) -> Workspace {
    let ws = Workspace::new(emulator.env());
    ws.write("environments/prod/main.hcl", DR);
    ws
}

/// The instance `checkout-prod-orders-<region>`.
async fn instance(emulator: &Emulator, region: &str) -> aws_sdk_rds::types::DbInstance {
    rds(emulator, region)
        .await
        .describe_db_instances()
        .db_instance_identifier(format!("checkout-prod-orders-{region}"))
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .clone()
}

#[tokio::test]
async fn databases_are_private_and_admit_the_clusters_security_group_only() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
    assert!(
        database_standing(&emulator, "us-west-2")
            .await
            .is_some_and(|s| s.starts_with("replica of")),
        "the warm standby's database is a read replica"
    );
    for region in ["us-east-1", "us-west-2"] {
        assert_private_and_admits_the_web_cluster(&emulator, region).await;
    }
}

/// The region's database is not public, in one security group whose one rule admits the
/// web cluster's security group on the engine's port, and nothing else.
pub(crate) async fn assert_private_and_admits_the_web_cluster(emulator: &Emulator, region: &str) {
    let db = instance(emulator, region).await;
    assert_eq!(db.publicly_accessible(), Some(false), "{region}");
    let groups: Vec<&str> = db
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id())
        .collect();
    assert_eq!(groups.len(), 1, "{region}: {groups:?}");
    let ec2 = emulator.ec2(region).await;
    let described = ec2
        .describe_security_groups()
        .group_ids(groups[0])
        .send()
        .await
        .unwrap();
    let group = &described.security_groups()[0];
    let rules = group.ip_permissions();
    assert_eq!(rules.len(), 1, "{region}: {rules:?}");
    assert_eq!(rules[0].from_port(), Some(5432), "the engine's port");
    assert!(
        rules[0].ip_ranges().is_empty(),
        "no address range: {rules:?}"
    );
    let sources: Vec<&str> = rules[0]
        .user_id_group_pairs()
        .iter()
        .filter_map(|p| p.group_id())
        .collect();
    let web = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values(format!("checkout-prod-web-{region}"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let web = web.security_groups()[0].group_id().unwrap();
    assert_eq!(
        sources,
        vec![web],
        "{region}: admits the web cluster's group"
    );
}

#[tokio::test]
async fn plan_is_clean_after_rds_upgraded_the_minor_version() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.01);
    let ws = Workspace::new(proxy.env());
    ws.write("environments/prod/main.hcl", DR);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    assert!(proxy.fired("rds.minor-upgrade") > 0, "16.3 reads 16.4 now");
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
    ws.run(&["drift", "environments/prod"]).ok();
    proxy.clear();
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    assert_eq!(
        proxy.count_operation("rds", "ModifyDBInstance"),
        0,
        "no downgrade back to 16.3"
    );
}

#[tokio::test]
async fn a_replica_lag_of_minus_one_makes_the_rpo_gate_say_unknown() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.01);
    let ws = Workspace::new(proxy.env());
    let mysql = DR
        .replace(
            r#"engine         = "postgres""#,
            r#"engine         = "mysql""#,
        )
        .replace(r#"engine_version = "16.3""#, r#"engine_version = "8.0.35""#);
    assert!(
        mysql.contains(r#""mysql""#),
        "the DR spec's database is a MySQL one here"
    );
    ws.write("environments/prod/main.hcl", &mysql);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    let gate = ws.run(&[
        "promote",
        "us-west-2",
        "environments/prod",
        "--auto-approve",
    ]);
    assert!(proxy.fired("cloudwatch.negative-lag") > 0);
    let said = format!("{}{}", gate.stdout, gate.stderr);
    assert!(
        said.contains("replica lag in us-west-2 is unknown"),
        "-1 is not a lag of 0: {said}"
    );
}

#[tokio::test]
async fn a_primary_whose_password_rds_manages_moves_to_the_secret_in_place() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let ws = Workspace::new(proxy.env());
    ws.write("environments/prod/main.hcl", DR);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    // As a database created earlier with ManageMasterUserPassword would be.
    let primary = "checkout-prod-orders-us-east-1";
    rds(&emulator, "us-east-1")
        .await
        .modify_db_instance()
        .db_instance_identifier(primary)
        .manage_master_user_password(true)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let before = instance(&emulator, "us-east-1").await;
    assert!(before.master_user_secret().is_some());

    let plan = ws
        .run(&["plan", "environments/prod", "--detailed-exitcode"])
        .stdout;
    assert!(
        plan.contains("note: region.us-east-1.database.orders: RDS manages its master password; it moves in place to standby's secret")
            && plan.contains("credentials_managed_by_rds = true -> false")
            && plan.contains("Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy."),
        "{plan}"
    );
    proxy.clear();
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    assert_eq!(proxy.count_operation("rds", "ModifyDBInstance"), 1);
    assert_eq!(
        proxy.count_operation("secretsmanager", "GetSecretValue"),
        1,
        "the password comes from standby's secret"
    );
    let after = instance(&emulator, "us-east-1").await;
    assert!(after.master_user_secret().is_none(), "{after:?}");
    assert_eq!(
        after.dbi_resource_id(),
        before.dbi_resource_id(),
        "the same database, not a replacement"
    );
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
}
