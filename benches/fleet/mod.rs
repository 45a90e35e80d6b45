//! Bench support: the 2,000-instance environment the API-call benches measure (a primary of
//! 1,600 and a warm standby of 400, capacity 0.25, plus a cold standby and a bucket), applied
//! once against a fresh moto emulator through the real SDK.
//!
//! Invariant: `apply_fleet` returns only after a successful apply whose Auto Scaling groups
//! run exactly `INSTANCES` instances; it has made no call the benches count afterwards (they
//! read `provider.request_count()` before and after what they measure). The returned value
//! owns the emulator and the temporary directory, so both live as long as it does.
//! Included with `mod fleet;`; the emulator comes from the `standby-emulator` crate the
//! integration tests share.

use standby::apply::{apply, ApplyOptions};
use standby::config::VarInputs;
use standby::environment::{Environment, PlanOptions};
use standby::provider::aws::AwsProvider;
use standby::provider::Provider;
use standby::state::State;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch};

use standby_emulator::Emulator;

pub const INSTANCES: usize = 2000;

/// A primary of 1,600 and a warm standby of 400 (capacity 0.25): 2,000 instances.
pub const SPEC: &str = r#"
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
  size          = 1600
  image         = "ami-12c6146b"
  port          = 443
}
bucket "assets" {}
"#;

/// The applied environment and what measuring it needs.
pub struct Applied {
    pub env: Environment,
    pub provider: Arc<AwsProvider>,
    /// The state after the apply.
    pub state: State,
    /// Instances the state's groups run: always `INSTANCES`.
    pub instances: usize,
    /// How long the apply (its plan included) took.
    pub apply_secs: f64,
    /// Holds the environment's files: keep it bound as long as `env` is used.
    pub dir: tempfile::TempDir,
    /// Keep it bound as long as `provider` is used.
    pub emulator: Emulator,
}

/// Starts an emulator, writes `SPEC` and applies it with a parallelism of 16.
pub async fn apply_fleet() -> Applied {
    let emulator = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let env_dir = dir.path().join("environments/bench");
    std::fs::create_dir_all(&env_dir).unwrap();
    std::fs::write(env_dir.join("main.hcl"), SPEC).unwrap();

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
    let instances: usize = state
        .resources()
        .iter()
        .filter(|r| r.kind == standby::topology::Kind::AutoScalingGroup)
        .map(|r| r.computed["in_service"].as_u64().unwrap() as usize)
        .sum();
    assert_eq!(instances, INSTANCES);
    Applied {
        env,
        provider,
        state,
        instances,
        apply_secs,
        dir,
        emulator,
    }
}
