//! Journaled DR operations against the in-memory provider: a promote or rebuild that stops
//! at any stage is finished by the same request, to the same end state as a run that never
//! stopped, with roles that are true at every save and one history entry.

use crate::support::specs::{replace_once, DR_WITHOUT_DATABASE};
use serde_json::Value;
use standby::apply::{apply, ApplyOptions, ApplyReport};
use standby::config::{Role, VarInputs};
use standby::dr::{plan_promote, plan_rebuild, PromoteRequest, RebuildRequest};
use standby::environment::{Environment, PlanOptions};
use standby::plan::Plan;
use standby::provider::fake::FakeProvider;
use standby::provider::Provider;
use standby::state::{Operation, RunOutcome, State, StepOutcome};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

const DATABASE: &str = r#"
database "orders" {
  engine          = "postgres"
  engine_version  = "16.3"
  instance_class  = "db.t3.micro"
  prevent_destroy = false
}
"#;

/// The DR spec without its database, with a warm standby at full capacity.
fn spec() -> String {
    replace_once(DR_WITHOUT_DATABASE, "  capacity = 0.5\n", "")
}

fn environment(dir: &Path, with_database: bool) -> Environment {
    let env_dir = dir.join("environments/prod");
    std::fs::create_dir_all(&env_dir).unwrap();
    let text = if with_database {
        format!("{}{DATABASE}", spec())
    } else {
        spec()
    };
    std::fs::write(env_dir.join("main.hcl"), text).unwrap();
    Environment::load(&env_dir, &VarInputs::default()).unwrap_or_else(|d| panic!("{d}"))
}

/// Applies `plan` to the fake under the environment's state lock.
pub(crate) async fn run(
    env: &Environment,
    provider: &Arc<FakeProvider>,
    plan: &Plan,
) -> ApplyReport {
    let mut store = env.open_state("test").await.unwrap();
    let (events, _rx) = mpsc::unbounded_channel();
    let (_cancel_tx, cancel) = watch::channel(false);
    let p: Arc<dyn Provider> = provider.clone();
    let opts = ApplyOptions {
        parallelism: 4,
        cancel,
        events,
    };
    apply(plan, p, &mut store, opts).await.unwrap()
}

async fn state(env: &Environment) -> State {
    env.read_state().await.unwrap().expect("a state")
}

/// An applied environment, with the replica's lag within the RPO.
async fn applied(dir: &Path, with_database: bool) -> (Environment, Arc<FakeProvider>) {
    let env = environment(dir, with_database);
    let provider = Arc::new(FakeProvider::new());
    let opts = PlanOptions {
        refresh: true,
        ..Default::default()
    };
    let plan = env.plan(&*provider, None, &opts).await.unwrap();
    assert!(run(&env, &provider, &plan).await.succeeded());
    provider.set_lag(
        "checkout-prod-orders-us-west-2",
        std::time::Duration::from_secs(2),
    );
    (env, provider)
}

fn promote_us_west_2() -> PromoteRequest {
    PromoteRequest {
        region: "us-west-2".into(),
        ..Default::default()
    }
}

async fn promote(env: &Environment, provider: &Arc<FakeProvider>) -> ApplyReport {
    let p = plan_promote(env, &**provider, &state(env).await, &promote_us_west_2())
        .await
        .unwrap();
    run(env, provider, &p.plan).await
}

/// What AWS holds, without the values AWS picks (ids, addresses).
fn layout(provider: &FakeProvider) -> BTreeMap<String, Value> {
    provider
        .all()
        .into_iter()
        .map(|o| {
            let mut attrs = o.attrs;
            attrs.remove("values");
            attrs.remove("ip_address");
            (o.address.to_string(), Value::Object(attrs))
        })
        .collect()
}

/// The same resources in a provider that no longer fails, as when the fault passes.
fn healed(provider: &FakeProvider) -> Arc<FakeProvider> {
    let healed = Arc::new(FakeProvider::new());
    for o in provider.all() {
        healed.edit(o.address.as_str(), |slot| *slot = Some(o.clone()));
    }
    healed
}

fn primaries(state: &State) -> usize {
    state
        .roles
        .values()
        .filter(|r| **r == Role::Primary)
        .count()
}

/// The layout and roles after an uninterrupted promote.
async fn reference() -> (BTreeMap<String, Value>, BTreeMap<String, Role>) {
    let dir = tempfile::tempdir().unwrap();
    let (env, provider) = applied(dir.path(), true).await;
    assert!(promote(&env, &provider).await.succeeded());
    (layout(&provider), state(&env).await.roles)
}

