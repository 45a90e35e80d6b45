//! The file formats: a version 1 state file written by the release before loads, is
//! upgraded and plans clean against the environment it came from; version 2 is what gets
//! written; a state file from a newer standby or a damaged one is refused, naming the file.
//! A saved plan reads back as the plan it was, and one of another version is refused.

use crate::dr_journal_fake::run;
use crate::support::proxy::Proxy;
use crate::support::workspace::Workspace;
use crate::support::Emulator;
use standby::config::{Role, VarInputs};
use standby::dr::{plan_promote, PromoteRequest};
use standby::environment::{Environment, PlanOptions};
use standby::plan::{load_plan, save_plan, Plan};
use standby::provider::fake::FakeProvider;
use standby::state::{Operation, RunOutcome, StepOutcome};
use std::path::Path;
use std::sync::Arc;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures/state_v1");

/// The fixture's spec and state, copied to `dir`.
fn copy_fixture(dir: &Path) -> Environment {
    let env_dir = dir.join("environments/prod");
    std::fs::create_dir_all(&env_dir).unwrap();
    std::fs::create_dir_all(dir.join("state")).unwrap();
    let from = Path::new(FIXTURE);
    std::fs::copy(
        from.join("environments/prod/main.hcl"),
        env_dir.join("main.hcl"),
    )
    .unwrap();
    std::fs::copy(from.join("state/prod.json"), dir.join("state/prod.json")).unwrap();
    Environment::load(&env_dir, &VarInputs::default()).unwrap_or_else(|d| panic!("{d}"))
}

#[tokio::test]
async fn a_version_1_state_loads_upgraded_and_plans_clean() {
    let dir = tempfile::tempdir().unwrap();
    let env = copy_fixture(dir.path());
    let raw: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&env.state_path).unwrap()).unwrap();
    assert_eq!(raw["format_version"], 1, "the fixture is a version 1 file");

    let state = env.read_state().await.unwrap().expect("the state loads");
    assert_eq!(state.lineage, raw["lineage"]);
    assert_eq!(state.roles["us-west-2"], Role::Primary);
    assert_eq!(state.roles["us-east-1"], Role::WarmStandby);
    assert_eq!(
        state.resources().len(),
        raw["resources"].as_array().unwrap().len()
    );
    let promote = &state.history()[0];
    assert_eq!(
        promote.operation,
        Operation::Promote {
            region: "us-west-2".into()
        }
    );
    assert_eq!(promote.outcome, RunOutcome::SUCCEEDED);
    assert!(promote.steps.iter().all(|s| s.outcome == StepOutcome::Done));
    assert_eq!(
        state.history()[1].operation,
        Operation::Rebuild {
            region: "us-east-1".into(),
            role: Role::WarmStandby
        }
    );

    // The environment it came from: what the state recorded is what the provider holds.
    let provider = FakeProvider::new();
    for o in state.resources() {
        provider.edit(o.address.as_str(), |slot| *slot = Some(o.clone()));
    }
    let opts = PlanOptions {
        refresh: true,
        ..Default::default()
    };
    let plan = env.plan(&provider, Some(&state), &opts).await.unwrap();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);

    // Its next write is version 2, and reads back as the same state.
    let mut store = env.open_state("test").await.unwrap();
    store.save().await.unwrap();
    store.release().await.unwrap();
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&env.state_path).unwrap()).unwrap();
    assert_eq!(written["format_version"], 2);
    assert_eq!(written["history"][0]["operation"], "promote us-west-2");
    let mut reread = env.read_state().await.unwrap().unwrap();
    assert_eq!(reread.serial, state.serial + 1);
    reread.serial = state.serial;
    assert_eq!(reread, state);
}

/// A workspace with the fixture's spec and `state` as its state file.
fn workspace_with_state(proxy: &Proxy, state: &str) -> Workspace {
    let ws = Workspace::new(proxy.env());
    let spec = std::fs::read_to_string(Path::new(FIXTURE).join("environments/prod/main.hcl"));
    ws.write("environments/prod/main.hcl", &spec.unwrap());
    ws.write("state/prod.json", state);
    ws
}

