//! Clusters as Auto Scaling groups behind load balancers, with alias failover records: the
//! three-region layout applied through the real binary and read back through the SDK.

use crate::support::aws::{
    elb, failover_record, groups_by_address, load_balancer_names, primary_record,
};
use crate::support::specs::{replace_once, DR_WITHOUT_DATABASE};
use crate::support::workspace::Workspace;
use crate::support::Emulator;

const WEB: &str = "region.{r}.cluster.web.group";

fn group(region: &str) -> String {
    WEB.replace("{r}", region)
}

fn workspace(emulator: &Emulator) -> Workspace {
    let ws = Workspace::new(emulator.env());
    let spec = replace_once(DR_WITHOUT_DATABASE, "size  = 4", "size  = 8");
    ws.write("environments/prod/main.hcl", &spec);
    ws
}

#[tokio::test]
async fn groups_run_8_4_0_behind_load_balancers_with_alias_failover_and_plan_clean() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();

    let east = groups_by_address(&emulator, "us-east-1").await;
    assert_eq!(east.get(&group("us-east-1")), Some(&(8, 8)), "{east:?}");
    let west = groups_by_address(&emulator, "us-west-2").await;
    assert_eq!(
        west.get(&group("us-west-2")),
        Some(&(4, 4)),
        "ceil(8 * 0.5): {west:?}"
    );
    let eu = groups_by_address(&emulator, "eu-west-1").await;
    assert_eq!(
        eu.get(&group("eu-west-1")),
        Some(&(0, 0)),
        "pilot light: {eu:?}"
    );

    let east_lb = load_balancer_names(&emulator, "us-east-1").await;
    let west_lb = load_balancer_names(&emulator, "us-west-2").await;
    assert_eq!(
        (east_lb.len(), west_lb.len()),
        (1, 1),
        "one load balancer per serving region"
    );
    assert!(
        load_balancer_names(&emulator, "eu-west-1").await.is_empty(),
        "a cold standby has no load balancer"
    );
    let groups = elb(&emulator, "us-east-1")
        .await
        .describe_target_groups()
        .send()
        .await
        .unwrap();
    let tg = &groups.target_groups()[0];
    assert_eq!(
        tg.health_check_path(),
        Some("/health"),
        "the dns block's health check"
    );
    assert_eq!(
        tg.health_check_protocol().map(|p| p.as_str()),
        Some("HTTPS")
    );

    let (set, values) = primary_record(&emulator).await;
    assert_eq!((set.as_str(), values), ("us-east-1", east_lb.clone()));
    let (failover, values, _) = failover_record(&emulator, "us-west-2").await.unwrap();
    assert_eq!((failover.as_str(), values), ("SECONDARY", west_lb));
}

#[tokio::test]
async fn promote_scales_the_warm_group_to_full_size_and_flips_the_aliases() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    ws.run(&[
        "promote",
        "us-west-2",
        "environments/prod",
        "--auto-approve",
    ])
    .ok();

    let west = groups_by_address(&emulator, "us-west-2").await;
    assert_eq!(west.get(&group("us-west-2")), Some(&(8, 8)), "{west:?}");
    let (set, values) = primary_record(&emulator).await;
    assert_eq!(set, "us-west-2");
    assert_eq!(values, load_balancer_names(&emulator, "us-west-2").await);
}
