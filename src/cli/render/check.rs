//! The renderers of a check report: text, JSON (versioned), JUnit and Markdown.
//!
//! Invariant: renderers are pure (a report in, a string out).

use super::drift::xml;
use crate::check::{Check, CheckReport, CheckRow, Measure, Unknown, Verdict};
use crate::provider::CapacityNeed;
use std::fmt::Write;
use std::time::Duration;

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Ready => "ready",
        Verdict::NotReady => "not ready",
        Verdict::Unknown => "unknown",
    }
}

fn area_word(row: &CheckRow) -> &'static str {
    match row.area {
        crate::check::Area::Capacity => "capacity",
        crate::check::Area::Data => "data",
        crate::check::Area::Traffic => "traffic",
        crate::check::Area::Practice => "practice",
        crate::check::Area::Time => "time",
    }
}

/// What the row checks: `image ami-12c6146b`, `replica lag region.us-west-2.database.orders`.
fn what(check: &Check) -> String {
    match check {
        Check::Capacity { need } => match need {
            CapacityNeed::Image { image } => format!("image {image}"),
            CapacityNeed::InstanceType { instance_type } => {
                format!("instance type {instance_type}")
            }
            CapacityNeed::InstanceTypeInZone {
                instance_type,
                zone,
            } => format!("instance type {instance_type} in {zone}"),
            CapacityNeed::DbClass {
                engine,
                version,
                class,
            } => format!("database class {class} ({engine} {version})"),
        },
        Check::VcpuQuota => "vcpus free for full size (standard instances quota)".into(),
        Check::ReplicaLag { database } => format!("replica lag of {database}"),
        Check::LatestRestorable { database } => {
            format!("age of the latest restorable time of {database}")
        }
        Check::BucketReplication { replication } => format!("replication {replication}"),
        Check::Canary { replication } => format!("canary through {replication}"),
        Check::SecretReplica { secret } => format!("replica of secret {secret}"),
        Check::ReplicatedBackups { backups } => format!("latest restorable time of {backups}"),
        Check::BackupRetention { backups } => format!("retention of {backups}"),
        Check::FailoverRecord { record } => format!("failover record {record}"),
        Check::TargetHealth { target_group } => format!("healthy targets of {target_group}"),
        Check::HealthCheck { health_check } => format!("health check {health_check}"),
        Check::FailoverTime { record } => format!("dns failover time of {record}"),
        Check::LastDrill => "last drill".into(),
        Check::DrillRecovery => "last drill's recovery time".into(),
        Check::RecoveryEstimate => "estimated recovery".into(),
    }
}

/// `13m`, `2m 30s`, `90d`, `95d 3h`: days past two days, as drill policies are written.
fn seconds(s: f64) -> String {
    let s = s.round() as u64;
    const DAY: u64 = 86_400;
    if s < 2 * DAY {
        return humantime::format_duration(Duration::from_secs(s)).to_string();
    }
    match (s / DAY, (s % DAY) / 3600) {
        (d, 0) => format!("{d}d"),
        (d, h) => format!("{d}d {h}h"),
    }
}

fn measured(m: &Measure) -> String {
    match m {
        Measure::Seconds(s) => seconds(*s),
        Measure::Present(true) => "present".into(),
        Measure::Present(false) => "missing".into(),
        Measure::Count(n) => n.to_string(),
        Measure::InSync(true) => "in sync".into(),
        Measure::InSync(false) => "not in sync".into(),
        Measure::Healthy(true) => "healthy".into(),
        Measure::Healthy(false) => "unhealthy".into(),
        Measure::Days(1) => "1 day".into(),
        Measure::Days(d) => format!("{d} days"),
        Measure::None => "none".into(),
    }
}

fn threshold(m: &Measure) -> String {
    match m {
        Measure::Seconds(s) => format!("at most {}", seconds(*s)),
        Measure::Count(n) => format!("at least {n}"),
        other => measured(other),
    }
}

