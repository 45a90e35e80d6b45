//! Snapshots of what a user sees: `--help` and rendered plans.

use clap::CommandFactory;
use serde_json::json;
use standby::address::Address;
use standby::cli::{render, Cli};
use standby::plan::{diff, DiffOptions, Plan};
use standby::provider::Observed;
use standby::topology::{Desired, Kind};
use std::collections::BTreeMap;

#[test]
fn top_level_help() {
    insta::assert_snapshot!(Cli::command().render_help().to_string());
}

#[test]
fn plan_help() {
    let mut cmd = Cli::command();
    let plan = cmd.find_subcommand_mut("plan").unwrap();
    insta::assert_snapshot!(plan.render_help().to_string());
}

#[test]
fn apply_help() {
    let mut cmd = Cli::command();
    let apply = cmd.find_subcommand_mut("apply").unwrap();
    insta::assert_snapshot!(apply.render_help().to_string());
}

fn desired(address: &str, kind: Kind, attrs: serde_json::Value) -> Desired {
    Desired {
        address: Address::new(address),
        kind,
        region: Some("us-east-1".into()),
        name: address.into(),
        attrs: attrs.as_object().unwrap().clone(),
        tags: BTreeMap::new(),
        refs: BTreeMap::new(),
        depends_on: vec![],
        bindings: Default::default(),
        prevent_destroy: false,
    }
}

fn observed(d: &Desired, id: &str) -> Observed {
    Observed {
        address: d.address.clone(),
        kind: d.kind,
        region: d.region.clone(),
        id: id.into(),
        attrs: d.attrs.clone(),
        computed: Default::default(),
        depends_on: vec![],
    }
}

fn plan_of(desired: &[Desired], prior: Vec<Observed>) -> Plan {
    Plan {
        environment: "prod".into(),
        env_dir: "environments/prod".into(),
        backend: None,
        state_lineage: Some("7f0c".into()),
        state_serial: 4,
        roles: BTreeMap::new(),
        actions: diff(desired, &prior, &DiffOptions::default()),
        targets: vec![],
        prior,
        notes: vec!["region us-west-2 is primary in the state but warm-standby in the spec".into()],
        blocked: vec![],
        stages: Default::default(),
        best_effort: Default::default(),
        journal: None,
        details: serde_json::Value::Null,
        split_brain: vec![],
        outputs: BTreeMap::new(),
    }
}

fn mixed_plan() -> Plan {
    let vpc = desired(
        "region.us-east-1.network.vpc",
        Kind::Vpc,
        json!({"cidr": "10.0.0.0/16"}),
    );
    let sg = desired(
        "region.us-east-1.cluster.web.security_group",
        Kind::SecurityGroup,
        json!({"group_name": "checkout-prod-web-us-east-1", "port": 443}),
    );
    let old_sg = desired(
        "region.us-east-1.cluster.web.security_group",
        Kind::SecurityGroup,
        json!({"group_name": "checkout-prod-web-us-east-1", "port": 80}),
    );
    let inst = desired(
        "region.us-east-1.cluster.web.instance[0]",
        Kind::Instance,
        json!({"image": "ami-2", "instance_type": "m6i.large", "zone": "us-east-1a"}),
    );
    let old_inst = desired(
        "region.us-east-1.cluster.web.instance[0]",
        Kind::Instance,
        json!({"image": "ami-1", "instance_type": "m6i.large", "zone": "us-east-1a"}),
    );
    let gone = desired(
        "region.us-east-1.cluster.web.instance[1]",
        Kind::Instance,
        json!({"image": "ami-1", "instance_type": "m6i.large", "zone": "us-east-1b"}),
    );
    plan_of(
        &[vpc, sg, inst],
        vec![
            observed(&old_sg, "sg-0a1"),
            observed(&old_inst, "i-0a1"),
            observed(&gone, "i-0b2"),
        ],
    )
}

#[test]
fn plan_with_every_kind_of_action() {
    insta::assert_snapshot!(render::plan(&mixed_plan()));
}

#[test]
fn plan_json_is_versioned_and_lists_changes() {
    let v: serde_json::Value = serde_json::from_str(&render::plan_json(&mixed_plan())).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(
        v["summary"],
        json!({"create": 1, "update": 1, "replace": 1, "delete": 1})
    );
    insta::assert_json_snapshot!(v["actions"]);
}

