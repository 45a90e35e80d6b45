//! The user's intent, kept: tags as managed attributes of every kind, environments that never
//! touch each other (a shared hosted zone, a refused record name), `state mv` that sticks,
//! and a state serial that rises on every write. The real binary against the emulator, read
//! back through the SDK.

use crate::support::aws::{route53, zone_record_sets};
use crate::support::specs::{self, replace_once, API_DNS, SERVICE};
use crate::support::tags::environment_tags;
use crate::support::workspace::Workspace;
use crate::support::Emulator;

const REGIONS: &[&str] = &["us-east-1", "us-west-2"];

/// The workload after the service and its two regions: every kind of resource.
const WORKLOAD: &str = r#"
cluster "web" {
  size  = 1
  image = "ami-12c6146b"
  port  = 443
}

bucket "receipts" {}
"#;

/// Added where every kind must be there: databases are the slowest to make.
const DATABASE: &str = r#"
database "orders" {
  engine          = "postgres"
  engine_version  = "16.3"
  instance_class  = "db.t3.micro"
  storage_gb      = 20
  prevent_destroy = false
}
"#;

/// One service with `tags` over two regions with every kind of resource, the API's record
/// named `name`.
fn spec(tags: &str, name: &str) -> String {
    let rpo = "  rpo = \"5m\"\n";
    let service = replace_once(SERVICE, rpo, &format!("{rpo}  tags = {tags}\n"));
    let dns = replace_once(API_DNS, "\"api.example.com\"", &format!("\"{name}\""));
    [&service, specs::REGIONS, WORKLOAD, &dns].concat()
}

/// The prefix of every kind key `environment_tags` gives (`vpc vpc-…` is `vpc`).
fn kinds(tags: &crate::support::tags::TagsById) -> std::collections::BTreeSet<&str> {
    tags.keys().filter_map(|k| k.split(' ').next()).collect()
}

