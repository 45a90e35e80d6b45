//! `drift` on the in-memory provider: a fresh apply reports nothing; each kind of out-of-band
//! change is reported once, by address; ignore rules and their expiry; roles as a note or as
//! drift; one refresh per drift; and snapshots of the text and Markdown reports.

use crate::support::specs::{API_DNS, REGIONS, SERVICE};
use serde_json::json;
use standby::apply::{apply, ApplyOptions};
use standby::config::{Role, VarInputs};
use standby::dr::{drift, DriftKind, DriftOptions, DriftReport};
use standby::environment::{Environment, PlanOptions};
use standby::provider::fake::FakeProvider;
use standby::provider::{Observed, Provider};
use standby::state::State;
use standby::topology::Kind;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// The workload after the service and its regions; `WEB_SIZE` is filled in.
const WORKLOAD: &str = r#"
cluster "web" {
  instance_type = "t3.micro"
  size          = WEB_SIZE
  image         = "ami-12c6146b"
  port          = 443
}

bucket "receipts" {}
"#;

fn spec() -> String {
    [SERVICE, REGIONS, WORKLOAD, API_DNS].concat()
}

/// Writes the spec (with `extra` appended) to `<dir>/environments/prod` and loads it.
fn env_with(dir: &Path, web_size: u32, extra: &str) -> Environment {
    let env_dir = dir.join("environments/prod");
    std::fs::create_dir_all(&env_dir).unwrap();
    let text = spec().replace("WEB_SIZE", &web_size.to_string());
    std::fs::write(env_dir.join("main.hcl"), format!("{text}\n{extra}")).unwrap();
    Environment::load(&env_dir, &VarInputs::default()).unwrap_or_else(|d| panic!("{d}"))
}

/// Plans and applies one at a time (so fake ids are deterministic); returns the state.
async fn apply_all(env: &Environment, provider: &Arc<FakeProvider>) -> State {
    let mut store = env.open_state("apply").await.unwrap();
    let state = store.exists().then(|| store.state().clone());
    let opts = PlanOptions {
        refresh: true,
        ..Default::default()
    };
    let plan = env.plan(&**provider, state.as_ref(), &opts).await.unwrap();
    let (events, _rx) = mpsc::unbounded_channel();
    let (_cancel_tx, cancel) = watch::channel(false);
    let p: Arc<dyn Provider> = provider.clone();
    let report = apply(
        &plan,
        p,
        &mut store,
        ApplyOptions {
            parallelism: 1,
            cancel,
            events,
        },
    )
    .await
    .unwrap();
    assert!(report.succeeded(), "{report:?}");
    store.state().clone()
}

async fn drift_of(env: &Environment, provider: &FakeProvider, state: &State) -> DriftReport {
    drift(env, provider, Some(state), &DriftOptions::default())
        .await
        .unwrap()
}

fn set_attr(provider: &FakeProvider, address: &str, key: &str, value: serde_json::Value) {
    provider.edit(address, |o| {
        o.as_mut()
            .expect("the resource exists")
            .attrs
            .insert(key.into(), value);
    });
}

fn unmanaged_instance(provider: &FakeProvider, id: &str) {
    let address = standby::provider::unmanaged_address(Kind::Instance, id);
    let observed = Observed {
        address: address.clone(),
        kind: Kind::Instance,
        region: Some("us-east-1".into()),
        id: id.into(),
        attrs: json!({"instance_type": "t3.large", "image": "ami-1", "zone": "us-east-1a"})
            .as_object()
            .unwrap()
            .clone(),
        computed: Default::default(),
        depends_on: vec![],
    };
    provider.edit(address.as_str(), |o| *o = Some(observed));
}

/// The out-of-band changes the emulator test makes too, on the fake.
fn break_everything(provider: &FakeProvider) {
    set_attr(
        provider,
        "region.us-east-1.cluster.web.launch_template",
        "instance_type",
        json!("t3.small"),
    );
    provider.edit("region.us-west-2.cluster.web.group", |o| *o = None);
    set_attr(
        provider,
        "region.us-east-1.bucket.receipts",
        "versioning",
        json!("Suspended"),
    );
    set_attr(
        provider,
        "dns.api.record.us-east-1",
        "alias_dns_name",
        json!("elsewhere.example"),
    );
    unmanaged_instance(provider, "i-0unmanaged");
}

