//! The README's quickstart, run line by line as written against the emulator.

use crate::support::workspace::Workspace;
use crate::support::Emulator;
use std::path::Path;

const README: &str = include_str!("../../README.md");

/// The arguments of every `standby ...` line in the README's quickstart block.
fn quickstart_commands() -> Vec<Vec<String>> {
    let block = README
        .split("<!-- quickstart -->")
        .nth(1)
        .and_then(|rest| rest.split("```sh").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the README marks its quickstart block");
    block
        .lines()
        .map(|l| l.split(" #").next().unwrap_or_default().trim())
        .filter(|l| l.starts_with("standby "))
        .map(|l| l.split_whitespace().skip(1).map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn the_readme_quickstart_runs_as_written() {
    let emulator = Emulator::start();
    let ws = Workspace::new(emulator.env());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for rel in ["environments/demo/main.hcl", "modules/worker-tier/main.hcl"] {
        ws.write(rel, &std::fs::read_to_string(root.join(rel)).unwrap());
    }
    let commands = quickstart_commands();
    assert!(commands.len() >= 7, "quickstart commands: {commands:?}");
    for args in &commands {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ws.run(&args).ok();
    }

    let roles = &ws.state("demo")["roles"];
    assert_eq!(roles["us-west-2"], "primary");
    assert_eq!(roles["us-east-1"], "failed");
    let running = emulator
        .ec2("us-west-2")
        .await
        .describe_instances()
        .filters(crate::support::aws::tag_filter(
            "standby:environment",
            "demo",
        ))
        .filters(crate::support::aws::state_filter(&["running"]))
        .send()
        .await
        .unwrap();
    let count: usize = running
        .reservations()
        .iter()
        .map(|r| r.instances().len())
        .sum();
    assert!(count > 0, "the promoted region runs the demo's instances");
}
