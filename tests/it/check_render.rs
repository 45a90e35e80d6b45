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
