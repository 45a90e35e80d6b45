//! The request counts benches/vs_terraform measures against Terraform, kept loosely by the
//! suite: on environments/demo, a no-op plan and a drift check each stay within a fixed
//! budget of API requests (Terraform's no-op plan of the same layout makes about 210), so a
//! per-resource read that slips in is caught here rather than in the next benchmark run.

use crate::support::proxy::Proxy;
use crate::support::workspace::Workspace;
use crate::support::Emulator;

/// One batched describe per (service, region, kind) plus the per-bucket settings: 46 on
/// the demo layout today. The margin leaves room for a new kind, not for a read per resource.
const BUDGET: usize = 64;

fn demo(ws: &Workspace) {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for rel in ["environments/demo/main.hcl", "modules/worker-tier/main.hcl"] {
        ws.write(rel, &std::fs::read_to_string(repo.join(rel)).expect(rel));
    }
}

#[test]
fn a_no_op_plan_and_a_drift_check_of_the_demo_stay_within_the_request_budget() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let ws = Workspace::new(proxy.env());
    demo(&ws);
    ws.run(&["apply", "environments/demo", "--auto-approve"])
        .ok();
    let managed = ws
        .run(&["state", "list", "environments/demo"])
        .ok()
        .stdout
        .lines()
        .count();

    for args in [
        &["plan", "environments/demo", "--detailed-exitcode"][..],
        &["drift", "environments/demo"][..],
    ] {
        proxy.clear();
        ws.run(args).ok();
        let requests = proxy.seen().len();
        assert!(
            requests <= BUDGET,
            "{args:?} made {requests} requests for {managed} resources (budget {BUDGET}): {:#?}",
            proxy.seen()
        );
    }
}
