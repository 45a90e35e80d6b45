//! `drift --format json`: the document and its conversion from a `DriftReport`.

use super::ChangeFile;
use crate::dr::{DriftKind, DriftReport, DriftSummary, Drifted, Ignored, RoleDifference};
use crate::state::file::RoleWord;
use crate::topology::Kind;
use serde::Serialize;

/// Version of the `drift --format json` document.
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize)]
struct DriftFile<'a> {
    format_version: u32,
    environment: &'a str,
    drifted: bool,
    summary: SummaryFile,
    notes: &'a [String],
    roles: RolesFile<'a>,
    resources: Vec<DriftedFile<'a>>,
    ignored: Vec<IgnoredFile<'a>>,
}

#[derive(Debug, Serialize)]
struct SummaryFile {
    checked: usize,
    changed: usize,
    missing: usize,
    unmanaged: usize,
    not_applied: usize,
    roles: usize,
    ignored: usize,
}

#[derive(Debug, Serialize)]
struct RolesFile<'a> {
    count_as_drift: bool,
    differences: Vec<RoleDifferenceFile<'a>>,
}

#[derive(Debug, Serialize)]
struct RoleDifferenceFile<'a> {
    region: &'a str,
    state: RoleWord,
    spec: RoleWord,
}

/// What is wrong with one address, in the document's words.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
enum DriftWord {
    Changed,
    Missing,
    Unmanaged,
    NotApplied,
}

#[derive(Debug, Serialize)]
struct DriftedFile<'a> {
    address: &'a str,
    drift: DriftWord,
    kind: Kind,
    region: Option<&'a str>,
    id: Option<&'a str>,
    changes: Vec<ChangeFile<'a>>,
    detail: &'a str,
}

#[derive(Debug, Serialize)]
struct IgnoredFile<'a> {
    address: &'a str,
    drift: DriftWord,
    keys: &'a [String],
    rule: &'a str,
    reason: &'a str,
    until: Option<&'a str>,
}

/// The JSON document, pretty-printed and ending in a newline.
pub fn json(r: &DriftReport) -> String {
    let mut s = serde_json::to_string_pretty(&DriftFile::from(r)).unwrap_or_default();
    s.push('\n');
    s
}

impl<'a> From<&'a DriftReport> for DriftFile<'a> {
    fn from(r: &'a DriftReport) -> Self {
        DriftFile {
            format_version: VERSION,
            environment: &r.environment,
            drifted: r.has_drift(),
            summary: r.summary().into(),
            notes: &r.notes,
            roles: RolesFile {
                count_as_drift: r.roles_as_drift,
                differences: r.role_differences.iter().map(Into::into).collect(),
            },
            resources: r.drifted.iter().map(Into::into).collect(),
            ignored: r.ignored.iter().map(Into::into).collect(),
        }
    }
}

impl From<DriftSummary> for SummaryFile {
    fn from(s: DriftSummary) -> Self {
        SummaryFile {
            checked: s.checked,
            changed: s.changed,
            missing: s.missing,
            unmanaged: s.unmanaged,
            not_applied: s.not_applied,
            roles: s.roles,
            ignored: s.ignored,
        }
    }
}

impl<'a> From<&'a RoleDifference> for RoleDifferenceFile<'a> {
    fn from(x: &'a RoleDifference) -> Self {
        RoleDifferenceFile {
            region: &x.region,
            state: x.state.into(),
            spec: x.spec.into(),
        }
    }
}

impl From<DriftKind> for DriftWord {
    fn from(k: DriftKind) -> Self {
        match k {
            DriftKind::Changed => DriftWord::Changed,
            DriftKind::Missing => DriftWord::Missing,
            DriftKind::Unmanaged => DriftWord::Unmanaged,
            DriftKind::NotApplied => DriftWord::NotApplied,
        }
    }
}

impl<'a> From<&'a Drifted> for DriftedFile<'a> {
    fn from(d: &'a Drifted) -> Self {
        DriftedFile {
            address: d.address.as_str(),
            drift: d.drift.into(),
            kind: d.kind,
            region: d.region.as_deref(),
            id: d.id.as_deref(),
            changes: d.changes.iter().map(Into::into).collect(),
            detail: &d.detail,
        }
    }
}

impl<'a> From<&'a Ignored> for IgnoredFile<'a> {
    fn from(i: &'a Ignored) -> Self {
        IgnoredFile {
            address: i.address.as_str(),
            drift: i.drift.into(),
            keys: &i.keys,
            rule: &i.rule,
            reason: &i.reason,
            until: i.until.as_deref(),
        }
    }
}