/// Fake ids depend on creation order; snapshots show them as `fake-N`.
fn stable(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("fake-") {
        out.push_str(&rest[..i + 5]);
        rest = &rest[i + 5..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 {
            out.push('N');
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn a_fresh_apply_reports_no_drift_after_one_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_with(dir.path(), 2, "");
    let provider = Arc::new(FakeProvider::new());
    let state = apply_all(&env, &provider).await;
    let before = provider.request_count();
    let report = drift_of(&env, &provider, &state).await;
    assert_eq!(provider.request_count() - before, 1, "one batched refresh");
    assert!(!report.has_drift(), "{:#?}", report.drifted);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    assert_eq!(report.checked.len(), state.resources().len());
    insta::assert_snapshot!(standby::cli::drift::text(&report));
}

#[tokio::test]
async fn each_out_of_band_change_is_reported_by_address() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_with(dir.path(), 2, "");
    let provider = Arc::new(FakeProvider::new());
    let state = apply_all(&env, &provider).await;
    break_everything(&provider);
    let report = drift_of(&env, &provider, &state).await;
    let kind = |a: &str| report.get(a).map(|d| d.drift);
    assert_eq!(
        kind("region.us-east-1.cluster.web.launch_template"),
        Some(DriftKind::Changed)
    );
    assert_eq!(
        kind("region.us-west-2.cluster.web.group"),
        Some(DriftKind::Missing)
    );
    assert_eq!(
        kind("region.us-east-1.bucket.receipts"),
        Some(DriftKind::Changed)
    );
    assert_eq!(kind("dns.api.record.us-east-1"), Some(DriftKind::Changed));
    assert_eq!(
        kind("unmanaged.instance.i-0unmanaged"),
        Some(DriftKind::Unmanaged)
    );
    let versioning = &report
        .get("region.us-east-1.bucket.receipts")
        .unwrap()
        .changes;
    assert_eq!(versioning.len(), 1);
    assert_eq!(
        (&versioning[0].before, &versioning[0].after),
        (&json!("Enabled"), &json!("Suspended"))
    );
    assert_eq!(report.drifted.len(), 5, "{:#?}", report.drifted);
    insta::assert_snapshot!(
        "drift_text_report",
        stable(&standby::cli::drift::text(&report))
    );
    insta::assert_snapshot!(
        "drift_markdown_report",
        stable(&standby::cli::drift::markdown(&report))
    );
    insta::assert_snapshot!(
        "drift_json_report",
        stable(&standby::cli::drift::json(&report))
    );

    // The JUnit document names every managed resource, fails the drifted ones and adds the
    // unmanaged one.
    let junit = standby::cli::drift::junit(&report, &timing());
    assert_eq!(
        junit.matches("<testcase ").count(),
        report.checked.len() + 1
    );
    assert_eq!(junit.matches("<failure ").count(), 5);
    assert!(junit.contains("name=\"region.us-east-1.cluster.web.launch_template\""));
    assert!(junit.contains("name=\"unmanaged.instance.i-0unmanaged\""));
    insta::assert_snapshot!("drift_junit_report", stable(&junit));

    // apply converges everything but the unmanaged instance, which plans never touch.
    let state = apply_all(&env, &provider).await;
    let report = drift_of(&env, &provider, &state).await;
    let left: Vec<&str> = report.drifted.iter().map(|d| d.address.as_str()).collect();
    assert_eq!(left, ["unmanaged.instance.i-0unmanaged"]);
    provider.edit("unmanaged.instance.i-0unmanaged", |o| *o = None);
    assert!(!drift_of(&env, &provider, &state).await.has_drift());
}

#[tokio::test]
async fn a_record_must_alias_its_load_balancer() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_with(dir.path(), 2, "");
    let provider = Arc::new(FakeProvider::new());
    let state = apply_all(&env, &provider).await;
    // A load balancer made again out of band has a new DNS name; the record keeps the old one.
    provider.edit("region.us-east-1.cluster.web.load_balancer", |o| {
        o.as_mut()
            .unwrap()
            .computed
            .insert("dns_name".into(), json!("lb-new.us-east-1.elb.example"));
    });
    let report = drift_of(&env, &provider, &state).await;
    let record = report
        .get("dns.api.record.us-east-1")
        .expect("record drift");
    assert_eq!(record.changes[0].key, "alias_dns_name");
    let change = &record.changes[0];
    assert!(
        [&change.before, &change.after].contains(&&json!("lb-new.us-east-1.elb.example")),
        "{change:?}"
    );
    assert!(
        report
            .get("region.us-east-1.cluster.web.load_balancer")
            .is_none(),
        "a DNS name is not a managed attribute"
    );
}

#[tokio::test]
async fn what_the_spec_asks_for_and_aws_lacks_is_not_applied() {
    let dir = tempfile::tempdir().unwrap();
    let provider = Arc::new(FakeProvider::new());
    let state = apply_all(&env_with(dir.path(), 2, ""), &provider).await;
    let bigger = env_with(dir.path(), 3, "");
    let report = drift_of(&bigger, &provider, &state).await;
    let group = report
        .get("region.us-east-1.cluster.web.group")
        .expect("the larger group");
    assert_eq!(group.drift, DriftKind::NotApplied);
    assert!(group.id.is_some(), "the group exists, at its old size");
    assert!(group
        .changes
        .iter()
        .any(|c| c.key == "desired" && c.after == json!(3)));
    // Nothing live changed: everything drifted is only not applied yet.
    assert_eq!(
        report
            .drifted
            .iter()
            .filter(|d| d.drift != DriftKind::NotApplied)
            .count(),
        0,
        "{:#?}",
        report.drifted
    );
}

#[tokio::test]
async fn ignore_rules_suppress_until_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let rules = r#"
drift {
  ignore "region.us-east-1.cluster.web" {
    attributes = ["instance_type"]
    reason     = "autoscaling experiments"
    until      = "2030-12-31"
  }
  ignore "region.us-east-1.bucket.receipts" {
    reason = "versioning trial"
    until  = "2020-01-31"
  }
  ignore "unmanaged.instance" {
    reason = "the load tester's instances"
  }
}
"#;
    let env = env_with(dir.path(), 2, rules);
    let provider = Arc::new(FakeProvider::new());
    let state = apply_all(&env, &provider).await;
    break_everything(&provider);
    let opts = DriftOptions {
        today: Some(time::macros::date!(2025 - 06 - 01)),
        ..Default::default()
    };
    let report = drift(&env, &*provider, Some(&state), &opts).await.unwrap();
    assert!(report
        .get("region.us-east-1.cluster.web.launch_template")
        .is_none());
    assert!(report.get("unmanaged.instance.i-0unmanaged").is_none());
    assert_eq!(
        report
            .get("region.us-east-1.bucket.receipts")
            .map(|d| d.drift),
        Some(DriftKind::Changed),
        "the expired rule no longer applies"
    );
    assert!(report.notes.contains(
        &"ignore rule for region.us-east-1.bucket.receipts expired on 2020-01-31: its drift is reported again"
            .to_string()
    ));
    let ignored: Vec<(&str, Vec<String>)> = report
        .ignored
        .iter()
        .map(|i| (i.address.as_str(), i.keys.clone()))
        .collect();
    assert_eq!(
        ignored,
        [
            (
                "region.us-east-1.cluster.web.launch_template",
                vec!["instance_type".to_string()]
            ),
            ("unmanaged.instance.i-0unmanaged", vec![])
        ]
    );
    // A rule limited to attributes does not hide a missing resource.
    assert_eq!(
        report
            .get("region.us-west-2.cluster.web.group")
            .map(|d| d.drift),
        Some(DriftKind::Missing)
    );
    assert!(report.has_drift());
    insta::assert_snapshot!(
        "drift_json_ignored",
        stable(&standby::cli::drift::json(&report))
    );
}

