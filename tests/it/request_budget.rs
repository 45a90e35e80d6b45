//! The request counts benches/vs_terraform measures against Terraform, kept loosely by the
//! suite: on environments/demo, a no-op plan and a drift check each stay within a fixed
//! budget of API requests (Terraform's no-op plan of the same layout makes about 210), so a
//! per-resource read that slips in is caught here rather than in the next benchmark run.

use crate::support::proxy::Proxy;
use crate::support::workspace::Workspace;
use crate::support::Emulator;

/// One batched describe per (service, region, kind) plus the per-bucket settings, and one
/// listener read per load balancer: 68 on the demo layout today (three of them moto's
/// launch template tags, `emulator.rs` 13; 70 before the listeners' tags were read with the
/// balancers'). The margin leaves room for a new kind, not for a read per resource.
const BUDGET: usize = 78;

fn demo(ws: &Workspace) {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for rel in ["environments/demo/main.hcl", "modules/worker-tier/main.hcl"] {
        ws.write(rel, &std::fs::read_to_string(repo.join(rel)).expect(rel));
    }
}

#[test]
fn a_no_op_plan_and_a_drift_check_of_the_demo_stay_within_the_request_budget() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let ws = Workspace::new(proxy.env());
    demo(&ws);
    ws.run(&["apply", "environments/demo", "--auto-approve"])
        .ok();
    let managed = ws
        .run(&["state", "list", "environments/demo"])
        .ok()
        .stdout
        .lines()
        .count();

    for args in [
        &["plan", "environments/demo", "--detailed-exitcode"][..],
        &["drift", "environments/demo"][..],
    ] {
        proxy.clear();
        ws.run(args).ok();
        let requests = proxy.seen().len();
        assert!(
            requests <= BUDGET,
            "{args:?} made {requests} requests for {managed} resources (budget {BUDGET}): {:#?}",
            proxy.seen()
        );
        // The groups' members are the groups' (their ids come from one DescribeTags): no
        // instance is described when none stands outside a group.
        assert_eq!(
            proxy.count_operation("ec2", "DescribeInstances"),
            0,
            "{args:?}"
        );
    }
}

/// Live instances carrying the environment's tags in `region`.
async fn instances(proxy: &Proxy, region: &str) -> usize {
    let out = proxy
        .ec2(region)
        .await
        .describe_instances()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("instance-state-name")
                .values("running")
                .values("pending")
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.reservations().iter().map(|r| r.instances().len()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_that_lost_its_state_adopts_everything_with_one_listing_per_region_and_kind() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let ws = Workspace::new(proxy.env());
    demo(&ws);
    let spec = ws.path().join("environments/demo/main.hcl");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(
        &spec,
        text.replacen("size          = 4", "size          = 20", 1),
    )
    .unwrap();
    ws.run(&["apply", "environments/demo", "--auto-approve"])
        .ok();
    let before = [
        instances(&proxy, "us-east-1").await,
        instances(&proxy, "us-west-2").await,
    ];
    assert_eq!(
        before,
        [22, 11],
        "20 web and 2 workers, half of them in the warm standby"
    );

    std::fs::remove_file(ws.state_path("demo")).unwrap();
    proxy.clear();
    ws.run(&["apply", "environments/demo", "--auto-approve"])
        .ok();

    let after = [
        instances(&proxy, "us-east-1").await,
        instances(&proxy, "us-west-2").await,
    ];
    assert_eq!(after, before, "every instance adopted, none launched again");
    assert_eq!(proxy.count_operation("ec2", "RunInstances"), 0);
    // The plan's refresh reads each region once; adoption lists each region's instances once
    // (not one describe per instance: 33 here).
    let describes = proxy.count_operation("ec2", "DescribeInstances");
    assert!(
        describes <= 8,
        "{describes} DescribeInstances for 33 adopted instances"
    );
    ws.run(&["plan", "environments/demo", "--detailed-exitcode"])
        .ok();
}

/// Waits of resources that finish together are read together: three databases in the
/// primary (and their replicas in the standbys) are checked for adoption and waited for with
/// one `DescribeDBInstances` per region and reading, not one per database.
#[test]
fn databases_created_together_are_waited_for_with_shared_reads() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let ws = Workspace::new(proxy.env());
    demo(&ws);
    let spec = ws.path().join("environments/demo/main.hcl");
    let text = std::fs::read_to_string(&spec).unwrap();
    let database = |name: &str| {
        format!(
            "\ndatabase \"{name}\" {{\n  engine          = \"postgres\"\n  engine_version  = \"16.3\"\n  instance_class  = \"db.t3.micro\"\n  storage_gb      = 20\n}}\n"
        )
    };
    std::fs::write(&spec, text + &database("payments") + &database("ledger")).unwrap();
    ws.run(&["apply", "environments/demo", "--auto-approve"])
        .ok();

    let created = proxy.count_operation("rds", "CreateDBInstance")
        + proxy.count_operation("rds", "CreateDBInstanceReadReplica");
    assert!(
        created >= 6,
        "three databases and their replicas: {created}"
    );
    // Unbatched, each wait alone reads at least twice (a ready reading is confirmed), and
    // each create read once more before and after it: 36 here then, 21 with the adoption
    // checks and the waits read one by one, 12 with them shared.
    let reads = proxy.count_operation("rds", "DescribeDBInstances");
    assert!(
        reads < 2 * created,
        "{reads} DescribeDBInstances for {created} databases: {:#?}",
        proxy
            .seen()
            .iter()
            .filter(|s| s.service == "rds")
            .map(|s| format!("{} {}", s.region, s.operation))
            .collect::<Vec<_>>()
    );
}

