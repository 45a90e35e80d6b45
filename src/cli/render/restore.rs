//! `standby restore`: what a restore swaps and brings back, shown under its plan.

use crate::dr::{rfc3339, BucketRestore, RestorePoint, Swap};
use crate::provider::ObjectStep;
use std::fmt::Write;

/// What the restore swaps, database by database.
pub fn restore_summary(
    region: &str,
    point: &RestorePoint,
    swaps: &[Swap],
    buckets: &[BucketRestore],
) -> String {
    let point = match point {
        RestorePoint::Time(t) => format!("as of {}", rfc3339(*t)),
        RestorePoint::Latest => "as of the latest restorable time".to_string(),
        RestorePoint::Snapshot(id) => format!("from snapshot {id}"),
    };
    let mut out = format!("\nRestore of {region} {point}:\n");
    for s in swaps {
        let _ = writeln!(
            out,
            "  {}: a new {} takes over; the current instance is kept as {}, stopped, with snapshot {}",
            s.address, s.identifier, s.kept_as, s.snapshot
        );
        for f in &s.followers {
            let _ = writeln!(out, "    {f} is re-created from it");
        }
    }
    for b in buckets {
        let _ = writeln!(out, "  bucket {}: {} objects", b.bucket, b.steps.len());
        for step in &b.steps {
            let what = match step {
                ObjectStep::Revert { version_id, .. } => {
                    format!("back to version {version_id} (a copy of it becomes current)")
                }
                ObjectStep::Undelete { markers, .. } => format!(
                    "undeleted ({} delete marker{} removed)",
                    markers.len(),
                    if markers.len() == 1 { "" } else { "s" }
                ),
                ObjectStep::Remove { .. } => "deleted (it did not exist then)".to_string(),
            };
            let _ = writeln!(out, "    {}: {what}", step.key());
        }
    }
    out
}