#[test]
fn empty_plan_says_no_changes() {
    let mut plan = plan_of(&[], vec![]);
    plan.notes.clear();
    insta::assert_snapshot!(render::plan(&plan));
}

#[test]
fn promote_help() {
    let mut cmd = Cli::command();
    let promote = cmd.find_subcommand_mut("promote").unwrap();
    insta::assert_snapshot!(promote.render_help().to_string());
}

#[test]
fn restore_help() {
    insta::assert_snapshot!(help(&["restore"]));
}

#[test]
fn restore_summary() {
    use standby::dr::{BucketRestore, RestorePoint, Swap};
    use standby::provider::ObjectStep;
    let t = time::macros::datetime!(2026-12-01 09:30:00 UTC);
    let swaps = [Swap {
        address: Address::new("region.us-east-1.database.orders"),
        identifier: "checkout-prod-orders-us-east-1".into(),
        kept_as: "checkout-prod-orders-us-east-1-replaced".into(),
        snapshot: "checkout-prod-orders-us-east-1-replaced-final".into(),
        followers: vec![Address::new("region.us-west-2.database.orders")],
    }];
    let buckets = [BucketRestore {
        bucket: "checkout-prod-receipts-us-east-1".into(),
        steps: vec![
            ObjectStep::Revert {
                key: "2026/12/01/r-17.json".into(),
                version_id: "v1".into(),
            },
            ObjectStep::Undelete {
                key: "2026/12/01/r-18.json".into(),
                markers: vec!["m1".into()],
            },
            ObjectStep::Remove {
                key: "2026/12/01/r-19.json".into(),
            },
        ],
    }];
    let summary = standby::cli::render::restore_summary(
        "us-east-1",
        &RestorePoint::Time(t),
        &swaps,
        &buckets,
    );
    insta::assert_snapshot!(summary);
}

#[test]
fn drift_help() {
    let mut cmd = Cli::command();
    let drift = cmd.find_subcommand_mut("drift").unwrap();
    insta::assert_snapshot!(drift.render_help().to_string());
}

/// The help of a subcommand, such as `["state", "unlock"]`.
fn help(path: &[&str]) -> String {
    let mut cmd = Cli::command();
    let mut sub = &mut cmd;
    for name in path {
        sub = sub.find_subcommand_mut(name).unwrap();
    }
    sub.render_help().to_string()
}

#[test]
fn help_of_the_commands_terraform_users_expect() {
    for path in [
        &["show"][..],
        &["output"],
        &["version"],
        &["completions"],
        &["drill"],
        &["fmt"],
        &["status"],
        &["check"],
        &["state", "unlock"],
    ] {
        insta::assert_snapshot!(format!("help_{}", path.join("_")), help(path));
    }
}

#[test]
fn a_requested_replacement_says_so_and_cascades() {
    let vpc = desired(
        "region.us-east-1.network.vpc",
        Kind::Vpc,
        json!({"cidr": "10.0.0.0/16"}),
    );
    let mut subnet = desired(
        "region.us-east-1.network.subnet.us-east-1a",
        Kind::Subnet,
        json!({"cidr": "10.0.0.0/24", "zone": "us-east-1a"}),
    );
    subnet
        .refs
        .insert("vpc".into(), Address::new("region.us-east-1.network.vpc"));
    let prior = vec![observed(&vpc, "vpc-0a1"), observed(&subnet, "subnet-0b2")];
    let opts = DiffOptions {
        replace: vec![vpc.address.clone()],
        ..Default::default()
    };
    let mut plan = plan_of(&[], prior.clone());
    plan.actions = diff(&[vpc, subnet], &prior, &opts);
    plan.notes.clear();
    insta::assert_snapshot!(render::plan(&plan));
}