#[tokio::test]
async fn a_newer_or_damaged_state_is_refused_naming_the_file_before_any_request() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let v1 = std::fs::read_to_string(Path::new(FIXTURE).join("state/prod.json")).unwrap();
    let future = v1.replacen("\"format_version\": 1", "\"format_version\": 3", 1);
    assert_ne!(future, v1);
    let cases = [
        (
            future.as_str(),
            "has format version 3, newer than this standby understands (2): upgrade standby",
        ),
        ("{\"format_version\": 2, \"serial\": ", "is not valid"),
        (
            "{\"format_version\": 2, \"serial\": 1}",
            "is not valid: missing field `lineage`",
        ),
        ("[]", "is not valid"),
    ];
    for (text, says) in cases {
        let ws = workspace_with_state(&proxy, text);
        for args in [
            &["plan", "environments/prod"][..],
            &["state", "pull", "environments/prod"],
        ] {
            let run = ws.run(args);
            assert_eq!(run.code, 1, "{args:?} {text}\n{}", run.stderr);
            let file = ws.state_path("prod").display().to_string();
            assert!(
                run.stderr.contains(&format!("the state {file} {says}")),
                "{}",
                run.stderr
            );
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        }
    }
    assert_eq!(proxy.seen(), vec![], "no AWS request");
}

/// Saves `plan` to `dir` and loads it back: the same plan.
fn round_trip(plan: &Plan, dir: &Path) {
    let path = dir.join("saved.plan");
    save_plan(plan, &path).unwrap();
    let loaded = load_plan(&path).unwrap();
    assert_eq!(format!("{loaded:#?}"), format!("{plan:#?}"));
}

#[tokio::test]
async fn a_saved_plan_reads_back_as_it_was_made() {
    let dir = tempfile::tempdir().unwrap();
    let env = copy_fixture(dir.path());
    std::fs::remove_file(&env.state_path).unwrap();
    let provider = Arc::new(FakeProvider::new());
    let opts = PlanOptions {
        refresh: true,
        ..Default::default()
    };
    // Creates with bindings and references, from no state.
    let create = env.plan(&*provider, None, &opts).await.unwrap();
    assert!(create.actions.len() > 10);
    round_trip(&create, dir.path());
    assert!(run(&env, &provider, &create).await.succeeded());

    // A promote: updates, deletes and replaces with reasons, stages, a journal.
    provider.set_lag(
        "checkout-prod-orders-us-west-2",
        std::time::Duration::from_secs(2),
    );
    let state = env.read_state().await.unwrap().unwrap();
    let request = PromoteRequest {
        region: "us-west-2".into(),
        ..Default::default()
    };
    let promote = plan_promote(&env, &*provider, &state, &request)
        .await
        .unwrap()
        .plan;
    assert!(promote.journal.is_some() && !promote.stages.is_empty());
    let summary = promote.summary();
    assert!(
        summary.update > 0 && summary.delete > 0 && summary.replace > 0,
        "{summary:?}"
    );
    round_trip(&promote, dir.path());

    // Fence on return: the failed region's database writable again is a split brain and a
    // stop, an update with a reason.
    assert!(run(&env, &provider, &promote).await.succeeded());
    provider.edit("region.us-east-1.database.orders", |db| {
        let db = db.as_mut().expect("the old primary's database");
        db.attrs.insert("stopped".into(), false.into());
        db.computed.insert("status".into(), "available".into());
    });
    let state = env.read_state().await.unwrap().unwrap();
    let fence = env.plan(&*provider, Some(&state), &opts).await.unwrap();
    assert!(!fence.split_brain.is_empty(), "{fence:#?}");
    assert!(fence.actions.iter().any(|a| a.fences()), "{fence:#?}");
    round_trip(&fence, dir.path());
}

#[tokio::test]
async fn a_plan_file_of_another_version_or_damaged_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saved.plan");
    for (text, says) in [
        (
            r#"{"format_version": 2, "actions": "anything"}"#,
            "it has format version 2; this standby reads version 1: make the plan again",
        ),
        (
            r#"{"format_version": 1, "environment": "prod"}"#,
            "missing field",
        ),
        ("not json", "expected"),
    ] {
        std::fs::write(&path, text).unwrap();
        let err = format!("{:#}", load_plan(&path).unwrap_err());
        let named = format!("{} is not a standby plan file: ", path.display());
        assert!(err.starts_with(&named), "{err}");
        assert!(err.contains(says), "{err}");
    }
}
