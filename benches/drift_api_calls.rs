//! API calls per managed resource during `drift` (one full refresh, unmanaged resources
//! included) at 1,000 instances, against the moto emulator through the real SDK.
//! Goal: at most 0.1. Run: `cargo bench --bench drift_api_calls` (needs the emulator in
//! `.venv`, see scripts/test); the numbers go to BENCHMARKS.md, "drift".
//!
//! Invariant: drift reads only: the environment is applied once, then drift runs twice (the
//! second run after an out-of-band change, to show the count does not depend on drift).

#[path = "../tests/support/mod.rs"]
mod support;

use standby::apply::{apply, ApplyOptions};
use standby::config::VarInputs;
use standby::dr::{drift, DriftOptions};
use standby::environment::{Environment, PlanOptions};
use standby::provider::aws::AwsProvider;
use standby::provider::Provider;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch};

const INSTANCES: usize = 1000;

#[tokio::main]
async fn main() {
    let emulator = support::Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let env_dir = dir.path().join("environments/bench");
    std::fs::create_dir_all(&env_dir).unwrap();
    // A primary of 800 and a warm standby of 200 (capacity 0.25): 1,000 instances.
    std::fs::write(
        env_dir.join("main.hcl"),
        r#"
service "bench" {
  rto = "15m"
  rpo = "5m"
}
region "us-east-1" {
  role = "primary"
  cidr = "10.0.0.0/16"
}
region "us-west-2" {
  role     = "warm-standby"
  cidr     = "10.1.0.0/16"
  capacity = 0.25
}
region "eu-west-1" {
  role = "cold-standby"
  cidr = "10.2.0.0/16"
}
cluster "web" {
  instance_type = "t3.micro"
  size          = 800
  image         = "ami-12c6146b"
  port          = 443
}
bucket "assets" {}
"#,
    )
    .unwrap();

    let env = Environment::load(&env_dir, &VarInputs::default()).unwrap();
    let provider = Arc::new(
        AwsProvider::with_endpoint(&emulator.endpoint())
            .await
            .unwrap(),
    );
    let mut store = env.open_state("apply").await.unwrap();
    let t = Instant::now();
    let plan = env
        .plan(
            &*provider,
            None,
            &PlanOptions {
                refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (events, _rx) = mpsc::unbounded_channel();
    let (_tx, cancel) = watch::channel(false);
    let p: Arc<dyn Provider> = provider.clone();
    let report = apply(
        &plan,
        p,
        &mut store,
        ApplyOptions {
            parallelism: 16,
            cancel,
            events,
        },
    )
    .await
    .unwrap();
    assert!(report.succeeded(), "{report:?}");
    let apply_secs = t.elapsed().as_secs_f64();
    let state = store.state().clone();
    drop(store);
    let instances = state
        .resources
        .iter()
        .filter(|r| r.address.as_str().contains(".instance["))
        .count();
    assert_eq!(instances, INSTANCES);
    let managed = state.resources.len();

    let before = provider.request_count();
    let t = Instant::now();
    let clean = drift(&env, &*provider, Some(&state), &DriftOptions::default())
        .await
        .unwrap();
    let drift_secs = t.elapsed().as_secs_f64();
    let calls = provider.request_count() - before;
    assert!(
        !clean.has_drift(),
        "a fresh apply has no drift: {:?}",
        clean.drifted.first()
    );
    assert_eq!(clean.checked.len(), managed);
    println!("drift of {managed} managed resources ({instances} instances) against moto");
    println!(
        "  clean:   {calls} API calls: {:.4} calls per managed resource (goal <= 0.1); {drift_secs:.2} s",
        calls as f64 / managed as f64
    );

    // The same count with drift present: terminate ten instances out of band.
    let ec2 = emulator.ec2("us-east-1").await;
    let ids: Vec<String> = state
        .resources
        .iter()
        .filter(|r| {
            r.address
                .as_str()
                .starts_with("region.us-east-1.cluster.web.instance[")
        })
        .take(10)
        .map(|r| r.id.clone())
        .collect();
    ec2.terminate_instances()
        .set_instance_ids(Some(ids))
        .send()
        .await
        .unwrap();
    let before = provider.request_count();
    let t = Instant::now();
    let drifted = drift(&env, &*provider, Some(&state), &DriftOptions::default())
        .await
        .unwrap();
    let drift_secs = t.elapsed().as_secs_f64();
    let calls = provider.request_count() - before;
    assert_eq!(drifted.summary().missing, 10);
    println!(
        "  drifted: {calls} API calls: {:.4} calls per managed resource; {drift_secs:.2} s ({} missing)",
        calls as f64 / managed as f64,
        drifted.summary().missing
    );
    println!("  the apply that created them took {apply_secs:.1} s");
}