/// A failed region that answers again: the fence (its database stopped after a snapshot,
/// its bucket replication removed) comes first, under the split-brain warning.
#[test]
fn a_fence_plan_stops_the_failed_primary_first() {
    let db = desired(
        "region.us-east-1.database.orders",
        Kind::Database,
        json!({"identifier": "checkout-prod-orders-us-east-1", "replica_of": null}),
    );
    let replication = desired(
        "region.us-east-1.bucket.receipts.replication",
        Kind::BucketReplication,
        json!({"destinations": ["us-west-2"]}),
    );
    let mut db = observed(&db, "checkout-prod-orders-us-east-1");
    db.computed.insert("status".into(), json!("available"));
    let mut record = desired(
        "dns.api.record.us-east-1",
        Kind::Record,
        json!({"set_identifier": "us-east-1", "failover": "PRIMARY"}),
    );
    record.region = None;
    let prior = vec![
        observed(&record, "api.example.com/us-east-1"),
        db,
        observed(&replication, "receipts"),
    ];
    let east = std::collections::BTreeSet::from(["us-east-1".to_string()]);
    let opts = DiffOptions {
        frozen_regions: east.clone(),
        fenced_regions: east.clone(),
        fence_time: 1_764_547_200,
        ..Default::default()
    };
    let mut plan = plan_of(&[], prior.clone());
    plan.actions = diff(&[], &prior, &opts);
    plan.notes.clear();
    plan.split_brain = standby::plan::split_brain(&east, &prior);
    let kinds: Vec<bool> = plan.actions.iter().map(|a| a.fences()).collect();
    assert_eq!(kinds, [true, true, false], "the fence comes first");
    insta::assert_snapshot!(render::plan(&plan));
}

#[test]
fn a_destroy_plan_deletes_everything() {
    let vpc = desired(
        "region.us-east-1.network.vpc",
        Kind::Vpc,
        json!({"cidr": "10.0.0.0/16"}),
    );
    let prior = vec![observed(&vpc, "vpc-0a1")];
    let opts = DiffOptions {
        destroy: true,
        ..Default::default()
    };
    let mut plan = plan_of(&[], prior.clone());
    plan.actions = diff(&[vpc], &prior, &opts);
    plan.notes.clear();
    insta::assert_snapshot!(render::plan(&plan));
}

#[test]
fn a_targeted_plan_warns_at_plan_and_after_apply() {
    let mut plan = mixed_plan();
    plan.notes.clear();
    plan.targets = vec![Address::new("region.us-east-1.cluster.web")];
    insta::assert_snapshot!(format!(
        "{}--- after apply ---\n{}",
        render::plan(&plan),
        render::targeted_apply_warning(&plan)
    ));
}

fn outputs() -> BTreeMap<String, serde_json::Value> {
    BTreeMap::from([
        ("api".to_string(), json!("api.example.com")),
        ("regions".to_string(), json!(["us-east-1", "us-west-2"])),
        ("web".to_string(), json!({"size": 6, "public": true})),
    ])
}

#[test]
fn apply_complete_is_followed_by_the_outputs() {
    use standby::cli::output;
    insta::assert_snapshot!(output::listing(&outputs()));
    assert_eq!(
        output::listing(&BTreeMap::new()),
        "",
        "no outputs, no section"
    );
}

#[test]
fn output_json_has_terraforms_shape() {
    let v: serde_json::Value =
        serde_json::from_str(&standby::cli::output::outputs_json(&outputs())).unwrap();
    insta::assert_json_snapshot!(v);
}

fn applied_state() -> standby::state::State {
    let mut s = standby::state::State::new("prod");
    s.lineage = "6f1c0d2e".into();
    s.serial = 7;
    s.roles = BTreeMap::from([
        ("us-east-1".to_string(), standby::config::Role::Primary),
        ("us-west-2".to_string(), standby::config::Role::WarmStandby),
    ]);
    let vpc = desired(
        "region.us-east-1.network.vpc",
        Kind::Vpc,
        json!({"cidr": "10.0.0.0/16"}),
    );
    let inst = desired(
        "region.us-east-1.cluster.web.instance[0]",
        Kind::Instance,
        json!({"image": "ami-1", "instance_type": "t3.micro", "zone": "us-east-1a"}),
    );
    let mut inst = observed(&inst, "i-0a1");
    inst.computed
        .insert("public_ip".into(), json!("203.0.113.7"));
    s.set_resources(vec![inst, observed(&vpc, "vpc-0a1")]);
    s.outputs = outputs();
    s
}

#[test]
fn show_prints_the_state_for_people_and_machines() {
    use standby::cli::show;
    let state = applied_state();
    insta::assert_snapshot!(show::state_text(&state));
    let v: serde_json::Value = serde_json::from_str(&show::state_json(&state)).unwrap();
    insta::assert_json_snapshot!("show_state_json", v);
}

#[test]
fn version_names_the_build_and_the_platform() {
    insta::assert_snapshot!(standby::cli::version::text("0.1.0", "linux", "x86_64"));
}

