//! `check`'s practice rows on the in-memory provider, at chosen times: a drill within
//! `drill_every` is ready, the same drill once older is not, a region never drilled is not;
//! what the fake provider cannot read is unknown, never ready.

use crate::engine_fake::{env, refreshing, run};
use standby::check::{check, Check, CheckOptions, CheckReport, Measure, Unknown, Verdict};
use standby::provider::fake::FakeProvider;
use standby::state::{HistoryEntry, Operation, StateStore};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const DAY: u64 = 86_400;

fn at(rfc3339: &str) -> SystemTime {
    humantime::parse_rfc3339(rfc3339).unwrap()
}

fn practice<'a>(r: &'a CheckReport, region: &str, c: &Check) -> &'a standby::check::CheckRow {
    r.rows
        .iter()
        .find(|x| x.region == region && x.check == *c)
        .unwrap_or_else(|| panic!("{region} {c:?}: {r:#?}"))
}

#[tokio::test]
async fn a_drill_is_ready_within_drill_every_and_not_once_older() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = env(dir.path(), 4);
    env.spec.service.drill_every = Some(Duration::from_secs(90 * DAY));
    let provider = Arc::new(FakeProvider::new());
    run(&env, provider.clone(), refreshing()).await;
    let mut state = StateStore::read(&env.state_path).unwrap().unwrap();
    state.record(HistoryEntry {
        operation: Operation::Drill {
            region: "us-west-2".into(),
        },
        user: "test".into(),
        host: "test".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        duration_ms: 400_000,
        outcome: standby::state::RunOutcome::Met,
        steps: Vec::new(),
        details: serde_json::json!({ "recovery_time_s": 300.0 }),
        interruptions: Vec::new(),
        state_replica: None,
    });
    let check_at = |now: &str| {
        let opts = CheckOptions {
            regions: Vec::new(),
            now: Some(at(now)),
        };
        let (env, provider, state) = (&env, provider.clone(), state.clone());
        async move { check(env, &*provider, Some(&state), &opts).await.unwrap() }
    };

    let recent = check_at("2026-03-01T00:00:00Z").await;
    let drilled = practice(&recent, "us-west-2", &Check::LastDrill);
    assert_eq!(drilled.verdict, Verdict::Ready);
    assert_eq!(drilled.measured, Measure::Seconds((59 * DAY) as f64));
    assert_eq!(drilled.threshold, Measure::Seconds((90 * DAY) as f64));
    assert_eq!(
        practice(&recent, "us-west-2", &Check::DrillRecovery).verdict,
        Verdict::Ready
    );
    let never = practice(&recent, "eu-west-1", &Check::LastDrill);
    assert_eq!(
        (never.verdict, &never.measured),
        (Verdict::NotReady, &Measure::None)
    );
    assert!(
        !recent.rows.iter().any(|x| x.region == "us-east-1"),
        "the primary is no standby"
    );

    let late = check_at("2026-06-01T00:00:00Z").await;
    let stale = practice(&late, "us-west-2", &Check::LastDrill);
    assert_eq!(stale.verdict, Verdict::NotReady);
    assert_eq!(stale.measured, Measure::Seconds((151 * DAY) as f64));
    assert!(!late.ready(false));

    // The fake cannot tell capacity: unknown, with the reason, never ready.
    let capacity: Vec<_> = late
        .rows
        .iter()
        .filter(|x| matches!(x.check, Check::Capacity { .. }))
        .collect();
    assert!(!capacity.is_empty());
    assert!(capacity
        .iter()
        .all(|x| x.verdict == Verdict::Unknown && x.unknown == Some(Unknown::NotAvailable)));
}

#[tokio::test]
async fn check_refuses_a_region_that_is_not_a_standby() {
    let dir = tempfile::tempdir().unwrap();
    let env = env(dir.path(), 4);
    let provider = FakeProvider::new();
    let opts = CheckOptions {
        regions: vec!["us-east-1".into()],
        now: None,
    };
    let err = check(&env, &provider, None, &opts).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "region us-east-1 is primary, not a standby: check reads standbys only; leave out --region us-east-1"
    );
}
