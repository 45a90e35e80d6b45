//! `standby drill REGION [ENV]`: stand a test copy up, check it, time it, tear it down, and
//! write a JSON and a Markdown report; `--cleanup` removes what interrupted drills left.

use super::{confirm, progress, render, EnvArg, GlobalArgs, Outcome};
use crate::dr::{
    cleanup_drills, prepare_drill, run_drill, DrillReport, DrillRequest, DrillStepOutcome,
    DrillVerdict,
};
use crate::private_file::write_private;
use crate::provider::aws::AwsProvider;
use crate::provider::Provider;
use crate::state::{history_now, HistoryEntry, Operation, RunOutcome, Step, StepOutcome};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// The region to drill in (not needed with --cleanup)
    #[arg(required_unless_present = "cleanup")]
    pub region: Option<String>,
    #[command(flatten)]
    pub env: EnvArg,
    /// Leave the drill's resources up for inspection (remove them with --cleanup)
    #[arg(long)]
    pub keep: bool,
    /// Where to write the reports (default: state/drills/ beside the state)
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Remove everything interrupted or kept drills left behind
    #[arg(long)]
    pub cleanup: bool,
    /// Actions run at once
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub parallelism: usize,
    /// Run the drill without asking
    #[arg(long)]
    pub auto_approve: bool,
}

pub async fn run(args: DrillArgs, g: &GlobalArgs) -> Result<Outcome> {
    // `drill --cleanup DIR`: the one positional is the environment.
    let env_dir = match (&args.region, args.cleanup) {
        (Some(r), true) if Path::new(r).is_dir() => PathBuf::from(r),
        _ => args.env.env.clone(),
    };
    let env = g.load(&env_dir)?;
    let provider: Arc<dyn Provider> = Arc::new(AwsProvider::from_env().await?);
    if args.cleanup {
        return cleanup(&env, provider, args.parallelism).await;
    }
    let Some(region) = args.region.clone() else {
        bail!("name the region to drill in, or pass --cleanup")
    };
    let prepared = prepare_drill(&env, &region).await?;
    print!("{}", render::plan(&prepared.plan));
    println!(
        "\nThen the drill checks readiness, measures the time to ready against the RTO of {}, \
         and {}.",
        humantime::format_duration(env.spec.service.rto),
        if args.keep {
            "leaves everything up (--keep)"
        } else {
            "tears all of it down"
        }
    );
    if !confirm::approve("Run this drill", args.auto_approve).await? {
        eprintln!("Drill cancelled: nothing was created.");
        return Ok(Outcome::Success);
    }
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let renderer = tokio::spawn(progress::render(0, events_rx));
    let (cancel_tx, cancel_rx) = watch::channel(false);
    // Ctrl-C is handled here (tear down what the drill made), not by cancelling the command.
    let _interrupts = crate::state::defer_interrupts();
    let interrupt = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping the drill: tearing down what it made");
            let _ = cancel_tx.send(true);
        }
    });
    let req = DrillRequest {
        region: region.clone(),
        keep: args.keep,
        parallelism: args.parallelism,
    };
    let result = run_drill(&env, provider, &req, prepared, events_tx, cancel_rx).await;
    interrupt.abort();
    let _ = renderer.await;
    let report = result?;

    let dir = args.report.clone().unwrap_or_else(|| {
        env.state_path
            .parent()
            .map(|p| p.join("drills"))
            .unwrap_or_else(|| PathBuf::from("drills"))
    });
    let (json_path, md_path) = write_reports(&report, &dir)?;
    record_history(&env, &report).await?;
    print!("{}", markdown(&report));
    eprintln!("Reports: {} and {}", json_path.display(), md_path.display());
    if report.succeeded() {
        Ok(Outcome::Success)
    } else {
        Err(super::Reported(format!(
            "drill {} in {} {}{}",
            report.id,
            report.region,
            if report.verdict == DrillVerdict::Missed {
                "missed the rto"
            } else {
                "failed"
            },
            report
                .error
                .as_ref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ))
        .into())
    }
}

/// `drill --cleanup`: removes what interrupted or kept drills left.
async fn cleanup(
    env: &crate::environment::Environment,
    provider: Arc<dyn Provider>,
    parallelism: usize,
) -> Result<Outcome> {
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let renderer = tokio::spawn(progress::render(0, events_rx));
    let cleaned = cleanup_drills(env, provider, parallelism, events_tx).await;
    let _ = renderer.await;
    let cleaned = cleaned?;
    if cleaned.is_empty() {
        println!(
            "No drill left anything behind in environment {}.",
            env.spec.environment
        );
    } else {
        println!("Removed what drills {} left behind.", cleaned.join(", "));
    }
    Ok(Outcome::Success)
}