/// What to do about a row that is not ready.
fn fix(row: &CheckRow) -> String {
    let r = &row.region;
    match &row.check {
        Check::Capacity { need } => match need {
            CapacityNeed::Image { image } => format!("copy image {image} to {r} (`aws ec2 copy-image`) or set the cluster's image for {r} in a region override"),
            CapacityNeed::InstanceType { instance_type } => format!("{instance_type} is not offered in {r}: set an instance type offered there in a region override"),
            CapacityNeed::InstanceTypeInZone { instance_type, zone } => format!("{instance_type} is not offered in {zone}: set the region's `zones` to zones that offer it, or another instance type in a region override"),
            CapacityNeed::DbClass { class, .. } => format!("RDS does not offer {class} for this engine and version in {r}: set an orderable instance_class in a region override"),
        },
        Check::VcpuQuota => {
            let short = match (&row.measured, &row.threshold) {
                (Measure::Count(free), Measure::Count(needed)) => needed.saturating_sub(*free),
                _ => 0,
            };
            format!("request an increase of the EC2 quota L-1216C47A (Running On-Demand Standard instances) in {r} by at least {short} vCPUs (`aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-1216C47A --region {r}`), or stop instances there")
        }
        Check::ReplicaLag { .. } => "find why the replica falls behind (write load, its instance class) before relying on it: promote refuses a lag beyond the rpo".into(),
        Check::LatestRestorable { database } => format!("find why the automated backups of {database} fall behind (`aws rds describe-db-instances` shows LatestRestorableTime; backup retention must be on)"),
        Check::BucketReplication { replication } => format!("run `standby apply` to restore {replication}"),
        Check::Canary { replication } => format!("the canary did not reach {r} within the rpo: check {replication}'s rule status and its role's permissions (S3 replication metrics show the pending objects)"),
        Check::SecretReplica { secret } => format!("run `standby apply` to replicate {secret} to {r}, or see why its replica is not in sync (`aws secretsmanager describe-secret`)"),
        Check::ReplicatedBackups { backups } => format!("if {backups} is missing run `standby apply`; else see why its backups fall behind with `aws rds describe-db-instance-automated-backups --region {r}`: a promote of {r} with the other regions down loses the data since its latest restorable time"),
        Check::BackupRetention { backups } => format!("run `standby apply` to replicate {backups} with the retention the spec asks for"),
        Check::FailoverRecord { record } => format!("run `standby apply` to restore {record}"),
        Check::TargetHealth { target_group } => format!("no healthy target in {target_group}: see why with `aws elbv2 describe-target-health` (instances stopped, the health check's path failing)"),
        Check::HealthCheck { health_check } => format!("{health_check} is unhealthy: see why with `aws route53 get-health-check-status`"),
        Check::FailoverTime { .. } => "lower the record's ttl so that ttl plus health-check detection fits in the rto".into(),
        Check::LastDrill => format!("run `standby drill {r}`"),
        Check::DrillRecovery => format!("make {r} faster to take over (a warm standby, more capacity) and run `standby drill {r}` again"),
        Check::RecoveryEstimate => format!("see the critical path with `standby promote {r} --out FILE`; shorten it or raise the rto"),
    }
}

/// Why a row is unknown.
fn reason(check: &Check, u: &Unknown) -> String {
    match u {
        Unknown::NoDatapoint => {
            "no ReplicaLag datapoint in CloudWatch (or -1: replication not running)".into()
        }
        Unknown::NoRestorableTime => "RDS reports no latest restorable time".into(),
        Unknown::NotAvailable => match check {
            Check::Canary { .. } => {
                "the canary was written and deleted, but this endpoint does not replicate objects (the emulator)".into()
            }
            Check::VcpuQuota => "Service Quotas knows no value of quota L-1216C47A here".into(),
            _ => "this provider cannot read it".into(),
        },
        Unknown::NoRestoreWindow => {
            "rds reports no restore window for the replicated backups yet (replication pending)"
                .into()
        }
        Unknown::NoPromotePlan(e) => format!("no promote plan: {e}"),
        Unknown::ReadFailed(e) => e.clone(),
    }
}

