//! Every example in the README, held to the real binary: each HCL block validates (the spec
//! tour as written, the others added to it), the tour applies against the emulator and makes
//! exactly the listed addresses, every command and flag of the command table exists, every
//! JSON example's fields are in the document the command really prints, and every AWS call
//! of apply, status, drift and promote is allowed by the README's IAM policy.

use crate::support::proxy::Proxy;
use crate::support::workspace::{Run, Workspace};
use crate::support::Emulator;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

const README: &str = include_str!("../../README.md");

/// The README's fenced blocks: (info string, heading above it, body).
fn blocks() -> Vec<(&'static str, &'static str, String)> {
    let (mut out, mut heading, mut open) = (Vec::new(), "", None::<(&str, String)>);
    for line in README.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim(), String::new())),
            (Some(_), Some(_)) => {
                let (info, body) = open.take().unwrap();
                out.push((info, heading, body));
            }
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) if line.starts_with('#') => heading = line.trim_start_matches('#').trim(),
            (None, None) => {}
        }
    }
    out
}

fn block_under(heading: &str, info: &str) -> String {
    blocks()
        .into_iter()
        .find(|(i, h, _)| *i == info && *h == heading)
        .unwrap_or_else(|| panic!("the README has a ```{info} block under `{heading}`"))
        .2
}

fn tour() -> String {
    block_under("A tour of the spec language", "hcl")
}

/// A workspace with the tour (plus `extra`) as `environments/tour`, and its module.
fn tour_workspace(env: Vec<(String, String)>, extra: &str) -> Workspace {
    let ws = Workspace::new(env);
    ws.write(
        "environments/tour/main.hcl",
        &format!("{}\n{extra}", tour()),
    );
    let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("modules/worker-tier/main.hcl");
    ws.write(
        "modules/worker-tier/main.hcl",
        &std::fs::read_to_string(module).unwrap(),
    );
    ws
}

#[test]
fn every_hcl_block_of_the_readme_validates() {
    let hcl: Vec<_> = blocks().into_iter().filter(|(i, ..)| *i == "hcl").collect();
    assert!(hcl.len() >= 3, "hcl blocks: {}", hcl.len());
    for (_, heading, body) in hcl {
        // The tour is a whole spec; every other block is a part of one, shown in the tour.
        let extra = if body == tour() { String::new() } else { body };
        let ws = tour_workspace(Vec::new(), &extra);
        let run = ws.run(&["validate", "environments/tour"]);
        assert_eq!(
            run.code, 0,
            "the block under `{heading}`:\n{extra}\n{}",
            run.stderr
        );
    }
}