#[tokio::test]
async fn a_promote_stopped_at_any_stage_is_finished_by_the_same_request() {
    let (want_layout, want_roles) = reference().await;
    // One failing step per stage that can stop (DNS, stage 4, is best effort); the stage
    // numbers are promote's order: fence, database, replication, DNS, scale-up.
    let cases = [
        (
            "region.us-east-1.bucket.receipts.replication",
            1,
            "us-east-1",
            Role::Primary,
            "us-west-2",
            Role::WarmStandby,
        ),
        (
            "region.us-west-2.database.orders",
            2,
            "us-east-1",
            Role::Failed,
            "us-west-2",
            Role::WarmStandby,
        ),
        (
            "region.us-west-2.bucket.receipts.replication",
            3,
            "us-east-1",
            Role::Failed,
            "us-west-2",
            Role::Primary,
        ),
        // The scale-up comes last: replication and DNS are done when it fails.
        (
            "region.us-west-2.cluster.web.group",
            5,
            "us-east-1",
            Role::Failed,
            "us-west-2",
            Role::Primary,
        ),
    ];
    for (failing, stage, old, old_role, new, new_role) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (env, provider) = applied(dir.path(), true).await;
        provider.fail_on(failing);
        let stopped = promote(&env, &provider).await;
        assert!(!stopped.succeeded(), "{failing} stops the promote");

        let s = state(&env).await;
        let journal = s.journal.as_ref().expect("the journal stays");
        assert!(
            journal.note().starts_with(&format!(
                "promote us-west-2 was interrupted at stage {stage}/5"
            )),
            "{failing}: {}",
            journal.note()
        );
        assert_eq!(s.roles[old], old_role, "{failing}: roles are what is true");
        assert_eq!(s.roles[new], new_role, "{failing}");
        assert!(primaries(&s) <= 1, "{failing}: {:?}", s.roles);
        assert!(
            s.history()
                .iter()
                .all(|h| !matches!(h.operation, Operation::Promote { .. })),
            "no history entry until it is done"
        );
        let plan = env
            .plan(
                &*provider,
                Some(&s),
                &PlanOptions {
                    refresh: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(plan.notes[0], journal.note(), "plan shows it");

        let healed = healed(&provider);
        let resumed = plan_promote(&env, &*healed, &s, &promote_us_west_2())
            .await
            .unwrap();
        assert!(resumed.resumed);
        assert!(resumed.plan.notes[0].starts_with("resuming promote us-west-2"));
        assert!(run(&env, &healed, &resumed.plan).await.succeeded());

        let done = state(&env).await;
        assert!(done.journal.is_none());
        assert_eq!(done.roles, want_roles, "{failing}");
        assert_eq!(
            layout(&healed),
            want_layout,
            "{failing}: the same end state"
        );
        let entries: Vec<_> = done
            .history()
            .iter()
            .filter(|h| h.operation.to_string() == "promote us-west-2")
            .collect();
        assert_eq!(entries.len(), 1, "{failing}: one entry");
        let entry = entries[0];
        assert_eq!(entry.outcome, RunOutcome::SUCCEEDED);
        assert_eq!(entry.interruptions.len(), 1);
        assert!(
            entry.interruptions[0].reason.contains(failing),
            "{:?}",
            entry.interruptions
        );
        assert!(
            entry.steps.iter().any(|s| s.outcome == StepOutcome::Failed),
            "the steps of the run that stopped are kept"
        );
    }
}

#[tokio::test]
async fn a_dns_change_not_made_is_reported_as_such_and_the_promote_completes() {
    let dir = tempfile::tempdir().unwrap();
    let (env, provider) = applied(dir.path(), true).await;
    provider.fail_on("dns.api.record.us-west-2");
    let report = promote(&env, &provider).await;
    assert!(report.succeeded());
    assert_eq!(report.not_made.len(), 1);
    let s = state(&env).await;
    assert!(s.journal.is_none());
    let entry = s.history().last().unwrap();
    assert_eq!(entry.outcome, RunOutcome::Succeeded { not_made: 1 });
    let step = entry
        .steps
        .iter()
        .find(|st| st.name.ends_with("dns.api.record.us-west-2"))
        .unwrap();
    assert_eq!(step.outcome, StepOutcome::NotMade, "never reported as done");
    assert_eq!(entry.details["not_made"][0], "dns.api.record.us-west-2");
}

#[tokio::test]
async fn another_operation_is_refused_while_one_is_interrupted_unless_given_up() {
    let dir = tempfile::tempdir().unwrap();
    let (env, provider) = applied(dir.path(), true).await;
    provider.fail_on("region.us-west-2.cluster.web.group");
    assert!(!promote(&env, &provider).await.succeeded());
    let provider = healed(&provider);
    let s = state(&env).await;
    let rebuild = RebuildRequest {
        region: "eu-west-1".into(),
        role: Role::WarmStandby,
        assume_down: Default::default(),
        abandon_interrupted: false,
    };
    let err = plan_rebuild(&env, &*provider, &s, &rebuild)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("promote us-west-2 was interrupted at stage 5/5")
            && err.contains("run `standby promote us-west-2` to finish it first")
            && err.contains("--abandon-interrupted"),
        "{err}"
    );
    let given_up = RebuildRequest {
        abandon_interrupted: true,
        ..rebuild
    };
    let plan = plan_rebuild(&env, &*provider, &s, &given_up).await.unwrap();
    assert!(plan.notes[0].starts_with("giving up promote us-west-2"));
    assert!(run(&env, &provider, &plan).await.succeeded());
    let s = state(&env).await;
    assert!(s.journal.is_none());
    let outcomes: Vec<(String, String)> = s
        .history()
        .iter()
        .map(|h| (h.operation.to_string(), h.outcome.to_string()))
        .collect();
    let words = |o: &str, w: &str| (o.to_string(), w.to_string());
    assert_eq!(
        outcomes,
        [
            words("promote us-west-2", "abandoned"),
            words("rebuild eu-west-1 as warm-standby", "succeeded")
        ]
    );
    assert_eq!(s.roles["eu-west-1"], Role::WarmStandby);
    assert_eq!(
        s.roles["us-west-2"],
        Role::Primary,
        "the promote got that far"
    );
}

