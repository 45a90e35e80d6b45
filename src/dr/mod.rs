//! DR operations: promote and rebuild, each building an ordinary `Plan` that is shown,
//! approved and applied by the same engine.
//!
//! Invariant: nothing here calls AWS except through the provider's reads (refresh, replica
//! lag), and never in a region assumed down; every change is an action of the plan.

mod drill;
mod promote;
mod rebuild;

pub use drill::{
    cleanup_drills, drill_state_path, prepare_drill, run_drill, DrillReport, DrillRequest,
    DrillStep, PreparedDrill,
};
pub use promote::{plan_promote, PromotePlan, PromoteRequest, RpoGate};
pub use rebuild::{plan_rebuild, RebuildRequest};
mod status;

pub use status::{status, DatabaseStatus, RegionStatus, Replication, Status};
mod drift;

pub use drift::{
    drift, kind_name, Checked, DriftKind, DriftOptions, DriftReport, DriftSummary, Drifted,
    Ignored, RoleDifference,
};
