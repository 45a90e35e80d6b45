//! Saved plans (`plan --out FILE`, `apply FILE`): the plan as versioned JSON.
//!
//! Invariant: a plan file holds no secret (plans never do), is written whole with mode 0600,
//! and loads only when its format version is one this build understands.

use super::{Plan, PLAN_FORMAT_VERSION};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Saves `plan` atomically, readable by its owner only.
pub fn save_plan(plan: &Plan, path: &Path) -> Result<()> {
    let json = serde_json::to_vec_pretty(plan)?;
    crate::private_file::write_private(path, &json, "the plan")
}

pub fn load_plan(path: &Path) -> Result<Plan> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read the plan {}", path.display()))?;
    let plan: Plan = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a standby plan file", path.display()))?;
    if plan.format_version != PLAN_FORMAT_VERSION {
        bail!(
            "the plan {} has format version {}; this standby reads version {}: make the plan again",
            path.display(),
            plan.format_version,
            PLAN_FORMAT_VERSION
        );
    }
    Ok(plan)
}
