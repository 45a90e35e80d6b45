//! The report documents other programs read: `drift --format json`, the drill's JSON
//! report, `status --json` and `plan --json`, each in file types of its own.
//!
//! Invariant: the domain values (`dr::DriftReport`, `dr::DrillReport`, `dr::Status`,
//! `plan::Plan` with its `Change`s and `Summary`, `dr::Estimate`) are not
//! `Serialize`; the conversion here is explicit and is the only place the documents' field
//! names and words are chosen (documented in README.md).

pub mod drift;
pub mod drill;
pub mod plan;
pub mod status;

use crate::plan::Change;
use serde::Serialize;
use serde_json::Value;

/// One attribute's change, as the plan and drift documents list it.
#[derive(Debug, Serialize)]
struct ChangeFile<'a> {
    key: &'a str,
    before: &'a Value,
    after: &'a Value,
}

impl<'a> From<&'a Change> for ChangeFile<'a> {
    fn from(c: &'a Change) -> Self {
        ChangeFile {
            key: &c.key,
            before: &c.before,
            after: &c.after,
        }
    }
}
