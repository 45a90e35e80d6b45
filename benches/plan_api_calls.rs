//! API calls per instance and per managed resource during `plan` (a full refresh) at 2,000 instances, against
//! the moto emulator through the real SDK. Goal: at most 0.1.
//! Run: `cargo bench --bench plan_api_calls` (needs scripts/install-emulator first).

mod fleet;

use standby::environment::PlanOptions;
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
        emulator: _emulator,
    } = fleet::apply_fleet().await;
    let before = provider.request_count();
    let t = Instant::now();
    let again = env
        .plan(
            &*provider,
            Some(&state),
            &PlanOptions {
                refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let plan_secs = t.elapsed().as_secs_f64();
    let calls = provider.request_count() - before;
    assert!(
        again.actions.is_empty(),
        "a fresh apply plans clean: {:?}",
        again.actions.first()
    );
    let managed = state.resources().len();
    println!(
        "plan (full refresh) of {managed} managed resources ({instances} instances) against moto"
    );
    println!(
        "  {calls} API calls: {:.4} per instance (goal <= 0.1), {:.2} per managed resource",
        calls as f64 / instances as f64,
        calls as f64 / managed as f64
    );
    println!("  plan took {plan_secs:.2} s; the apply that created them took {apply_secs:.1} s");
}
