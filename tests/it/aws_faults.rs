//! An unreliable hour, through the project's test proxy: with 30 % of requests answered 500
//! or throttled (seeded), apply, plan, drift and promote complete on the SDK's retries; with a
//! region black-holed, promote fails within the configured timeout, names the region and
//! says to pass `--assume-down`. Results are read back from the emulator.

use crate::support::aws::{primary_record, publish_lag, running_public_ips};
use crate::support::proxy::Proxy;
use crate::support::specs::{replace_once, DR};
use crate::support::workspace::{Run, Workspace};
use crate::support::Emulator;
use std::time::{Duration, Instant};

/// The DR spec with a web cluster of two.
fn spec() -> String {
    replace_once(DR, "size  = 4", "size  = 2")
}

/// Runs a command and prints how long it took and how many failures were injected meanwhile.
fn timed(ws: &Workspace, proxy: &Proxy, args: &[&str]) -> Run {
    let (started, injected) = (Instant::now(), proxy.injected_count());
    let run = ws.run(args);
    println!(
        "{}: exit {} after {:?}, {} injected failures",
        args.join(" "),
        run.code,
        started.elapsed(),
        proxy.injected_count() - injected
    );
    run
}

#[tokio::test]
async fn apply_plan_drift_and_promote_complete_with_30_percent_of_requests_failing() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let ws = Workspace::new(proxy.env());
    ws.write("environments/prod/main.hcl", &spec());
    proxy.inject_failures(0.3, 20_261_130);

    timed(
        &ws,
        &proxy,
        &["apply", "environments/prod", "--auto-approve"],
    )
    .ok();
    let plan = timed(
        &ws,
        &proxy,
        &["plan", "environments/prod", "--detailed-exitcode"],
    );
    assert_eq!(plan.code, 0, "converged: {}", plan.stderr);
    let drift = timed(&ws, &proxy, &["drift", "environments/prod"]);
    assert_eq!(
        drift.code, 0,
        "no drift: {}\n{}",
        drift.stdout, drift.stderr
    );
    publish_lag(
        &emulator,
        "us-west-2",
        "checkout-prod-orders-us-west-2",
        1.0,
    )
    .await;
    let promoted = timed(
        &ws,
        &proxy,
        &[
            "promote",
            "us-west-2",
            "environments/prod",
            "--auto-approve",
        ],
    )
    .ok();
    assert!(
        !promoted.stderr.contains("could not change"),
        "{}",
        promoted.stderr
    );
    let injected = proxy.injected_count();
    let requests = proxy.seen().len();
    println!("{injected} of {requests} requests failed");
    assert!(
        injected * 5 > requests,
        "about 30 % failed: {injected} of {requests}"
    );

    proxy.inject_failures(0.0, 0);
    assert_eq!(running_public_ips(&emulator, "us-west-2").await.len(), 2);
    assert_eq!(primary_record(&emulator).await.0, "us-west-2");
    let state = ws.state("prod");
    assert_eq!(state["roles"]["us-west-2"], "primary");
    assert_eq!(state["roles"]["us-east-1"], "failed");
    ws.run(&["plan", "environments/prod", "--detailed-exitcode"])
        .ok();
}

#[tokio::test]
async fn promote_fails_within_the_timeout_when_a_region_never_answers() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let ws = Workspace::new(proxy.env());
    ws.write("environments/prod/main.hcl", &spec());
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    publish_lag(
        &emulator,
        "us-west-2",
        "checkout-prod-orders-us-west-2",
        1.0,
    )
    .await;
    let before = ws.state("prod");

    proxy.black_hole_region("eu-west-1");
    let started = Instant::now();
    let mut child = ws
        .command(&[
            "promote",
            "us-west-2",
            "environments/prod",
            "--auto-approve",
            "--operation-timeout",
            "3s",
            "--attempt-timeout",
            "1s",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A guard against a hang, far above the configured timeout: not a speed goal.
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(90) {
            child.kill().unwrap();
            panic!("promote hung on a black-holed region");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let run: Run = child.wait_with_output().unwrap().into();
    println!(
        "black-holed eu-west-1 reported after {:?}",
        started.elapsed()
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(" in eu-west-1 failed for "),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("no answer within 3s"), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "help: region eu-west-1 cannot be reached: if it is down, run the promote again with `--assume-down eu-west-1`"
        ),
        "{}",
        run.stderr
    );
    let after = ws.state("prod");
    assert_eq!(after["roles"], before["roles"], "nothing was promoted");
    assert_eq!(primary_record(&emulator).await.0, "us-east-1");
}
