//! API calls per managed resource during `drift` (one full refresh, unmanaged resources
//! included) at 2,000 instances, against the moto emulator through the real SDK.
//! Goal: at most 0.1. Run: `cargo bench --bench drift_api_calls` (needs the emulator in
//! `.venv`, see scripts/test); the numbers go to BENCHMARKS.md, "drift".
//!
//! Invariant: drift reads only: the environment is applied once, then drift runs twice (the
//! second run after an out-of-band change, to show the count does not depend on drift).

mod fleet;

use standby::dr::{drift, DriftOptions};
use standby::provider::Provider;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let fleet::Applied {
        env,
        provider,
        state,
        instances,
        apply_secs,
        dir: _dir,
        emulator,
    } = fleet::apply_fleet().await;
    let managed = state.resources().len();

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
        "  clean:   {calls} API calls: {:.4} per instance (goal <= 0.1); {drift_secs:.2} s",
        calls as f64 / instances as f64
    );

    // The same count with drift present: the warm standby's group deleted out of band.
    let group = state
        .resources()
        .iter()
        .find(|r| r.address.as_str() == "region.us-west-2.cluster.web.group")
        .map(|r| r.id.clone())
        .unwrap();
    aws_sdk_autoscaling::Client::new(&emulator.sdk_config("us-west-2").await)
        .delete_auto_scaling_group()
        .auto_scaling_group_name(group)
        .force_delete(true)
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
    assert_eq!(drifted.summary().missing, 1);
    println!(
        "  drifted: {calls} API calls: {:.4} per instance; {drift_secs:.2} s ({} missing)",
        calls as f64 / instances as f64,
        drifted.summary().missing
    );
    println!("  the apply that created them took {apply_secs:.1} s");
}
