//! The report documents other programs read: `drift --format json` and the drill's JSON
//! report, each in file types of its own.
//!
//! Invariant: the domain reports (`dr::DriftReport`, `dr::DrillReport`) are not
//! `Serialize`; the conversion here is explicit and is the only place the documents' field
//! names and words are chosen (documented in README.md, "Drift" and "Drill").

pub mod drift;
pub mod drill;
pub mod plan;
pub mod status;