#[tokio::test]
async fn a_rebuild_stopped_part_way_is_finished_by_the_same_request() {
    let dir = tempfile::tempdir().unwrap();
    let (env, provider) = applied(dir.path(), true).await;
    assert!(promote(&env, &provider).await.succeeded());
    let rebuild = RebuildRequest {
        region: "us-east-1".into(),
        role: Role::WarmStandby,
        assume_down: Default::default(),
        abandon_interrupted: false,
    };
    provider.fail_on("dns.api.record.us-east-1");
    let plan = plan_rebuild(&env, &*provider, &state(&env).await, &rebuild)
        .await
        .unwrap();
    assert!(!run(&env, &provider, &plan).await.succeeded());
    let s = state(&env).await;
    assert_eq!(
        s.roles["us-east-1"],
        Role::WarmStandby,
        "its replica and clusters are up: the first stage is done"
    );
    assert!(s
        .journal
        .as_ref()
        .unwrap()
        .note()
        .contains("stage 3/3 (point DNS and bucket replication at us-east-1): run `standby rebuild us-east-1 --role warm-standby`"));

    let healed = healed(&provider);
    let plan = plan_rebuild(&env, &*healed, &s, &rebuild).await.unwrap();
    assert!(run(&env, &healed, &plan).await.succeeded());
    let s = state(&env).await;
    assert!(s.journal.is_none());
    let last = s.history().last().unwrap();
    assert_eq!(
        last.operation,
        Operation::Rebuild {
            region: "us-east-1".into(),
            role: Role::WarmStandby
        }
    );
    assert_eq!(last.interruptions.len(), 1);
    let clean = env
        .plan(
            &*healed,
            Some(&s),
            &PlanOptions {
                refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(clean.actions.is_empty(), "{:?}", clean.actions);
}

/// An apply that stopped at its second step leaves the standby without its network.
async fn applied_part_way(dir: &Path, with_database: bool) -> (Environment, Arc<FakeProvider>) {
    let env = environment(dir, with_database);
    let provider = Arc::new(FakeProvider::new());
    provider.fail_on("region.us-west-2.network.vpc");
    let opts = PlanOptions {
        refresh: true,
        ..Default::default()
    };
    let plan = env.plan(&*provider, None, &opts).await.unwrap();
    assert!(!run(&env, &provider, &plan).await.succeeded());
    (env, healed(&provider))
}

#[tokio::test]
async fn a_promote_after_an_apply_that_stopped_part_way_plans_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (env, provider) = applied_part_way(dir.path(), false).await;
    let p = plan_promote(&env, &*provider, &state(&env).await, &promote_us_west_2())
        .await
        .unwrap();
    assert!(run(&env, &provider, &p.plan).await.succeeded());
    let s = state(&env).await;
    assert_eq!(s.roles["us-west-2"], Role::Primary);
    assert!(s.journal.is_none());
}

#[tokio::test]
async fn a_promote_without_a_replica_is_refused_even_accepting_data_loss() {
    let dir = tempfile::tempdir().unwrap();
    let (env, provider) = applied_part_way(dir.path(), true).await;
    let req = PromoteRequest {
        accept_data_loss: true,
        ..promote_us_west_2()
    };
    let err = plan_promote(&env, &*provider, &state(&env).await, &req)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("region.us-west-2.database.orders has no read replica to promote")
            && err.contains("--accept-data-loss accepts replica lag, not an empty database")
            && err.contains("`standby rebuild us-west-2 --role warm-standby`")
            && err.contains("snapshot or a point in time"),
        "{err}"
    );
}
