//! The drill's JSON report: the document, its conversion from a `DrillReport`, and the
//! writing of the JSON and Markdown reports side by side.

use crate::dr::{DrillReport, DrillStep, DrillStepOutcome, DrillVerdict};
use crate::environment::Environment;
use crate::private_file::write_private;
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Version of the drill's JSON report.
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize)]
struct DrillFile<'a> {
    format_version: u32,
    id: &'a str,
    environment: &'a str,
    service: &'a str,
    region: &'a str,
    started_at: &'a str,
    rto_s: f64,
    recovery_time_s: Option<f64>,
    verdict: VerdictWord,
    steps: Vec<StepFile<'a>>,
    created: &'a [String],
    removed: bool,
    left: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    cleanup: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct StepFile<'a> {
    name: &'a str,
    started_at: &'a str,
    offset_s: f64,
    duration_s: f64,
    outcome: OutcomeWord,
    detail: &'a str,
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
enum VerdictWord {
    Met,
    Missed,
    Failed,
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
enum OutcomeWord {
    Ok,
    Failed,
}

/// The JSON document, pretty-printed.
pub fn json(r: &DrillReport) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec_pretty(&DrillFile::from(r))?)
}

/// `state/drills/` beside the environment's state: where reports go unless `--report DIR`.
pub fn default_dir(env: &Environment) -> PathBuf {
    env.state_path
        .parent()
        .map(|p| p.join("drills"))
        .unwrap_or_else(|| PathBuf::from("drills"))
}

/// Writes `drill-<id>.json` and `drill-<id>.md` (the CLI's `markdown`) into `dir`
/// atomically, readable by their owner only; their paths.
pub fn write(r: &DrillReport, markdown: &str, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the report directory {}", dir.display()))?;
    let json_path = dir.join(format!("drill-{}.json", r.id));
    let md_path = dir.join(format!("drill-{}.md", r.id));
    write_private(&json_path, &json(r)?, "the drill report")?;
    write_private(&md_path, markdown.as_bytes(), "the drill report")?;
    Ok((json_path, md_path))
}

impl<'a> From<&'a DrillReport> for DrillFile<'a> {
    fn from(r: &'a DrillReport) -> Self {
        DrillFile {
            format_version: VERSION,
            id: &r.id,
            environment: &r.environment,
            service: &r.service,
            region: &r.region,
            started_at: &r.started_at,
            rto_s: r.rto_s,
            recovery_time_s: r.recovery_time_s,
            verdict: match r.verdict {
                DrillVerdict::Met => VerdictWord::Met,
                DrillVerdict::Missed => VerdictWord::Missed,
                DrillVerdict::Failed => VerdictWord::Failed,
            },
            steps: r.steps.iter().map(Into::into).collect(),
            created: &r.created,
            removed: r.removed,
            left: &r.left,
            cleanup: r.cleanup.as_deref(),
            error: r.error.as_deref(),
        }
    }
}

impl<'a> From<&'a DrillStep> for StepFile<'a> {
    fn from(s: &'a DrillStep) -> Self {
        StepFile {
            name: &s.name,
            started_at: &s.started_at,
            offset_s: s.offset_s,
            duration_s: s.duration_s,
            outcome: match s.outcome {
                DrillStepOutcome::Ok => OutcomeWord::Ok,
                DrillStepOutcome::Failed => OutcomeWord::Failed,
            },
            detail: &s.detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> DrillReport {
        DrillReport {
            id: "d1".into(),
            environment: "prod".into(),
            service: "payments".into(),
            region: "us-west-2".into(),
            started_at: "2026-12-01T06:00:00Z".into(),
            rto_s: 900.0,
            recovery_time_s: Some(61.5),
            verdict: DrillVerdict::Met,
            steps: vec![DrillStep {
                name: "stand up".into(),
                started_at: "2026-12-01T06:00:00Z".into(),
                offset_s: 0.0,
                duration_s: 61.5,
                outcome: DrillStepOutcome::Ok,
                detail: "3 resources".into(),
            }],
            created: vec!["drill.d1.region.us-west-2.network.vpc".into()],
            removed: true,
            left: vec![],
            cleanup: None,
            error: None,
        }
    }

    #[test]
    fn the_document_keeps_its_field_order_and_leaves_out_what_is_absent() {
        let doc = String::from_utf8(json(&report()).unwrap()).unwrap();
        let keys: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("  \"")?.split('"').next())
            .collect();
        assert_eq!(
            keys,
            [
                "format_version",
                "id",
                "environment",
                "service",
                "region",
                "started_at",
                "rto_s",
                "recovery_time_s",
                "verdict",
                "steps",
                "created",
                "removed",
                "left"
            ]
        );
        assert!(doc.contains("\"verdict\": \"met\""), "{doc}");
        assert!(doc.contains("\"outcome\": \"ok\""), "{doc}");
    }

    #[test]
    fn a_failed_drill_names_its_error_and_cleanup() {
        let mut r = report();
        r.verdict = DrillVerdict::Failed;
        r.steps[0].outcome = DrillStepOutcome::Failed;
        r.cleanup = Some("standby drill --cleanup environments/prod".into());
        r.error = Some("the restore failed".into());
        let doc: serde_json::Value = serde_json::from_slice(&json(&r).unwrap()).unwrap();
        assert_eq!(doc["verdict"], "failed");
        assert_eq!(doc["steps"][0]["outcome"], "failed");
        assert_eq!(doc["cleanup"], "standby drill --cleanup environments/prod");
        assert_eq!(doc["error"], "the restore failed");
    }
}