#[tokio::test]
async fn roles_that_differ_from_the_spec_are_a_note_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    // Without components every role gets the same network, so only the roles differ.
    let env_dir = dir.path().join("environments/prod");
    std::fs::create_dir_all(&env_dir).unwrap();
    let spec = [SERVICE, REGIONS].concat();
    std::fs::write(env_dir.join("main.hcl"), spec).unwrap();
    let env = Environment::load(&env_dir, &VarInputs::default()).unwrap();
    let provider = Arc::new(FakeProvider::new());
    let mut state = apply_all(&env, &provider).await;
    state.roles.insert("us-east-1".into(), Role::Failed);
    state.roles.insert("us-west-2".into(), Role::Primary);

    let report = drift_of(&env, &provider, &state).await;
    assert!(!report.has_drift(), "{:#?}", report.drifted);
    assert_eq!(report.role_differences.len(), 2);
    assert!(report.notes[0]
        .starts_with("region us-east-1 is failed in the state but primary in the spec"));

    let opts = DriftOptions {
        roles_as_drift: true,
        ..Default::default()
    };
    let counted = drift(&env, &*provider, Some(&state), &opts).await.unwrap();
    assert!(counted.has_drift());
    assert_eq!(counted.summary().roles, 2);
    insta::assert_snapshot!("drift_json_roles", standby::cli::drift::json(&counted));
    assert!(standby::cli::drift::junit(&counted, &timing()).contains("name=\"region.us-west-2\""));
}

