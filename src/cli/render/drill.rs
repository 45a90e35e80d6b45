//! The drill report in Markdown, written beside the JSON one and printed.

use crate::dr::{DrillReport, DrillStepOutcome, DrillVerdict};
use std::fmt::Write;

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
