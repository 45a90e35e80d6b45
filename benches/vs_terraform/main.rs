//! standby and Terraform side by side: the same three-region layout (environments/demo and
//! the equivalent Terraform configuration in benches/vs_terraform/terraform), each tool
//! against its own fresh moto behind the same test proxy with the same added latency,
//! alternating tools and repeating each case. Prints per case the wall time (median and
//! range), API requests and requests per managed resource, CPU time, the peak memory of the
//! process tree, and terraform/standby ratios; then each goal of BENCHMARKS.md, met or not.
//!
//! Run: `cargo bench --bench vs_terraform -- --help` (needs scripts/install-emulator and
//! `terraform` 1.11 with the AWS provider 5.100 in the mirror /opt/tf-plugins).

mod critical;
mod measure;
mod report;
mod tools;

use clap::Parser;
use measure::Run;
use report::Table;
use standby_emulator::proxy::Proxy;
use standby_emulator::Emulator;
use std::time::Duration;
use tools::{Case, Layout, Tool};

#[derive(Parser)]
struct Args {
    /// Cases to run
    #[arg(long, value_delimiter = ',', default_values = ["apply", "plan", "drift", "promote"])]
    cases: Vec<Case>,
    /// Added latency per request, in milliseconds (each value is its own row)
    #[arg(long, value_delimiter = ',', default_values = ["0", "50"])]
    latency_ms: Vec<u64>,
    /// Runs of each case and tool
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// The primary's web cluster (the warm standby runs half); 4 is environments/demo,
    /// 1332 makes the 2,000-instance layout
    #[arg(long, default_value_t = 4)]
    web_size: u32,
    /// Parallelism given to both tools for apply; 0 runs each at its default (standby 16,
    /// Terraform 10)
    #[arg(long, value_delimiter = ',', default_values = ["10", "0"])]
    parallelism: Vec<u32>,
    /// Tools to run (standby alone profiles it quickly: each run's request log is written
    /// beside its output, `<tool>-<case>.requests`, under --keep)
    #[arg(long, value_delimiter = ',', default_values = ["standby", "terraform"])]
    tools: Vec<Tool>,
    /// Keeps the working directories, logs and request logs here instead of a temporary
    /// directory
    #[arg(long)]
    keep: Option<std::path::PathBuf>,
    /// cargo bench passes --bench
    #[arg(long, hide = true)]
    bench: bool,
}

/// One tool's applied environment in its own emulator, behind its own proxy.
struct World {
    _emulator: Emulator,
    proxy: Proxy,
    env: Vec<(String, String)>,
}

impl World {
    fn new() -> World {
        let emulator = Emulator::start();
        let proxy = Proxy::start(&emulator.endpoint());
        let env = proxy.env();
        World {
            _emulator: emulator,
            proxy,
            env,
        }
    }

    /// A new world with `tool`'s environment applied (not measured, no added latency).
    fn applied(layout: &Layout, tool: Tool) -> World {
        let world = World::new();
        layout.reset(tool);
        let log = layout.root.join(format!("{}-setup.log", tool.name()));
        let run = measure::run(
            layout.command(tool, Case::Apply, None, &world.env),
            &world.proxy,
            &log,
        );
        assert_eq!(
            run.exit,
            0,
            "{} apply failed: see {}",
            tool.name(),
            log.display()
        );
        world
    }
}

fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = args
        .keep
        .clone()
        .unwrap_or_else(|| dir.path().to_path_buf());
    let layout = Layout::prepare(&root, args.web_size);
    let mut table = Table::default();
    // Plan and drift change nothing: each tool's applied world serves all their runs.
    let mut applied: Vec<(Tool, World)> = Vec::new();
    println!(
        "standby vs terraform: web cluster {} in the primary, {} runs per case",
        args.web_size, args.repeat
    );
    for &latency in &args.latency_ms {
        let latency = Duration::from_millis(latency);
        for &case in &args.cases {
            let modes: Vec<Option<u32>> = match case {
                Case::Apply => args
                    .parallelism
                    .iter()
                    .map(|&p| (p > 0).then_some(p))
                    .collect(),
                _ => vec![None],
            };
            for parallelism in modes {
                for i in 0..args.repeat {
                    // Alternate which tool goes first, so neither always meets a warmer machine.
                    let order = if i % 2 == 0 {
                        [Tool::Standby, Tool::Terraform]
                    } else {
                        [Tool::Terraform, Tool::Standby]
                    };
                    for tool in order.into_iter().filter(|t| args.tools.contains(t)) {
                        let fresh;
                        let world = match case {
                            Case::Apply => {
                                layout.reset(tool);
                                fresh = World::new();
                                &fresh
                            }
                            Case::Promote => {
                                fresh = World::applied(&layout, tool);
                                &fresh
                            }
                            Case::Plan | Case::Drift => {
                                if !applied.iter().any(|(t, _)| *t == tool) {
                                    applied.push((tool, World::applied(&layout, tool)));
                                }
                                &applied.iter().find(|(t, _)| *t == tool).unwrap().1
                            }
                        };
                        let (run, managed) = once(&layout, world, tool, case, parallelism, latency);
                        table.add(case, latency, parallelism, tool, managed, run);
                    }
                }
            }
        }
    }
    table.print();
    table.goals(args.web_size);
    if args.cases.contains(&Case::Plan) {
        report::validate(&layout);
    }
}

/// Instances launched by the tool's Auto Scaling groups in the layout's regions: managed
/// through their groups, not in either tool's state (one `DescribeTags` per region).
fn group_members(proxy: &Proxy) -> usize {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let mut n = 0;
        for region in ["us-east-1", "us-west-2", "eu-west-1"] {
            let filter = |name: &str, value: &str| {
                aws_sdk_ec2::types::Filter::builder()
                    .name(name)
                    .values(value)
                    .build()
            };
            let tags: Vec<_> = proxy
                .ec2(region)
                .await
                .describe_tags()
                .filters(filter("resource-type", "instance"))
                .filters(filter("key", "aws:autoscaling:groupName"))
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .expect("DescribeTags through the proxy");
            n += tags.len();
        }
        n
    })
}

/// One measured run of `case` by `tool` in `world` at `latency`, and what the tool manages
/// then.
fn once(
    layout: &Layout,
    world: &World,
    tool: Tool,
    case: Case,
    parallelism: Option<u32>,
    latency: Duration,
) -> (Run, usize) {
    world.proxy.set_latency(latency);
    let log = layout.root.join(format!("{}-{case:?}.log", tool.name()));
    let mut run = measure::run(
        layout.command(tool, case, parallelism, &world.env),
        &world.proxy,
        &log,
    );
    world.proxy.set_latency(Duration::ZERO);
    if (tool, case) == (Tool::Standby, Case::Apply) {
        run.critical = critical::of_apply(&layout.root.join("standby/state/demo.json"), run.wall);
    }
    let managed = layout.managed(tool, &world.env) + group_members(&world.proxy);
    if run.exit != 0 && !(case == Case::Drift && run.exit == 2) {
        eprintln!(
            "{} {case:?} exited {}: see {}",
            tool.name(),
            run.exit,
            log.display()
        );
        let _ = std::fs::copy(
            &log,
            std::env::temp_dir().join(format!("vs_terraform-{}-{case:?}.log", tool.name())),
        );
    }
    (run, managed)
}
