//! `standby drift [ENV] --format text|json|junit|markdown`: one refresh, compared with the
//! state and the spec; exit 0 when nothing drifted, 2 when something did, 1 on error. The
//! four renderers live in `render/drift.rs`.
//!
//! Invariant: the document of the chosen format goes to `--out FILE` or stdout; when stdout
//! carries a JSON or JUnit document, the human summary goes to stderr.

use super::render::drift::junit_timestamp;
use super::{EnvArg, GlobalArgs, Outcome};
use crate::dr::DriftOptions;
use crate::ops::Context;
use anyhow::Result;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriftFormat {
    Text,
    Json,
    Junit,
    Markdown,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Output format: text, json (versioned), junit (one test case per resource) or markdown
    #[arg(long, value_enum, default_value_t = DriftFormat::Text)]
    pub format: DriftFormat,
    /// Count regions whose role in the state differs from the spec's as drift
    #[arg(long)]
    pub roles_as_drift: bool,
    /// Write the report to FILE (the human summary then goes to stdout)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub async fn run(args: DriftArgs, g: &GlobalArgs, cx: &Context) -> Result<Outcome> {
    let env = g.load(&args.env.env)?;
    let opts = DriftOptions {
        roles_as_drift: args.roles_as_drift,
        today: None,
    };
    let (started_at, clock) = (junit_timestamp(), std::time::Instant::now());
    let report = crate::ops::read::drift(cx, &env, &opts).await?;
    let timing = Timing {
        started_at,
        elapsed: clock.elapsed(),
    };
    let document = match args.format {
        DriftFormat::Text => text(&report),
        DriftFormat::Json => json(&report),
        DriftFormat::Junit => junit(&report, &timing),
        DriftFormat::Markdown => markdown(&report),
    };
    let shell = &cx.shell;
    match (&args.out, args.format) {
        (Some(out), _) => {
            crate::private_file::write_private(out, document.as_bytes(), "the drift report")?;
            shell.out(&text(&report));
            shell.out_line(&format!(
                "Wrote the {} report to {}.",
                format_name(args.format),
                out.display()
            ));
        }
        (None, DriftFormat::Text | DriftFormat::Markdown) => shell.out(&document),
        (None, DriftFormat::Json | DriftFormat::Junit) => {
            shell.err(&text(&report));
            shell.out(&document);
        }
    }
    Ok(if report.has_drift() {
        Outcome::ChangesPresent
    } else {
        Outcome::Success
    })
}

fn format_name(f: DriftFormat) -> &'static str {
    match f {
        DriftFormat::Text => "text",
        DriftFormat::Json => "JSON",
        DriftFormat::Junit => "JUnit",
        DriftFormat::Markdown => "Markdown",
    }
}

pub use super::render::drift::{json, junit, markdown, text, Timing, DRIFT_FORMAT_VERSION};