/// Auto Scaling groups and load balancers created together are waited for together: with
/// four clusters, three of them behind DNS names (so load balancers), each region's groups (waited for until their instances are in service)
/// and balancers (until `active`, after one check for an existing one) are read with one
/// `DescribeAutoScalingGroups` / `DescribeLoadBalancers` per region and reading.
#[test]
fn groups_and_load_balancers_created_together_are_waited_for_with_shared_reads() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let ws = Workspace::new(proxy.env());
    demo(&ws);
    let spec = ws.path().join("environments/demo/main.hcl");
    let text = std::fs::read_to_string(&spec).unwrap();
    let cluster = |name: &str, port: u16| {
        format!(
            "\ncluster \"{name}\" {{\n  instance_type = \"t3.micro\"\n  size          = 2\n  image         = var.ami\n  port          = {port}\n}}\n\
             dns \"{name}\" {{\n  zone    = \"shop.example.com\"\n  name    = \"{name}.shop.example.com\"\n  cluster = cluster.{name}\n  ttl     = 60\n}}\n"
        )
    };
    std::fs::write(
        &spec,
        text + &cluster("search", 8081) + &cluster("admin", 8082),
    )
    .unwrap();
    ws.run(&["apply", "environments/demo", "--auto-approve"])
        .ok();

    let ops = |service: &str| {
        proxy
            .seen()
            .iter()
            .filter(|s| s.service == service)
            .map(|s| format!("{} {}", s.region, s.operation))
            .collect::<Vec<_>>()
    };
    let groups = proxy.count_operation("autoscaling", "CreateAutoScalingGroup");
    assert!(groups >= 8, "four clusters in two regions: {groups}");
    // Unbatched, each group's wait alone reads at least twice (a ready reading is
    // confirmed), with the plan's refresh one listing per region more: 27 here then for 12
    // groups (the cold standby's are of 0), 15 with the waits shared.
    let reads = proxy.count_operation("autoscaling", "DescribeAutoScalingGroups");
    assert!(
        reads < 2 * groups,
        "{reads} DescribeAutoScalingGroups for {groups} groups: {:#?}",
        ops("autoscaling")
    );
    let balancers = proxy.count_operation("elasticloadbalancing", "CreateLoadBalancer");
    assert!(
        balancers >= 6,
        "three fronted clusters in two regions: {balancers}"
    );
    // Unbatched: one check before each create and two readings of each wait: 21 here then,
    // 9 with the checks and waits shared.
    let reads = proxy.count_operation("elasticloadbalancing", "DescribeLoadBalancers");
    assert!(
        reads < 2 * balancers,
        "{reads} DescribeLoadBalancers for {balancers} load balancers: {:#?}",
        ops("elasticloadbalancing")
    );
}
