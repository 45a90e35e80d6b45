//! `standby drill REGION [ENV]`: stand a test copy up, check it, time it, tear it down, and
//! write a JSON and a Markdown report; `--cleanup` removes what interrupted drills left.

use super::{confirm, render, EnvArg, GlobalArgs, Outcome};
use crate::dr::{prepare_drill, DrillRequest, DrillVerdict};
use crate::ops::{self, Context};
use anyhow::{bail, Result};
use clap::Args;
use std::path::{Path, PathBuf};

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

pub async fn run(args: DrillArgs, g: &GlobalArgs, cx: &Context) -> Result<Outcome> {
    // `drill --cleanup DIR`: the one positional is the environment.
    let env_dir = match (&args.region, args.cleanup) {
        (Some(r), true) if Path::new(r).is_dir() => PathBuf::from(r),
        _ => args.env.env.clone(),
    };
    let env = g.load(&env_dir)?;
    if args.cleanup {
        return cleanup(cx, &env, args.parallelism).await;
    }
    let Some(region) = args.region.clone() else {
        bail!("name the region to drill in, or pass --cleanup")
    };
    let prepared = prepare_drill(&env, &region).await?;
    cx.shell.out(&render::plan(&prepared.plan));
    cx.shell.out_line(&format!(
        "\nThen the drill checks readiness, measures the time to ready against the RTO of {}, \
         and {}.",
        humantime::format_duration(env.spec.service.rto),
        if args.keep {
            "leaves everything up (--keep)"
        } else {
            "tears all of it down"
        }
    ));
    if !confirm::approve(&cx.shell, "Run this drill", args.auto_approve).await? {
        cx.shell.status("Drill cancelled: nothing was created.");
        return Ok(Outcome::Success);
    }
    let req = DrillRequest {
        region: region.clone(),
        keep: args.keep,
        parallelism: args.parallelism,
    };
    let report = ops::drill::run(cx, &env, &req, prepared).await?;

    let dir = args
        .report
        .clone()
        .unwrap_or_else(|| crate::report::drill::default_dir(&env));
    let markdown = markdown(&report);
    let (json_path, md_path) = crate::report::drill::write(&report, &markdown, &dir)?;
    cx.shell.out(&markdown);
    cx.shell.status(&format!(
        "Reports: {} and {}",
        json_path.display(),
        md_path.display()
    ));
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
    cx: &Context,
    env: &crate::environment::Environment,
    parallelism: usize,
) -> Result<Outcome> {
    let cleaned = ops::drill::cleanup(cx, env, parallelism).await?;
    if cleaned.is_empty() {
        cx.shell.out_line(&format!(
            "No drill left anything behind in environment {}.",
            env.spec.environment
        ));
    } else {
        cx.shell.out_line(&format!(
            "Removed what drills {} left behind.",
            cleaned.join(", ")
        ));
    }
    Ok(Outcome::Success)
}

pub use super::render::drill::markdown;