/// The line under a row: the fix, or why it cannot tell.
fn note(row: &CheckRow) -> Option<String> {
    match (&row.verdict, &row.unknown) {
        (Verdict::NotReady, _) => Some(format!("fix: {}", fix(row))),
        (Verdict::Unknown, Some(u)) => Some(format!("unknown: {}", reason(&row.check, u))),
        _ => None,
    }
}

fn summary(r: &CheckReport, strict: bool) -> String {
    let count = |v: Verdict| r.rows.iter().filter(|x| x.verdict == v).count();
    format!(
        "{} standby region{} checked: {} ready, {} not ready, {} unknown{}",
        r.regions.len(),
        if r.regions.len() == 1 { "" } else { "s" },
        count(Verdict::Ready),
        count(Verdict::NotReady),
        count(Verdict::Unknown),
        if r.ready(strict) { "" } else { ": not ready" }
    )
}

/// The report as a person reads it in a terminal.
pub fn text(r: &CheckReport, strict: bool) -> String {
    let mut out = String::new();
    for region in &r.regions {
        let _ = writeln!(out, "{region}: {}", verdict_word(r.region_verdict(region)));
        for row in r.rows.iter().filter(|x| &x.region == region) {
            let _ = writeln!(
                out,
                "  {:<9}  {:<8}  {}: {}, wanted {}",
                verdict_word(row.verdict),
                area_word(row),
                what(&row.check),
                measured(&row.measured),
                threshold(&row.threshold)
            );
            if let Some(n) = note(row) {
                let _ = writeln!(out, "      {n}");
            }
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", summary(r, strict));
    out
}

/// The versioned JSON document (README.md, "check").
pub fn json(r: &CheckReport, strict: bool) -> String {
    let mut doc = serde_json::to_value(r).unwrap_or_default();
    doc["ready"] = r.ready(strict).into();
    if let Some(rows) = doc["rows"].as_array_mut() {
        for (row, value) in r.rows.iter().zip(rows) {
            value["fix"] = (row.verdict == Verdict::NotReady).then(|| fix(row)).into();
        }
    }
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// A Markdown table for a CI job summary.
pub fn markdown(r: &CheckReport, strict: bool) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = format!("## Readiness of {}\n\n", r.environment);
    out.push_str("| region | area | check | verdict | measured | threshold | fix |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for row in &r.rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.region,
            area_word(row),
            cell(&what(&row.check)),
            verdict_word(row.verdict),
            measured(&row.measured),
            threshold(&row.threshold),
            cell(&note(row).unwrap_or_default())
        );
    }
    let _ = writeln!(out, "\n{}", summary(r, strict));
    out
}

/// One test case per row: not ready fails, unknown is skipped (fails with `--strict`).
pub fn junit(r: &CheckReport, strict: bool, started_at: &str, elapsed: Duration) -> String {
    let count = |v: Verdict| r.rows.iter().filter(|x| x.verdict == v).count();
    let (not_ready, unknown) = (count(Verdict::NotReady), count(Verdict::Unknown));
    let (failures, skipped) = if strict {
        (not_ready + unknown, 0)
    } else {
        (not_ready, unknown)
    };
    let mut cases = String::new();
    for row in &r.rows {
        let _ = write!(
            cases,
            "    <testcase classname=\"{}\" name=\"{}\"",
            xml(&format!("{}.{}", row.region, area_word(row))),
            xml(&what(&row.check))
        );
        let body = format!(
            "measured {}, threshold {}",
            measured(&row.measured),
            threshold(&row.threshold)
        );
        let detail = note(row).unwrap_or_default();
        match row.verdict {
            Verdict::Ready => cases.push_str("/>\n"),
            Verdict::Unknown if !strict => {
                let _ = writeln!(
                    cases,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    xml(&detail)
                );
            }
            _ => {
                let _ = writeln!(
                    cases,
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                    xml(&detail),
                    verdict_word(row.verdict),
                    xml(&body)
                );
            }
        }
    }
    let name = format!("standby check {}", r.environment);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">",
        xml(&name),
        r.rows.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" errors=\"0\" timestamp=\"{}\" time=\"{:.3}\">",
        xml(&name),
        r.rows.len(),
        xml(started_at),
        elapsed.as_secs_f64()
    );
    out.push_str(&cases);
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
