//! `standby check [ENV] [--format text|json|junit|markdown] [--region R]... [--strict]`:
//! whether each standby could take over now; exit 0 when every standby is ready, 2 when a
//! check fails (or, with `--strict`, cannot tell), 1 on error. The renderers live in `render/check.rs`.
//!
//! Invariant: JSON and JUnit go to stdout with the human summary on stderr.

use super::render::drift::junit_timestamp;
use super::{EnvArg, GlobalArgs, Outcome};
use crate::check::CheckOptions;
use crate::ops::Context;
use anyhow::Result;
use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    Junit,
    Markdown,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Output format: text, json (versioned), junit (one test case per check) or markdown
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    /// Check only this standby region (repeatable; default: every standby)
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
    /// Count a check that cannot tell (unknown) as not ready
    #[arg(long)]
    pub strict: bool,
    /// Also write a canary object to the primary's buckets and wait, up to the rpo, for it
    /// in each standby's replica (deleted from both afterwards)
    #[arg(long)]
    pub canary: bool,
}

pub async fn run(args: CheckArgs, g: &GlobalArgs, cx: &Context) -> Result<Outcome> {
    let env = g.load(&args.env.env)?;
    let opts = CheckOptions {
        regions: args.regions.clone(),
        now: None,
        canary: args.canary,
    };
    let (started_at, clock) = (junit_timestamp(), std::time::Instant::now());
    let report = crate::ops::read::check(cx, &env, &opts).await?;
    let shell = &cx.shell;
    match args.format {
        CheckFormat::Text => shell.out(&text(&report, args.strict)),
        CheckFormat::Markdown => shell.out(&markdown(&report, args.strict)),
        CheckFormat::Json => {
            shell.err(&text(&report, args.strict));
            shell.document(&json(&report, args.strict));
        }
        CheckFormat::Junit => {
            shell.err(&text(&report, args.strict));
            shell.out(&junit(&report, args.strict, &started_at, clock.elapsed()));
        }
    }
    Ok(if report.ready(args.strict) {
        Outcome::Success
    } else {
        Outcome::ChangesPresent
    })
}

pub use super::render::check::{json, junit, markdown, text};
