//! `standby status`: the table of regions and the last promote and drill.

use console::style;
use std::fmt::Write;

fn database_cell(r: &crate::dr::RegionStatus) -> String {
    use crate::dr::DatabaseRole;
    let d = &r.database;
    match (d.role, &d.source_region) {
        (DatabaseRole::Primary, _) => "primary (writable)".into(),
        (DatabaseRole::Stopped, _) => "stopped".into(),
        (DatabaseRole::Replica, Some(source)) => format!("replica of {source}"),
        (DatabaseRole::Replica, None) => "replica".into(),
        (DatabaseRole::None, _) => "none".into(),
        (DatabaseRole::Unknown, _) => "unreachable".into(),
    }
}

fn bucket_cell(r: &crate::dr::RegionStatus) -> String {
    use crate::dr::BucketRole;
    match r.replication.role {
        BucketRole::Source => format!("source -> {}", r.replication.destinations.join(", ")),
        BucketRole::Replica => "replica".into(),
        BucketRole::None => "none".into(),
        BucketRole::Unknown => "unreachable".into(),
    }
}

/// The status table and the last promote and drill.
pub fn status(s: &crate::dr::Status) -> String {
    let mut out = String::new();
    let header = [
        "REGION",
        "ROLE",
        "SPEC ROLE",
        "INSTANCES",
        "DATABASE",
        "LAG",
        "BUCKET",
        "DNS",
        "READY",
    ];
    let rows: Vec<[String; 9]> = s
        .regions
        .iter()
        .map(|r| {
            [
                r.region.clone(),
                r.state_role
                    .map(|x| x.to_string())
                    .unwrap_or_else(|| "(not applied)".into()),
                r.spec_role.to_string(),
                format!("{}/{}", r.instances_running, r.instances_desired),
                database_cell(r),
                r.database
                    .lag_seconds
                    .map(|l| format!("{l:.0}s"))
                    .unwrap_or_else(|| "-".into()),
                bucket_cell(r),
                match (&r.dns[..], r.reachable) {
                    (_, false) => "unreachable".into(),
                    ([], true) => "none".into(),
                    (roles, true) => roles.join(", "),
                },
                match r.readiness {
                    Some(crate::check::Verdict::Ready) => "ready".into(),
                    Some(crate::check::Verdict::NotReady) => "not ready".into(),
                    Some(crate::check::Verdict::Unknown) => "unknown".into(),
                    None => "-".into(),
                },
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..9)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let _ = writeln!(out, "environment {}\n", s.environment);
    if let Some(i) = &s.interrupted {
        let _ = writeln!(out, "note: {}\n", i.note);
    }
    for w in &s.split_brain {
        let _ = writeln!(out, "{} {w}\n", style("warning:").yellow().bold());
    }
    let _ = writeln!(out, "{}", line(header.to_vec()));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r.iter().map(String::as_str).collect()));
    }
    out.push('\n');
    for (what, entry) in [
        ("last promote", &s.last_promote),
        ("last drill", &s.last_drill),
    ] {
        let _ = match entry {
            Some(h) => writeln!(
                out,
                "{what}: {} by {} at {} ({:.1}s, {}{})",
                h.operation,
                h.user,
                h.started_at,
                h.duration_ms as f64 / 1000.0,
                h.outcome,
                match h.interruptions.len() {
                    0 => String::new(),
                    1 => ", resumed after an interruption".to_string(),
                    n => format!(", resumed after {n} interruptions"),
                }
            ),
            None => writeln!(out, "{what}: none"),
        };
    }
    out
}