#[tokio::test]
async fn junit_escapes_what_it_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_with(dir.path(), 1, "");
    let provider = Arc::new(FakeProvider::new());
    let state = apply_all(&env, &provider).await;
    unmanaged_instance(&provider, "i-<evil>&\"'");
    let junit = standby::cli::drift::junit(&drift_of(&env, &provider, &state).await, &timing());
    assert!(junit.contains("name=\"unmanaged.instance.i-&lt;evil&gt;&amp;&quot;&apos;\""));
    assert!(!junit.contains("<evil>"));
}

#[test]
fn ignore_rules_may_name_every_attribute_standby_manages() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_with(dir.path(), 2, "database \"orders\" {\n  engine = \"postgres\"\n  engine_version = \"16.3\"\n  instance_class = \"db.t3.micro\"\n  storage_gb = 20\n}\n");
    let roles = env.roles(None);
    for d in env.desired(&roles).unwrap() {
        for key in d.attrs.keys().chain(d.bindings.keys()) {
            assert!(
                standby::topology::ATTRIBUTE_KEYS.contains(&key.as_str()),
                "{key} of {} is missing from ATTRIBUTE_KEYS",
                d.address
            );
        }
    }
}

fn timing() -> standby::cli::drift::Timing {
    standby::cli::drift::Timing {
        started_at: "2026-01-02T03:04:05".into(),
        elapsed: std::time::Duration::from_millis(1250),
    }
}

/// A tag changed in AWS is drift of `tags`, shown as that tag; a tag somebody else added is
/// not drift; a record whose load balancer changed shows its one alias change.
#[tokio::test]
async fn drift_shows_the_one_tag_and_the_one_alias_that_changed() {
    let dir = tempfile::tempdir().unwrap();
    let env_dir = dir.path().join("environments/prod");
    std::fs::create_dir_all(&env_dir).unwrap();
    let text = spec().replace("WEB_SIZE", "20").replace(
        "rpo = \"5m\"",
        "rpo = \"5m\"\n  tags = { team = \"payments\" }",
    );
    std::fs::write(env_dir.join("main.hcl"), text).unwrap();
    let env = Environment::load(&env_dir, &VarInputs::default()).unwrap_or_else(|d| panic!("{d}"));
    let provider = Arc::new(FakeProvider::new());
    let state = apply_all(&env, &provider).await;
    provider.edit("region.us-east-1.network.vpc", |o| {
        let tags = o.as_mut().unwrap().attrs.get_mut("tags").unwrap();
        let tags = tags.as_object_mut().unwrap();
        tags.insert("team".into(), json!("growth"));
        tags.insert("owner".into(), json!("ops"));
    });
    provider.edit("region.us-east-1.cluster.web.load_balancer", |o| {
        o.as_mut()
            .unwrap()
            .computed
            .insert("dns_name".into(), json!("lb-new.us-east-1.elb.example"));
    });
    let report = drift_of(&env, &provider, &state).await;
    let vpc = report
        .get("region.us-east-1.network.vpc")
        .expect("tag drift");
    assert_eq!(vpc.changes.len(), 1);
    assert_eq!(
        (&vpc.changes[0].before, &vpc.changes[0].after),
        (&json!({"team": "payments"}), &json!({"team": "growth"})),
        "a tag standby never set is not compared"
    );
    assert!(report.get("dns.api.record.us-east-1").is_some());
    insta::assert_snapshot!(
        "drift_one_tag_one_alias_text",
        stable(&standby::cli::drift::text(&report))
    );
    insta::assert_snapshot!(
        "drift_one_tag_one_alias_markdown",
        stable(&standby::cli::drift::markdown(&report))
    );
}
