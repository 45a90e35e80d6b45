//! Snapshots of `standby check`'s four renderings of one report: a ready row, one not
//! ready with its fix, one unknown with its reason, in two standby regions.

use standby::address::Address;
use standby::check::{
    Check, CheckReport, CheckRow, Measure, Unknown, Verdict, CHECK_FORMAT_VERSION,
};
use standby::cli::check::{json, junit, markdown, text};
use standby::provider::CapacityNeed;
use std::time::Duration;

fn row(
    region: &str,
    check: Check,
    verdict: Verdict,
    measured: Measure,
    threshold: Measure,
) -> CheckRow {
    CheckRow {
        region: region.into(),
        area: check.area(),
        check,
        verdict,
        measured,
        threshold,
        unknown: None,
    }
}

fn report() -> CheckReport {
    let image = Check::Capacity {
        need: CapacityNeed::Image {
            image: "ami-12c6146b".into(),
        },
    };
    let lag = Check::ReplicaLag {
        database: Address::new("region.us-west-2.database.orders"),
    };
    let rows = vec![
        row(
            "eu-west-1",
            image.clone(),
            Verdict::Ready,
            Measure::Present(true),
            Measure::Present(true),
        ),
        row(
            "us-west-2",
            image,
            Verdict::NotReady,
            Measure::Present(false),
            Measure::Present(true),
        ),
        CheckRow {
            unknown: Some(Unknown::NoDatapoint),
            ..row(
                "us-west-2",
                lag,
                Verdict::Unknown,
                Measure::None,
                Measure::Seconds(300.0),
            )
        },
        row(
            "us-west-2",
            Check::LastDrill,
            Verdict::NotReady,
            Measure::None,
            Measure::Seconds(90.0 * 86400.0),
        ),
        row(
            "us-west-2",
            Check::RecoveryEstimate,
            Verdict::Ready,
            Measure::Seconds(780.0),
            Measure::Seconds(900.0),
        ),
    ];
    CheckReport {
        format_version: CHECK_FORMAT_VERSION,
        environment: "prod".into(),
        regions: vec!["eu-west-1".into(), "us-west-2".into()],
        rows,
    }
}

#[test]
fn check_report_for_people() {
    insta::assert_snapshot!(text(&report(), false));
}

#[test]
fn check_report_as_markdown() {
    insta::assert_snapshot!(markdown(&report(), false));
}

#[test]
fn check_report_as_junit_skips_unknown_unless_strict() {
    let lenient = junit(
        &report(),
        false,
        "2026-11-30T23:00:00",
        Duration::from_millis(1500),
    );
    assert!(
        lenient.contains("failures=\"2\" skipped=\"1\""),
        "{lenient}"
    );
    let strict = junit(
        &report(),
        true,
        "2026-11-30T23:00:00",
        Duration::from_millis(1500),
    );
    assert!(strict.contains("failures=\"3\" skipped=\"0\""), "{strict}");
    insta::assert_snapshot!(lenient);
}

#[test]
fn check_report_as_json_is_versioned() {
    let doc: serde_json::Value = serde_json::from_str(&json(&report(), false)).unwrap();
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["ready"], false);
    insta::assert_json_snapshot!(doc);
}

/// The rows read from live signals, each in the state that fails (and the restorable time
/// ready): how people and machines see them.
fn signals() -> CheckReport {
    let a = Address::new;
    let rows = vec![
        row(
            "us-west-2",
            Check::VcpuQuota,
            Verdict::NotReady,
            Measure::Count(4),
            Measure::Count(6),
        ),
        row(
            "us-west-2",
            Check::LatestRestorable {
                database: a("region.us-east-1.database.orders"),
            },
            Verdict::Ready,
            Measure::Seconds(120.0),
            Measure::Seconds(300.0),
        ),
        row(
            "us-west-2",
            Check::Canary {
                replication: a("region.us-east-1.bucket.receipts.replication"),
            },
            Verdict::NotReady,
            Measure::None,
            Measure::Seconds(300.0),
        ),
        row(
            "us-west-2",
            Check::SecretReplica {
                secret: a("region.us-east-1.database.orders.secret"),
            },
            Verdict::NotReady,
            Measure::InSync(false),
            Measure::InSync(true),
        ),
        row(
            "us-west-2",
            Check::TargetHealth {
                target_group: a("region.us-west-2.cluster.web.target_group"),
            },
            Verdict::NotReady,
            Measure::Count(0),
            Measure::Count(1),
        ),
        row(
            "us-west-2",
            Check::HealthCheck {
                health_check: a("dns.api.health_check.us-west-2"),
            },
            Verdict::NotReady,
            Measure::Healthy(false),
            Measure::Healthy(true),
        ),
    ];
    CheckReport {
        format_version: CHECK_FORMAT_VERSION,
        environment: "prod".into(),
        regions: vec!["us-west-2".into()],
        rows,
    }
}

#[test]
fn check_signal_rows_for_people() {
    insta::assert_snapshot!(text(&signals(), false));
}

#[test]
fn check_signal_rows_as_json() {
    let doc: serde_json::Value = serde_json::from_str(&json(&signals(), false)).unwrap();
    let checks: Vec<&str> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        checks,
        [
            "vcpu_quota",
            "latest_restorable",
            "canary",
            "secret_replica",
            "target_health",
            "health_check"
        ]
    );
    insta::assert_json_snapshot!(doc);
}