/// Each command of the table: its name, subcommands (for `state`) and the flags it lists.
fn command_table() -> Vec<(String, Vec<String>, BTreeSet<String>)> {
    let mut commands: Vec<(String, String)> = Vec::new();
    for line in block_under("The commands", "").lines() {
        match line.strip_prefix("standby ") {
            Some(rest) => {
                let name = rest.split_whitespace().next().unwrap().to_string();
                commands.push((name, rest.to_string()));
            }
            None => commands.last_mut().unwrap().1.push_str(line),
        }
    }
    commands
        .into_iter()
        .map(|(name, text)| {
            let subcommands = match name.as_str() {
                "state" => text[5..]
                    .split('|')
                    .filter_map(|s| s.split_whitespace().next().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            (name, subcommands, long_flags(&text))
        })
        .collect()
}

/// `--flag` words of `text` (`--refresh=false` gives `--refresh`), outside `code spans`
/// (which quote other commands).
fn long_flags(text: &str) -> BTreeSet<String> {
    let unquoted: String = text.split('`').step_by(2).collect();
    unquoted
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w[2..].starts_with(|c: char| c.is_ascii_lowercase()))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_command_and_flag_of_the_readme_exists() {
    let ws = Workspace::new(Vec::new());
    let table = command_table();
    assert!(table.len() >= 17, "commands in the table: {}", table.len());
    for (name, subcommands, flags) in table {
        let help = match subcommands.is_empty() {
            true => ws.run(&[&name, "--help"]).ok().stdout,
            false => subcommands
                .iter()
                .map(|s| ws.run(&[&name, s, "--help"]).ok().stdout)
                .collect(),
        };
        for flag in flags {
            assert!(
                help.contains(&flag),
                "`standby {name} --help` has no {flag}:\n{help}"
            );
        }
    }
    let global = README
        .split("Global flags:")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("the README lists the global flags");
    let retries = block_free_section("AWS calls: retries, timeouts, errors");
    let help = ws.run(&["--help"]).ok().stdout;
    assert!(ws.run(&["--version"]).ok().stdout.starts_with("standby "));
    for flag in long_flags(global).into_iter().chain(long_flags(&retries)) {
        assert!(help.contains(&flag), "`standby --help` has no {flag}");
    }
}

/// The README's text under `heading` up to the next heading.
fn block_free_section(heading: &str) -> String {
    let start = README
        .find(&format!("### {heading}"))
        .expect("the section exists");
    let rest = &README[start + heading.len() + 4..];
    rest[..rest.find("\n#").unwrap_or(rest.len())].to_string()
}

/// The JSON of a README example, without its `// ...` comments.
fn example_json(heading: &str) -> Value {
    let text: String = block_under(heading, "json")
        .lines()
        .map(|l| l.split("  //").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("the example under `{heading}`: {e}"))
}

/// Every field of `example` is in `real`, recursively (an example array element must match
/// some real element); scalars must have the same JSON type, or be null on either side.
fn fields_missing(example: &Value, real: &Value, path: &str) -> Vec<String> {
    match (example, real) {
        (Value::Object(e), Value::Object(r)) => e
            .iter()
            .flat_map(|(k, v)| match r.get(k) {
                Some(rv) => fields_missing(v, rv, &format!("{path}.{k}")),
                None => vec![format!("{path}.{k}")],
            })
            .collect(),
        (Value::Array(e), Value::Array(r)) if !r.is_empty() => e
            .iter()
            .enumerate()
            .filter(|(_, ev)| !r.iter().any(|rv| fields_missing(ev, rv, path).is_empty()))
            .map(|(i, _)| format!("{path}[{i}] (no element of the real array has its fields)"))
            .collect(),
        (Value::Array(_), Value::Array(_)) | (Value::Null, _) | (_, Value::Null) => Vec::new(),
        (e, r) if std::mem::discriminant(e) == std::mem::discriminant(r) => Vec::new(),
        (e, r) => vec![format!("{path}: example {e} but the command printed {r}")],
    }
}

fn json_of(run: Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[tokio::test]
async fn the_tour_makes_the_listed_addresses_documented_json_and_only_policy_calls() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let ws = tour_workspace(proxy.env(), "");
    let plan = json_of(ws.run(&["plan", "environments/tour", "--json"]).ok());
    assert_eq!(
        fields_missing(
            &example_json("Plan JSON (`plan --json`, format version 1)"),
            &plan,
            ""
        ),
        Vec::<String>::new()
    );
    ws.run(&["apply", "environments/tour", "--auto-approve"])
        .ok();

    let listed: BTreeSet<String> = ws
        .run(&["state", "list", "environments/tour"])
        .ok()
        .stdout
        .lines()
        .map(str::to_string)
        .collect();
    for address in block_under("Addresses", "").split_whitespace() {
        assert!(
            listed.contains(address),
            "{address} is not an address of the tour:\n{listed:#?}"
        );
    }

    let status = json_of(ws.run(&["status", "environments/tour", "--json"]).ok());
    assert_eq!(
        fields_missing(
            &example_json("Interrupted operations and how they resume"),
            &status,
            ""
        ),
        Vec::<String>::new()
    );
    let text = ws.run(&["status", "environments/tour"]).ok().stdout;
    let header = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("REGION"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    let example = block_under("Interrupted operations and how they resume", "");
    assert_eq!(
        header(&example),
        header(&text),
        "the status table's columns"
    );

    // Drift needs something drifted for its `resources` to show their fields.
    let s3 = emulator.s3("us-east-1").await;
    let state = ws.state("tour");
    let bucket = &state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "region.us-east-1.bucket.receipts")
        .unwrap()["id"];
    crate::support::aws::set_versioning(
        &s3,
        bucket.as_str().unwrap(),
        aws_sdk_s3::types::BucketVersioningStatus::Suspended,
    )
    .await;
    let run = ws.run(&["drift", "environments/tour", "--format", "json"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        fields_missing(&example_json("Drift"), &json_of(run), ""),
        Vec::<String>::new()
    );
    // The tour asks for a drill every 90 days and none ran: check exits 2.
    let run = ws.run(&["check", "environments/tour", "--format", "json"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        fields_missing(
            &example_json("Readiness: `standby check`"),
            &json_of(run),
            ""
        ),
        Vec::<String>::new()
    );
    ws.run(&[
        "promote",
        "us-west-2",
        "environments/tour",
        "--auto-approve",
    ])
    .ok();
    let policy = actions_of(&block_under("Running on real AWS", "json"));
    let missing: BTreeSet<String> = proxy
        .seen()
        .iter()
        .map(|seen| iam_action(&seen.service, &seen.operation))
        .filter(|action| !policy.contains(action))
        .collect();
    assert!(
        missing.is_empty(),
        "the README's IAM policy lacks {missing:?}"
    );
}

/// Every `Action` of an IAM policy document.
fn actions_of(policy: &str) -> BTreeSet<String> {
    let policy: Value = serde_json::from_str(policy).expect("the IAM policy is JSON");
    let statements = policy["Statement"].as_array().expect("a Statement list");
    statements
        .iter()
        .flat_map(|s| s["Action"].as_array().expect("an Action list").clone())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// The IAM action that authorizes a call as the test proxy names it (REST shapes for Route 53
/// and S3, from the service authorization reference).
fn iam_action(service: &str, operation: &str) -> String {
    let action = match (service, operation) {
        (
            "ec2"
            | "rds"
            | "iam"
            | "secretsmanager"
            | "sts"
            | "autoscaling"
            | "elasticloadbalancing"
            | "servicequotas",
            op,
        ) => return format!("{service}:{op}"),
        ("monitoring", op) => return format!("cloudwatch:{op}"),
        ("s3", "ListBuckets") => "s3:ListAllMyBuckets",
        ("s3", "PUT bucket") => "s3:CreateBucket",
        ("s3", "DELETE bucket") => "s3:DeleteBucket",
        ("s3", "GET bucket?location") => "s3:GetBucketLocation",
        ("s3", "GET bucket?versioning") => "s3:GetBucketVersioning",
        ("s3", "PUT bucket?versioning") => "s3:PutBucketVersioning",
        ("s3", "GET bucket?replication") => "s3:GetReplicationConfiguration",
        ("s3", "PUT bucket?replication" | "DELETE bucket?replication") => {
            "s3:PutReplicationConfiguration"
        }
        ("s3", "GET bucket?encryption") => "s3:GetEncryptionConfiguration",
        ("s3", "PUT bucket?encryption") => "s3:PutEncryptionConfiguration",
        ("s3", "GET bucket?publicAccessBlock") => "s3:GetBucketPublicAccessBlock",
        ("s3", "PUT bucket?publicAccessBlock") => "s3:PutBucketPublicAccessBlock",
        ("s3", "GET bucket?tagging") => "s3:GetBucketTagging",
        ("s3", "PUT bucket?tagging") => "s3:PutBucketTagging",
        ("s3", "GET bucket?versions") => "s3:ListBucketVersions",
        ("s3", "GetObject" | "HeadObject") => "s3:GetObject",
        ("s3", "PutObject") => "s3:PutObject",
        ("s3", "DeleteObject" | "DeleteObjects") => "s3:DeleteObject",
        ("route53", op) => return route53_action(op),
        _ => panic!("no IAM action known for {service} {operation}: add it here and to the README"),
    };
    action.to_string()
}

fn route53_action(op: &str) -> String {
    let path = op.split_once(' ').map_or("", |(_, p)| p);
    let action = match (
        op.split(' ').next().unwrap(),
        path.trim_start_matches("/2013-04-01/"),
    ) {
        ("GET", "hostedzone") => "ListHostedZones",
        ("POST", "hostedzone") => "CreateHostedZone",
        ("GET", "hostedzone/{id}") => "GetHostedZone",
        ("DELETE", "hostedzone/{id}") => "DeleteHostedZone",
        ("GET", "hostedzonesbyname") => "ListHostedZonesByName",
        ("GET", "hostedzone/{id}/rrset") => "ListResourceRecordSets",
        ("POST", "hostedzone/{id}/rrset") => "ChangeResourceRecordSets",
        ("GET", "change/{id}") => "GetChange",
        ("GET", "healthcheck") => "ListHealthChecks",
        ("POST", "healthcheck") => "CreateHealthCheck",
        ("GET", "healthcheck/{id}") => "GetHealthCheck",
        ("POST", "healthcheck/{id}") => "UpdateHealthCheck",
        ("DELETE", "healthcheck/{id}") => "DeleteHealthCheck",
        ("POST", "tags/healthcheck" | "tags/hostedzone") => "ListTagsForResources",
        ("POST", "tags/healthcheck/{id}" | "tags/hostedzone/{id}") => "ChangeTagsForResource",
        ("GET", "tags/healthcheck/{id}" | "tags/hostedzone/{id}") => "ListTagsForResource",
        ("GET", "testdnsanswer") => "TestDNSAnswer",
        _ => panic!("no IAM action known for route53 {op}: add it here and to the README"),
    };
    format!("route53:{action}")
}
