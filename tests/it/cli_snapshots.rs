//! Snapshots of what a user sees: `--help` and rendered plans.

use clap::CommandFactory;
use serde_json::json;
use standby::address::Address;
use standby::cli::{render, Cli};
use standby::plan::{diff, DiffOptions, Plan, PLAN_FORMAT_VERSION};
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
        format_version: PLAN_FORMAT_VERSION,
        environment: "prod".into(),
        env_dir: "environments/prod".into(),
        backend: None,
        state_lineage: Some("7f0c".into()),
        state_serial: 4,
        roles: BTreeMap::new(),
        actions: diff(desired, &prior, &DiffOptions::default()),
        prior,
        notes: vec!["region us-west-2 is primary in the state but warm-standby in the spec".into()],
        blocked: vec![],
        stages: Default::default(),
        best_effort: Default::default(),
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
fn drift_help() {
    let mut cmd = Cli::command();
    let drift = cmd.find_subcommand_mut("drift").unwrap();
    insta::assert_snapshot!(drift.render_help().to_string());
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
