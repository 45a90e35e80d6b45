//! Commands run while the project's proxy answers a share of requests with a 500 or a
//! throttling error (alternately, in each protocol's error shape, seeded per run).

use crate::world::{World, ENV};

pub const COMMANDS: [&str; 4] = ["apply", "plan", "drift", "promote"];

fn args(command: &str) -> Vec<&'static str> {
    match command {
        "apply" => vec!["apply", ENV, "--auto-approve"],
        "plan" => vec!["plan", ENV, "--detailed-exitcode"],
        "drift" => vec!["drift", ENV],
        _ => vec!["promote", "us-west-2", ENV, "--auto-approve"],
    }
}

/// One run of `command` at `rate`: `Ok(requests failed on purpose)` when it completed (and,
/// for apply and promote, a fault-free plan afterwards is clean), else what went wrong.
pub fn run(command: &str, rate: f64, seed: u64) -> Result<usize, String> {
    let w = World::new(true);
    let proxy = w.proxy.as_ref().expect("a proxied world");
    if command != "apply" {
        let setup = w.run(&args("apply"));
        if !setup.ok() {
            return Err(format!("setup apply: {}", setup.cause()));
        }
    }
    proxy.inject_failures(rate, seed);
    let out = w.run(&args(command));
    let injected = proxy.injected_count();
    proxy.inject_failures(0.0, 0);
    if !out.ok() {
        return Err(format!("{} ({injected} injected)", out.cause()));
    }
    if matches!(command, "apply" | "promote") {
        let plan = w.run(&args("plan"));
        if !plan.ok() {
            return Err(format!("completed, then plan: {}", plan.cause()));
        }
    }
    Ok(injected)
}
