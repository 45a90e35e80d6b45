//! Time and peak memory of an offline plan (`plan --refresh=false`) at about 10,000
//! resources: load and evaluate the spec, expand it by role, read the state, diff.
//! Goal: at most 0.5 s and 150 MB. Run: `cargo bench --bench offline_plan`.

use standby::config::VarInputs;
use standby::environment::{Environment, PlanOptions};
use standby::provider::Observed;
use standby::state::StateStore;
use std::time::Instant;

const CLUSTERS: usize = 13;
const SIZE: usize = 500;

fn spec() -> String {
    let mut s = String::from(
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
  role = "warm-standby"
  cidr = "10.1.0.0/16"
}
region "eu-west-1" {
  role = "cold-standby"
  cidr = "10.2.0.0/16"
}
bucket "assets" {}
"#,
    );
    for i in 0..CLUSTERS {
        s.push_str(&format!(
            "cluster \"c{i}\" {{\n  instance_type = \"m6i.large\"\n  size = {SIZE}\n  image = \"ami-12c6146b\"\n  port = {}\n}}\n",
            8000 + i
        ));
    }
    s
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() {
    // The measurement runs in a child process so that its peak memory is its own.
    if let Ok(env_dir) = std::env::var("STANDBY_BENCH_ENV") {
        measure(std::path::Path::new(&env_dir));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let env_dir = dir.path().join("environments/bench");
    std::fs::create_dir_all(&env_dir).unwrap();
    std::fs::write(env_dir.join("main.hcl"), spec()).unwrap();

    // Seed a state as if everything had been applied, with one resource changed.
    {
        let env = Environment::load(&env_dir, &VarInputs::default()).unwrap();
        let desired = env.desired(&env.roles(None)).unwrap();
        let mut store = StateStore::open(&env.state_path, &env.spec.environment, "bench").unwrap();
        let mut resources: Vec<Observed> = desired
            .iter()
            .map(|d| Observed {
                address: d.address.clone(),
                kind: d.kind,
                region: d.region.clone(),
                id: format!("id-{}", d.name),
                attrs: d.attrs.clone(),
                computed: serde_json::Map::from_iter([(
                    "private_ip".to_string(),
                    "10.0.0.1".into(),
                )]),
                depends_on: d.dependencies().cloned().collect(),
            })
            .collect();
        resources.pop();
        store.state_mut().set_resources(resources);
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(store.save())
            .unwrap();
    }
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .env("STANDBY_BENCH_ENV", &env_dir)
        .status()
        .unwrap();
    assert!(status.success());
}

fn measure(env_dir: &std::path::Path) {
    let mut times = Vec::new();
    let mut resources = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let env = Environment::load(env_dir, &VarInputs::default()).unwrap();
        let state = StateStore::read(&env.state_path).unwrap();
        let roles = env.roles(state.as_ref());
        let desired = env.desired(&roles).unwrap();
        let prior = state
            .as_ref()
            .map(|s| s.resources().to_vec())
            .unwrap_or_default();
        let plan = env
            .plan_against(
                state.as_ref(),
                roles,
                &desired,
                prior,
                &PlanOptions::default(),
            )
            .unwrap();
        times.push(t.elapsed().as_secs_f64());
        assert_eq!(
            plan.actions.len(),
            1,
            "one resource was left out of the state"
        );
        resources = desired.len();
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("offline plan at {resources} resources (load, evaluate, expand, read state, diff)");
    println!(
        "  median {:.3} s, best {:.3} s, worst {:.3} s (goal <= 0.5 s)",
        times[2], times[0], times[4]
    );
    println!("  peak memory {:.1} MB (goal <= 150 MB)", peak_rss_mb());
}