/// Writes the JSON and Markdown reports atomically, readable by their owner only.
fn write_reports(report: &DrillReport, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the report directory {}", dir.display()))?;
    let json_path = dir.join(format!("drill-{}.json", report.id));
    let md_path = dir.join(format!("drill-{}.md", report.id));
    let json = serde_json::to_vec_pretty(report)?;
    write_private(&json_path, &json, "the drill report")?;
    write_private(&md_path, markdown(report).as_bytes(), "the drill report")?;
    Ok((json_path, md_path))
}

/// Appends the drill to the production state's history, for `status`.
async fn record_history(env: &crate::environment::Environment, report: &DrillReport) -> Result<()> {
    let mut store = env.open_state(&format!("drill {}", report.region)).await?;
    if !store.exists() {
        return Ok(());
    }
    store.state_mut().record(HistoryEntry {
        operation: Operation::Drill {
            region: report.region.clone(),
        },
        user: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
        host: hostname::get().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default(),
        started_at: report.started_at.clone(),
        duration_ms: report.steps.iter().map(|s| ((s.offset_s + s.duration_s) * 1000.0) as u64).max().unwrap_or(0),
        outcome: match report.verdict {
            DrillVerdict::Met => RunOutcome::Met,
            DrillVerdict::Missed => RunOutcome::Missed,
            DrillVerdict::Failed => RunOutcome::Failed,
        },
        steps: report
            .steps
            .iter()
            .map(|s| Step {
                name: s.name.clone(),
                started_at: s.started_at.clone(),
                duration_ms: (s.duration_s * 1000.0) as u64,
                outcome: match s.outcome {
                    DrillStepOutcome::Ok => StepOutcome::Done,
                    DrillStepOutcome::Failed => StepOutcome::Failed,
                },
            })
            .collect(),
        details: serde_json::json!({ "id": report.id, "recovery_time_s": report.recovery_time_s, "rto_s": report.rto_s, "recorded_at": history_now() }),
        interruptions: Vec::new(),
        state_replica: None,
    });
    store.save().await?;
    store.release().await
}

/// The Markdown report: verdict, a timeline to read at a glance, what was made and removed.
pub fn markdown(r: &DrillReport) -> String {
    let mut out = String::new();
    let secs = |s: f64| {
        humantime::format_duration(std::time::Duration::from_millis((s * 1000.0) as u64))
            .to_string()
    };
    let _ = writeln!(
        out,
        "# Drill {} of {}/{} in {}\n",
        r.id, r.service, r.environment, r.region
    );
    let verdict = match r.verdict {
        DrillVerdict::Met => "**met the RTO**",
        DrillVerdict::Missed => "**missed the RTO**",
        DrillVerdict::Failed => "**failed**",
    };
    let _ = writeln!(
        out,
        "Verdict: {verdict}. Recovery time {} against an RTO of {}. Started {}.\n",
        r.recovery_time_s
            .map(secs)
            .unwrap_or_else(|| "not reached".into()),
        secs(r.rto_s),
        r.started_at
    );
    if let Some(e) = &r.error {
        let _ = writeln!(out, "What failed: {e}\n");
    }
    let total = r
        .steps
        .iter()
        .map(|s| s.offset_s + s.duration_s)
        .fold(0.0, f64::max)
        .max(0.001);
    let _ = writeln!(out, "## Timeline\n");
    let _ = writeln!(out, "| step | at | took | outcome | timeline | detail |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for s in &r.steps {
        let width = 30.0;
        let lead = ((s.offset_s / total) * width).round() as usize;
        let bar = (((s.duration_s / total) * width).round() as usize).max(1);
        let _ = writeln!(
            out,
            "| {} | +{:.1}s | {:.1}s | {} | `{}{}` | {} |",
            s.name,
            s.offset_s,
            s.duration_s,
            match s.outcome {
                DrillStepOutcome::Ok => "ok",
                DrillStepOutcome::Failed => "failed",
            },
            " ".repeat(lead.min(30)),
            "█".repeat(bar.min(30)),
            s.detail.replace('|', "\\|")
        );
    }
    let _ = writeln!(out, "\n## Resources\n");
    let _ = writeln!(
        out,
        "Created {} resources; {}.",
        r.created.len(),
        if r.removed {
            "all of them were removed"
        } else {
            "not all were removed"
        }
    );
    if !r.left.is_empty() {
        let _ = writeln!(out, "\nStill up:\n");
        for a in &r.left {
            let _ = writeln!(out, "- `{a}`");
        }
    }
    if let Some(c) = &r.cleanup {
        let _ = writeln!(out, "\nRemove them with `{c}`.");
    }
    out
}