#[test]
fn progress_shows_the_time_left_once_steps_finished() {
    use standby::cli::progress::steps_left;
    use std::time::Duration;
    let lines = [
        steps_left(1, 0, Duration::from_secs(5)),
        steps_left(1, 10, Duration::ZERO),
        steps_left(3, 10, Duration::from_millis(200)),
        steps_left(3, 10, Duration::from_secs(12)),
        steps_left(5, 10, Duration::from_secs(150)),
        steps_left(10, 10, Duration::from_secs(3)),
    ];
    insta::assert_snapshot!(lines.join("\n"));
}

fn status() -> standby::dr::Status {
    use standby::config::Role;
    use standby::dr::{
        BucketRole, DatabaseRole, DatabaseStatus, RegionStatus, Replication, Status,
    };
    let region =
        |name: &str, role: Role, db: DatabaseStatus, rep: Replication, dns: &[&str]| RegionStatus {
            region: name.into(),
            state_role: Some(role),
            spec_role: role,
            reachable: true,
            instances_running: 2,
            instances_desired: 2,
            database: db,
            replication: rep,
            dns: dns.iter().map(|d| d.to_string()).collect(),
            readiness: (role == Role::WarmStandby).then_some(standby::check::Verdict::NotReady),
        };
    let mut down = region(
        "eu-west-1",
        Role::ColdStandby,
        DatabaseStatus {
            role: DatabaseRole::Unknown,
            source_region: None,
            lag_seconds: None,
        },
        Replication {
            role: BucketRole::Unknown,
            destinations: vec![],
        },
        &[],
    );
    (
        down.reachable,
        down.instances_running,
        down.instances_desired,
    ) = (false, 0, 0);
    Status {
        environment: "prod".into(),
        interrupted: None,
        regions: vec![
            region(
                "us-east-1",
                Role::Primary,
                DatabaseStatus {
                    role: DatabaseRole::Primary,
                    source_region: None,
                    lag_seconds: None,
                },
                Replication {
                    role: BucketRole::Source,
                    destinations: vec!["us-west-2".into(), "eu-west-1".into()],
                },
                &["PRIMARY"],
            ),
            region(
                "us-west-2",
                Role::WarmStandby,
                DatabaseStatus {
                    role: DatabaseRole::Replica,
                    source_region: Some("us-east-1".into()),
                    lag_seconds: Some(3.0),
                },
                Replication {
                    role: BucketRole::Replica,
                    destinations: vec![],
                },
                &["SECONDARY"],
            ),
            down,
        ],
        split_brain: vec![],
        last_promote: None,
        last_drill: None,
    }
}

#[test]
fn status_for_people_and_machines() {
    insta::assert_snapshot!(render::status(&status()));
    let v: serde_json::Value =
        serde_json::from_str(&standby::report::status::json(&status())).unwrap();
    assert_eq!(v["format_version"], 1);
    insta::assert_json_snapshot!("status_json", v);
}

/// A tag change shows as the tags that changed; a list of twenty IPs with one changed shows
/// as one `-` and one `+` line.
#[test]
fn plan_diffs_lists_and_maps_element_by_element() {
    let ips = |changed: &str| -> Vec<String> {
        (1..=20)
            .map(|i| match i {
                7 => changed.to_string(),
                i => format!("198.51.100.{i}"),
            })
            .collect()
    };
    let record = |values: Vec<String>| {
        desired(
            "dns.api.record.us-east-1",
            Kind::Record,
            json!({"name": "api.example.com", "failover": "PRIMARY", "ttl": 60, "values": values}),
        )
    };
    let vpc = |tags: serde_json::Value| {
        desired(
            "region.us-east-1.network.vpc",
            Kind::Vpc,
            json!({"cidr": "10.0.0.0/16", "tags": tags}),
        )
    };
    let old_record = record(ips("198.51.100.7"));
    let old_vpc = vpc(json!({"team": "payments", "cost-center": "42"}));
    let plan = plan_of(
        &[
            record(ips("203.0.113.9")),
            vpc(json!({"team": "checkout", "tier": "gold"})),
        ],
        vec![
            observed(&old_record, "Z1/api.example.com/us-east-1"),
            observed(&old_vpc, "vpc-0a1"),
        ],
    );
    insta::assert_snapshot!(render::plan(&plan));
}
