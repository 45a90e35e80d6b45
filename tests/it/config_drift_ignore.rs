//! The `drift { ignore "ADDRESS" { ... } }` block: what a valid rule decodes to, and one
//! snapshot per mistake (missing reason, bad date, unknown attribute, misplaced block).
//! Paths are rendered relative to the temporary directory (`[TMP]`).

use standby::config::{load, DriftIgnore, VarInputs};
use std::path::Path;

const BASE: &str = r#"service "checkout" {
  rto = "15m"
  rpo = "5m"
}

region "us-east-1" {
  role = "primary"
  cidr = "10.0.0.0/16"
}

cluster "web" {
  size  = 2
  image = "ami-123"
}
"#;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn load_files(files: &[(&str, &str)]) -> Result<Vec<DriftIgnore>, String> {
    let tmp = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        write(tmp.path(), rel, text);
    }
    load(&tmp.path().join("environments/prod"), &VarInputs::default())
        .map(|spec| spec.drift_ignores)
        .map_err(|d| {
            d.to_string()
                .replace(&tmp.path().display().to_string(), "[TMP]")
        })
}

/// The base environment plus `extra` as `drift.hcl`.
fn load_extra(extra: &str) -> Result<Vec<DriftIgnore>, String> {
    load_files(&[
        ("environments/prod/main.hcl", BASE),
        ("environments/prod/drift.hcl", extra),
    ])
}

fn diagnose(extra: &str) -> String {
    match load_extra(extra) {
        Ok(rules) => panic!("the spec loaded: {rules:?}"),
        Err(d) => d,
    }
}

#[test]
fn rules_decode_with_defaults() {
    let rules = load_extra(
        r#"
locals {
  why = "autoscaling experiments"
}

drift {
  ignore "region.us-east-1.cluster.web.instance" {
    attributes = ["instance_type"]
    reason     = local.why
    until      = "2026-12-31"
  }
  ignore "dns.api" {
    reason = "the DNS team owns these records"
  }
}
"#,
    )
    .unwrap();
    assert_eq!(
        rules,
        [
            DriftIgnore {
                address: "region.us-east-1.cluster.web.instance".into(),
                attributes: vec!["instance_type".into()],
                reason: "autoscaling experiments".into(),
                until: Some(time::macros::date!(2026 - 12 - 31)),
            },
            DriftIgnore {
                address: "dns.api".into(),
                attributes: vec![],
                reason: "the DNS team owns these records".into(),
                until: None,
            }
        ]
    );
}

#[test]
fn no_drift_block_means_no_rules() {
    assert_eq!(load_extra("").unwrap(), []);
}

#[test]
fn missing_reason() {
    insta::assert_snapshot!(diagnose(
        "drift {\n  ignore \"region.us-east-1.cluster.web\" {\n    attributes = [\"image\"]\n  }\n}\n"
    ));
}

#[test]
fn empty_reason() {
    insta::assert_snapshot!(diagnose(
        "drift {\n  ignore \"dns.api\" {\n    reason = \"  \"\n  }\n}\n"
    ));
}

#[test]
fn bad_date() {
    insta::assert_snapshot!(diagnose(
        "drift {\n  ignore \"dns.api\" {\n    reason = \"dns team\"\n    until  = \"2026-13-01\"\n  }\n}\n"
    ));
}

#[test]
fn unknown_attribute() {
    insta::assert_snapshot!(diagnose(
        "drift {\n  ignore \"region.us-east-1.cluster.web\" {\n    attributes = [\"instance_typ\", \"colour\"]\n    reason     = \"experiments\"\n  }\n}\n"
    ));
}

#[test]
fn unknown_setting_in_a_rule() {
    insta::assert_snapshot!(diagnose(
        "drift {\n  ignore \"dns.api\" {\n    reason  = \"dns team\"\n    expires = \"2026-01-01\"\n  }\n}\n"
    ));
}

#[test]
fn rule_without_an_address() {
    insta::assert_snapshot!(diagnose(
        "drift {\n  ignore {\n    reason = \"dns team\"\n  }\n}\n"
    ));
}

#[test]
fn drift_block_in_a_module() {
    insta::assert_snapshot!(match load_files(&[
        (
            "environments/prod/main.hcl",
            &format!("{BASE}\nmodule \"jobs\" {{\n  source = \"../../modules/jobs\"\n}}\n"),
        ),
        (
            "modules/jobs/main.hcl",
            "drift {\n  ignore \"dns.api\" {\n    reason = \"dns team\"\n  }\n}\n",
        ),
    ]) {
        Ok(rules) => panic!("the spec loaded: {rules:?}"),
        Err(d) => d,
    });
}