#[tokio::test]
async fn a_tag_change_reaches_every_kind_leaves_others_tags_alone_and_then_plans_clean() {
    let emulator = Emulator::start();
    let ws = Workspace::new(emulator.env());
    let env = "environments/prod";
    ws.write(
        "environments/prod/main.hcl",
        &(spec(
            r#"{ team = "payments", cost-center = "42" }"#,
            "api.example.com",
        ) + DATABASE),
    );
    ws.run(&["apply", env, "--auto-approve"]).ok();
    let before = environment_tags(&emulator, "prod", REGIONS).await;
    assert_eq!(
        kinds(&before).into_iter().collect::<Vec<_>>(),
        [
            "auto_scaling_group",
            "bucket",
            "database",
            "db_subnet_group",
            "hosted_zone",
            "internet_gateway",
            "launch_template",
            "listener",
            "load_balancer",
            "replication_role",
            "security_group",
            "subnet",
            "target_group",
            "vpc"
        ],
        "every kind that can carry tags carries them"
    );
    for (id, tags) in &before {
        assert_eq!(
            tags.get("team").map(String::as_str),
            Some("payments"),
            "{id}"
        );
    }

    // Somebody adds a tag of their own to a VPC and changes a managed one on a subnet.
    let ec2 = emulator.ec2("us-east-1").await;
    let east = environment_tags(&emulator, "prod", &["us-east-1"]).await;
    let id_of = |kind: &str| {
        east.keys()
            .find_map(|k| k.strip_prefix(&format!("{kind} ")))
            .unwrap()
            .to_string()
    };
    let (vpc, subnet) = (id_of("vpc"), id_of("subnet"));
    let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
    ec2.create_tags()
        .resources(&vpc)
        .tags(tag("owner", "ops"))
        .send()
        .await
        .unwrap();
    ec2.create_tags()
        .resources(&subnet)
        .tags(tag("team", "growth"))
        .send()
        .await
        .unwrap();
    let drift = ws.run(&["drift", env]);
    assert_eq!(drift.code, 2, "{}{}", drift.stdout, drift.stderr);
    assert!(
        drift.stdout.contains("~ team = \"payments\" -> \"growth\""),
        "{}",
        drift.stdout
    );
    assert!(
        !drift.stdout.contains("owner"),
        "a tag standby never set is not drift: {}",
        drift.stdout
    );

    // The spec's tags change: one changed, one removed, one added.
    ws.write(
        "environments/prod/main.hcl",
        &(spec(r#"{ team = "checkout", tier = "gold" }"#, "api.example.com") + DATABASE),
    );
    let plan = ws.run(&["plan", env, "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    for line in [
        "~ tags = {",
        "~ team = \"payments\" -> \"checkout\"",
        "- cost-center = \"42\"",
        "+ tier = \"gold\"",
    ] {
        assert!(plan.stdout.contains(line), "{line} in\n{}", plan.stdout);
    }
    assert!(
        plan.stdout.contains("0 to add, "),
        "tags change in place: {}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(" 0 to replace, 0 to destroy"),
        "{}",
        plan.stdout
    );
    ws.run(&["apply", env, "--auto-approve"]).ok();

    let after = environment_tags(&emulator, "prod", REGIONS).await;
    assert_eq!(kinds(&after), kinds(&before));
    for (id, tags) in &after {
        assert_eq!(
            tags.get("team").map(String::as_str),
            Some("checkout"),
            "{id}"
        );
        assert_eq!(tags.get("tier").map(String::as_str), Some("gold"), "{id}");
        assert!(!tags.contains_key("cost-center"), "{id}: {tags:?}");
        assert!(
            tags.contains_key("standby:address"),
            "{id}: standby's own tags stay"
        );
    }
    assert_eq!(
        after[&format!("vpc {vpc}")]
            .get("owner")
            .map(String::as_str),
        Some("ops"),
        "a tag somebody else added stays"
    );
    assert!(
        after.contains_key(&format!("subnet {subnet}")),
        "not replaced"
    );
    ws.run(&["plan", env, "--detailed-exitcode"]).ok();
    ws.run(&["drift", env]).ok();
}

/// Two copies of one environment directory under other names, sharing the `example.com` zone.
fn two_environments(emulator: &Emulator) -> Workspace {
    let ws = Workspace::new(emulator.env());
    for name in ["blue", "green"] {
        let text = spec("{}", &format!("api-{name}.example.com"));
        ws.write(&format!("environments/{name}/main.hcl"), &text);
    }
    ws
}

/// Names (without the final dot) of the zone's A and TXT records.
async fn record_names(emulator: &Emulator) -> Vec<String> {
    let Some((_, sets)) = zone_record_sets(&route53(emulator).await).await else {
        return Vec::new();
    };
    let mut names: Vec<String> = sets
        .iter()
        .filter(|s| matches!(s.r#type().as_str(), "A" | "TXT"))
        .map(|s| {
            let id = s
                .set_identifier()
                .map(|i| format!(" {i}"))
                .unwrap_or_default();
            format!(
                "{} {}{id}",
                s.name().trim_end_matches('.'),
                s.r#type().as_str()
            )
        })
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn environments_share_a_zone_keep_to_their_records_and_refuse_a_taken_name() {
    let emulator = Emulator::start();
    let ws = two_environments(&emulator);
    ws.run(&["apply", "environments/blue", "--auto-approve"])
        .ok();
    ws.run(&["apply", "environments/green", "--auto-approve"])
        .ok();
    let zones = route53(&emulator)
        .await
        .list_hosted_zones()
        .send()
        .await
        .unwrap();
    assert_eq!(zones.hosted_zones().len(), 1, "the zone is shared");
    assert_eq!(
        record_names(&emulator).await,
        [
            "_standby-us-east-1.api-blue.example.com TXT",
            "_standby-us-east-1.api-green.example.com TXT",
            "_standby-us-west-2.api-blue.example.com TXT",
            "_standby-us-west-2.api-green.example.com TXT",
            "api-blue.example.com A us-east-1",
            "api-blue.example.com A us-west-2",
            "api-green.example.com A us-east-1",
            "api-green.example.com A us-west-2",
        ]
    );
    for name in ["blue", "green"] {
        let env = format!("environments/{name}");
        ws.run(&["plan", &env, "--detailed-exitcode"]).ok();
    }

    // A third copy that wants blue's record name is refused before anything is made.
    let red = std::fs::read_to_string(ws.path().join("environments/green/main.hcl"))
        .unwrap()
        .replace("api-green.example.com", "api-blue.example.com");
    ws.write("environments/red/main.hcl", &red);
    let records_before = record_names(&emulator).await;
    for command in [
        vec!["plan", "environments/red"],
        vec!["apply", "environments/red", "--auto-approve"],
    ] {
        let refused = ws.run(&command);
        assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
        assert!(
            refused.stderr.contains("dns.api.record.us-east-1: the record name api-blue.example.com in hosted zone example.com belongs to environment blue of service checkout, not to environment red of service checkout"),
            "{}",
            refused.stderr
        );
    }
    assert!(
        environment_tags(&emulator, "red", REGIONS).await.is_empty(),
        "nothing of red was made"
    );
    assert_eq!(record_names(&emulator).await, records_before);

    // Blue made the zone, but green's records are in it: blue's destroy leaves it and them.
    let destroyed = ws
        .run(&["destroy", "environments/blue", "--auto-approve"])
        .ok();
    let shown = format!("{}{}", destroyed.stdout, destroyed.stderr);
    for part in [
        "(destroy; the zone holds records that are not this environment's (",
        "api-green.example.com A us-east-1 (checkout/green)",
        "so it stays: only the state forgets it)",
    ] {
        assert!(shown.contains(part), "{part} in\n{shown}");
    }
    assert_eq!(
        record_names(&emulator).await,
        [
            "_standby-us-east-1.api-green.example.com TXT",
            "_standby-us-west-2.api-green.example.com TXT",
            "api-green.example.com A us-east-1",
            "api-green.example.com A us-west-2",
        ]
    );
    let left = environment_tags(&emulator, "blue", REGIONS).await;
    assert!(left.is_empty(), "nothing carries blue's tags: {left:?}");
    ws.run(&["plan", "environments/green", "--detailed-exitcode"])
        .ok();

    // The last one out takes the empty zone standby made.
    ws.run(&["destroy", "environments/green", "--auto-approve"])
        .ok();
    let zones = route53(&emulator)
        .await
        .list_hosted_zones()
        .send()
        .await
        .unwrap();
    assert!(
        zones.hosted_zones().is_empty(),
        "{:?}",
        zones.hosted_zones()
    );
}

#[tokio::test]
async fn state_mv_then_renamed_components_plan_clean_and_keep_their_names() {
    let emulator = Emulator::start();
    let ws = Workspace::new(emulator.env());
    let env = "environments/prod";
    let text = spec("{ team = \"payments\" }", "api.example.com");
    ws.write("environments/prod/main.hcl", &text);
    ws.run(&["apply", env, "--auto-approve"]).ok();
    let before = environment_tags(&emulator, "prod", REGIONS).await;

    // The cluster becomes `frontend` and the bucket `invoices`, in the spec and the state.
    let renamed = text
        .replace("cluster \"web\"", "cluster \"frontend\"")
        .replace("cluster.web", "cluster.frontend")
        .replace("bucket \"receipts\"", "bucket \"invoices\"");
    ws.write("environments/prod/main.hcl", &renamed);
    for (from, to) in [
        (
            "region.us-east-1.cluster.web",
            "region.us-east-1.cluster.frontend",
        ),
        (
            "region.us-west-2.cluster.web",
            "region.us-west-2.cluster.frontend",
        ),
        (
            "region.us-east-1.bucket.receipts",
            "region.us-east-1.bucket.invoices",
        ),
        (
            "region.us-west-2.bucket.receipts",
            "region.us-west-2.bucket.invoices",
        ),
        ("bucket.receipts", "bucket.invoices"),
    ] {
        ws.run(&["state", "mv", from, to, env]).ok();
    }
    let plan = ws.run(&["plan", env, "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    ws.run(&["drift", env]).ok();

    // Nothing was replaced or renamed in AWS: the same resources with the same names.
    let after = environment_tags(&emulator, "prod", REGIONS).await;
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    assert!(
        after.contains_key("bucket checkout-prod-receipts-us-east-1"),
        "{:?}",
        after.keys()
    );
    let state = ws.state("prod");
    let sg = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "region.us-east-1.cluster.frontend.security_group")
        .expect("the moved security group");
    assert_eq!(sg["attrs"]["group_name"], "checkout-prod-web-us-east-1");

    // The next change rewrites the tags: the address tag follows the move.
    ws.write(
        "environments/prod/main.hcl",
        &renamed.replace("payments", "checkout"),
    );
    ws.run(&["apply", env, "--auto-approve"]).ok();
    let group = environment_tags(&emulator, "prod", &["us-east-1"])
        .await
        .into_iter()
        .find(|(k, _)| k.starts_with("auto_scaling_group "))
        .unwrap()
        .1;
    assert_eq!(
        group["standby:address"],
        "region.us-east-1.cluster.frontend.group"
    );
    assert_eq!(
        group["Name"], "checkout-prod-web-us-east-1",
        "names stay fixed"
    );
    ws.run(&["plan", env, "--detailed-exitcode"]).ok();

    // A new component may not take a name a moved one kept.
    ws.write(
        "environments/prod/main.hcl",
        &format!("{renamed}\ncluster \"web\" {{\n  size  = 1\n  image = \"ami-12c6146b\"\n}}\n"),
    );
    let refused = ws.run(&["plan", env]);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains(" would be named checkout-prod-web-us-east-1, the name region.us-east-1.cluster.frontend."),
        "{}",
        refused.stderr
    );
}

#[tokio::test]
async fn the_serial_rises_on_every_write_of_an_apply() {
    let emulator = Emulator::start();
    let ws = Workspace::new(emulator.env());
    ws.write("environments/prod/main.hcl", &spec("{}", "api.example.com"));
    let run = ws
        .run(&[
            "-vv",
            "--log-format",
            "json",
            "apply",
            "environments/prod",
            "--auto-approve",
        ])
        .ok();
    let serials: Vec<u64> = run
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "state saved")
        .filter_map(|v| v["fields"]["serial"].as_u64())
        .collect();
    assert!(
        serials.len() >= 4,
        "one write per completed batch: {serials:?}"
    );
    assert!(
        serials.windows(2).all(|w| w[1] > w[0]),
        "strictly increasing: {serials:?}"
    );
    assert_eq!(serials[0], 1, "the first write of a new state");
    let last = *serials.last().unwrap();
    let serial = ws.state("prod")["serial"].as_u64().unwrap();
    assert!(
        serial >= last,
        "the state's serial {serial} is the last write's, or later"
    );
}
