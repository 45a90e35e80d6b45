//! Clusters as Auto Scaling groups behind load balancers, with alias failover records: the
//! three-region layout applied through the real binary and read back through the SDK; an
//! instance type change replaced by an instance refresh and a scale-up that cannot launch,
//! both through the strict proxy; a terminated instance replaced by its group.

use crate::support::aws::{
    autoscaling, elb, failover_record, groups_by_address, load_balancer_names, primary_record,
};
use crate::support::proxy::Proxy;
use crate::support::specs::{replace_once, DR_WITHOUT_DATABASE};
use crate::support::workspace::Workspace;
use crate::support::Emulator;
use aws_sdk_autoscaling::types::{AutoScalingGroup, LifecycleState};
use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

const MAIN: &str = "environments/prod/main.hcl";

const WEB: &str = "region.{r}.cluster.web.group";

fn group(region: &str) -> String {
    WEB.replace("{r}", region)
}

fn workspace(emulator: &Emulator) -> Workspace {
    let ws = Workspace::new(emulator.env());
    let spec = replace_once(DR_WITHOUT_DATABASE, "size  = 4", "size  = 8");
    ws.write(MAIN, &spec);
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

/// The east group's instances as a client sees them through `proxy`: (id, type, in service).
async fn east_members(proxy: &Proxy) -> Vec<(String, String, bool)> {
    let client = aws_sdk_autoscaling::Client::new(&proxy.sdk_config("us-east-1").await);
    let out = client.describe_auto_scaling_groups().send().await.unwrap();
    let tag = |g: &AutoScalingGroup, k: &str| {
        g.tags()
            .iter()
            .find(|t| t.key() == Some(k))
            .and_then(|t| t.value().map(str::to_string))
    };
    let east = group("us-east-1");
    out.auto_scaling_groups()
        .iter()
        .filter(|g| tag(g, "standby:address").as_deref() == Some(east.as_str()))
        .flat_map(|g| g.instances())
        .map(|i| {
            let healthy = i.lifecycle_state() == Some(&LifecycleState::InService)
                && i.health_status() == Some("Healthy");
            (
                i.instance_id().unwrap().to_string(),
                i.instance_type().unwrap_or_default().to_string(),
                healthy,
            )
        })
        .collect()
}

/// Changes the east group's instance type (with `setting` in the cluster block) while sampling
/// the group through the strict proxy; checks the refresh kept `floor` instances healthy at
/// least, used `percent`, replaced every instance and left the plan clean.
async fn instance_type_change(setting: &str, percent: i32, floor: usize) {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.01); // a new instance is Pending 0.6 s, its target initial 1.5 s more
    let ws = Workspace::new(proxy.env());
    let sized = format!("size  = 8\n  {setting}");
    let spec = replace_once(DR_WITHOUT_DATABASE, "size  = 4", &sized);
    ws.write(MAIN, &spec);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    let before: Vec<String> = east_members(&proxy)
        .await
        .into_iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(before.len(), 8);

    let bigger = "size  = 8\n  instance_type = \"m6i.large\"";
    ws.write(MAIN, &replace_once(&spec, "size  = 8", bigger));
    let log = std::fs::File::create(ws.path().join("apply.log")).unwrap();
    let mut apply = ws
        .command(&["apply", "environments/prod", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let (mut fewest, mut mixed) = (usize::MAX, false);
    let status = loop {
        let now = east_members(&proxy).await;
        fewest = fewest.min(now.iter().filter(|m| m.2).count());
        let types: BTreeSet<&str> = now.iter().map(|m| m.1.as_str()).collect();
        mixed |= types.len() > 1;
        if let Some(status) = apply.try_wait().unwrap() {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let log = std::fs::read_to_string(ws.path().join("apply.log")).unwrap();
    assert!(status.success(), "{log}");

    assert!(
        mixed,
        "sampled while old and new instances ran side by side"
    );
    assert!(
        (floor..=8).contains(&fewest),
        "never fewer healthy than {percent}% of 8: {fewest}"
    );
    let after = east_members(&proxy).await;
    assert_eq!(after.len(), 8, "{after:?}");
    assert!(after.iter().all(|m| !before.contains(&m.0)), "{after:?}");
    assert!(after.iter().all(|m| m.1 == "m6i.large" && m.2), "{after:?}");
    let client = aws_sdk_autoscaling::Client::new(&proxy.sdk_config("us-east-1").await);
    let name = ws.state("prod")["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == group("us-east-1"))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let refreshes = client
        .describe_instance_refreshes()
        .auto_scaling_group_name(name)
        .send()
        .await
        .unwrap();
    let refresh = &refreshes.instance_refreshes()[0];
    assert_eq!(
        refresh.status(),
        Some(&aws_sdk_autoscaling::types::InstanceRefreshStatus::Successful)
    );
    let preferences = refresh.preferences().unwrap();
    assert_eq!(preferences.min_healthy_percentage(), Some(percent));
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_type_change_runs_an_instance_refresh_never_below_the_minimum_healthy() {
    // The default: the replacements are launched first, all 8 stay healthy.
    instance_type_change("", 100, 8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_minimum_healthy_percentage_replaces_half_the_group_at_a_time() {
    instance_type_change("min_healthy_percentage = 50", 50, 4).await;
}

#[tokio::test]
async fn a_scale_up_without_capacity_fails_naming_the_group_region_and_cause() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.002);
    let ws = Workspace::new(proxy.env());
    ws.write(MAIN, DR_WITHOUT_DATABASE);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    proxy.exhaust_capacity("us-west-2");

    let run = ws.run(&[
        "promote",
        "us-west-2",
        "environments/prod",
        "--auto-approve",
    ]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    let err = &run.stderr;
    assert!(err.contains(&group("us-west-2")), "{err}");
    assert!(
        err.contains("in us-west-2 has 2 of 4 instances in service: a launch failed"),
        "{err}"
    );
    assert!(err.contains("vCPU limit"), "the cause: {err}");
    assert!(!err.contains("gave up"), "not a timeout: {err}");
    assert!(proxy.fired("autoscaling.insufficient-capacity") >= 1);
}

#[tokio::test]
async fn a_terminated_instance_is_replaced_by_the_group_and_drift_reports_nothing() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    let ec2 = emulator.ec2("us-east-1").await;
    let group_name = ws.state("prod")["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == group("us-east-1"))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let groups = autoscaling(&emulator, "us-east-1")
        .await
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&group_name)
        .send()
        .await
        .unwrap();
    let victim = groups.auto_scaling_groups()[0].instances()[0]
        .instance_id()
        .unwrap()
        .to_string();
    ec2.terminate_instances()
        .instance_ids(&victim)
        .send()
        .await
        .unwrap();

    let east = groups_by_address(&emulator, "us-east-1").await;
    assert_eq!(east.get(&group("us-east-1")), Some(&(8, 8)), "{east:?}");
    let groups = autoscaling(&emulator, "us-east-1")
        .await
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&group_name)
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = groups.auto_scaling_groups()[0]
        .instances()
        .iter()
        .filter_map(|i| i.instance_id())
        .collect();
    assert!(!ids.contains(&victim.as_str()), "replaced: {ids:?}");
    let drift = ws.run(&["drift", "environments/prod", "--format", "json"]);
    assert_eq!(drift.code, 0, "{}\n{}", drift.stdout, drift.stderr);
    let doc: serde_json::Value = serde_json::from_str(&drift.stdout).unwrap();
    assert_eq!(doc["resources"], serde_json::json!([]), "{doc:#}");
}

#[tokio::test]
async fn promote_waits_until_the_warm_group_is_in_service_and_healthy_in_its_target_group() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.strict(0.005); // a new instance is Pending 0.3 s, its target initial 0.75 s more
    let ws = Workspace::new(proxy.env());
    ws.write(
        MAIN,
        &replace_once(DR_WITHOUT_DATABASE, "size  = 4", "size  = 8"),
    );
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    ws.run(&[
        "promote",
        "us-west-2",
        "environments/prod",
        "--auto-approve",
    ])
    .ok();

    // Read through the proxy, which still shows a young instance Pending and its target
    // initial: promote returned only once all were InService and healthy.
    let client = aws_sdk_autoscaling::Client::new(&proxy.sdk_config("us-west-2").await);
    let out = client.describe_auto_scaling_groups().send().await.unwrap();
    let west = out
        .auto_scaling_groups()
        .iter()
        .find(|g| !g.target_group_arns().is_empty())
        .unwrap();
    let states: Vec<_> = west
        .instances()
        .iter()
        .map(|i| i.lifecycle_state().unwrap().clone())
        .collect();
    assert_eq!(states, vec![LifecycleState::InService; 8]);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&proxy.sdk_config("us-west-2").await);
    let health = elb
        .describe_target_health()
        .target_group_arn(&west.target_group_arns()[0])
        .send()
        .await
        .unwrap();
    let healthy = health
        .target_health_descriptions()
        .iter()
        .filter(|t| {
            t.target_health()
                .and_then(|h| h.state())
                .map(|s| s.as_str())
                == Some("healthy")
        })
        .count();
    assert_eq!(healthy, 8);
    assert!(proxy.fired("autoscaling.instance-pending") > 0);
    assert!(proxy.fired("elbv2.target-initial") > 0);
}

#[tokio::test]
async fn against_moto_alone_an_instance_type_change_stops_at_once_naming_the_refresh() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    let spec = replace_once(DR_WITHOUT_DATABASE, "size  = 4", "size  = 8");
    let bigger = "size  = 8\n  instance_type = \"m6i.large\"";
    ws.write(MAIN, &replace_once(&spec, "size  = 8", bigger));

    let run = ws.run(&["apply", "environments/prod", "--auto-approve"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("StartInstanceRefresh in us-east-1: the emulator has no instance refreshes"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("retries"),
        "not retried: {}",
        run.stderr
    );
}
