//! The root blocks about standby itself: `standby { backend "s3" { ... } }` and the
//! `drift { ignore ... }` rules.
//!
//! Invariant: a backend comes out only when its settings decoded and its region is an AWS
//! region; ignore rules come out one by one, each only when it decoded.

use super::aws_names::check_region;
use super::decoder::Decoder;
use super::evaluator::Evaluator;
use super::reporter::did_you_mean;
use super::schema;
use super::scope::ROOT;
use super::source::Loc;
use super::spec::{Backend, BackendReplica, DriftIgnore};
use hcl_edit::Span;

/// `standby { backend "s3" { bucket, key, region, kms_key_id, replica { bucket, region } } }`:
/// `bucket`, `key` and `region` are required, and both of the optional replica's, whose
/// region must differ from the backend's. `Some(None)` when there is no backend.
pub fn decode_backend(ev: &mut Evaluator) -> Option<Option<Backend>> {
    let decls = ev.scopes[ROOT].standby.clone();
    for extra in decls.iter().skip(1) {
        ev.reporter.error(
            extra.loc,
            "duplicate `standby` block",
            "keep a single `standby` block".to_string(),
        );
    }
    let Some(decl) = decls.first() else {
        return Some(None);
    };
    let Some(block) = decl.block.body.get_blocks("backend").next() else {
        return Some(None);
    };
    let kind = block.labels.first().map(|l| l.as_str()).unwrap_or_default();
    if kind != "s3" {
        let loc = Loc::of(decl.file, block.labels.first().and_then(Span::span));
        ev.reporter.error(
            loc,
            format!("unsupported backend `{kind}`"),
            "use `backend \"s3\" { ... }`".to_string(),
        );
        return None;
    }
    let body = ev.eval_body(ROOT, decl.file, &block.body, &schema::BACKEND);
    let loc = Loc::of(decl.file, block.ident.span());
    let mut d = Decoder::new(&mut ev.reporter, &body, loc, "backend `s3`");
    let bucket = d.string("bucket", None);
    let key = d.string("key", None);
    let region = d.string("region", None);
    if d.has_value("region") {
        if let Err((message, help)) = check_region(&region) {
            d.invalid("region", message, help);
        }
    }
    let kms_key_id = d.optional_string("kms_key_id");
    let replica = d.nested("replica", |r| {
        let bucket = r.string("bucket", None);
        let replica_region = r.string("region", None);
        if r.has_value("region") {
            if let Err((message, help)) = check_region(&replica_region) {
                r.invalid("region", message, help);
            } else if replica_region == region {
                r.invalid(
                    "region",
                    format!("the state replica is in {region}, the backend's own region"),
                    "put the replica in another region, so that it outlives an outage of the backend's".to_string(),
                );
            }
        }
        r.done(BackendReplica {
            bucket,
            region: replica_region,
        })
    });
    d.done(Some(Backend {
        bucket,
        key,
        region,
        kms_key_id,
        replica,
    }))
}

/// `drift { ignore "ADDRESS" { attributes, reason, until } }`, from every `drift` block:
/// `reason` is required, `until` is a `YYYY-MM-DD` date and `attributes` only names keys
/// some resource kind manages. Problems are reported; the rules that decoded come back.
pub fn decode_drift_ignores(ev: &mut Evaluator) -> Vec<DriftIgnore> {
    let decls = ev.scopes[ROOT].drift.clone();
    let mut out = Vec::new();
    for decl in &decls {
        for block in decl.block.body.get_blocks("ignore") {
            let Some(label) = block.labels.first() else {
                continue;
            };
            let address = label.as_str().trim().to_string();
            let label_loc = Loc::of(decl.file, label.span());
            if address.is_empty() || address.contains(|c: char| c.is_whitespace() || c.is_control())
            {
                ev.reporter.error(
                    label_loc,
                    format!("invalid address `{address}` in a drift ignore rule"),
                    "write an address prefix as `--target` takes it, such as `region.us-east-1.cluster.web`".to_string(),
                );
            }
            let body = ev.eval_body(ROOT, decl.file, &block.body, &schema::DRIFT_IGNORE);
            let loc = Loc::of(decl.file, block.ident.span());
            let mut d = Decoder::new(&mut ev.reporter, &body, loc, format!("ignore `{address}`"));
            let reason = d.string("reason", None);
            if d.has_value("reason") && reason.trim().is_empty() {
                d.invalid(
                    "reason",
                    "`reason` is empty".to_string(),
                    "say why this drift is accepted, such as `reason = \"autoscaling experiments\"`".to_string(),
                );
            }
            let attributes = d.string_list("attributes").unwrap_or_default();
            for key in &attributes {
                if !crate::topology::ATTRIBUTE_KEYS.contains(&key.as_str()) {
                    let help = did_you_mean(
                        key,
                        crate::topology::ATTRIBUTE_KEYS.iter().copied(),
                        format!(
                            "standby manages only {}",
                            crate::topology::ATTRIBUTE_KEYS
                                .iter()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                    d.invalid(
                        "attributes",
                        format!("unknown attribute `{key}` in ignore `{address}`"),
                        help,
                    );
                }
            }
            let until = d.optional_string("until").and_then(|text| {
                let format = time::macros::format_description!("[year]-[month]-[day]");
                match time::Date::parse(&text, &format) {
                    Ok(date) => Some(date),
                    Err(_) => {
                        d.invalid(
                            "until",
                            format!("invalid date `{text}` for `until`"),
                            "write the last day the rule applies as `YYYY-MM-DD`, such as `2026-12-31`".to_string(),
                        );
                        None
                    }
                }
            });
            if let Some(rule) = d.done(DriftIgnore {
                address,
                attributes,
                reason,
                until,
            }) {
                out.push(rule);
            }
        }
    }
    out
}
