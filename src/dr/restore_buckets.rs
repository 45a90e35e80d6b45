//! `standby restore --buckets`: each object of the region's versioned buckets brought back
//! to its version as of the restore's time, as an update of the bucket whose steps the plan
//! shows object by object.

use crate::plan::{Action, Change, Plan};
use crate::provider::{ObjectStep, ObjectVersion, Provider};
use crate::topology::{Desired, Kind};
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// One bucket's steps, for the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketRestore {
    pub bucket: String,
    pub steps: Vec<ObjectStep>,
}

/// Adds to `plan` an update of each bucket of `region` whose objects changed since `t`
/// (stage 0, beside the databases' swap).
pub(super) async fn restore_buckets(
    plan: &mut Plan,
    provider: &dyn Provider,
    desired: &[Desired],
    region: &str,
    t: OffsetDateTime,
) -> Result<Vec<BucketRestore>> {
    let mut out = Vec::new();
    let buckets = desired
        .iter()
        .filter(|d| d.kind == Kind::Bucket && d.region.as_deref() == Some(region));
    for d in buckets {
        let Some(current) = plan.prior.iter().find(|o| o.address == d.address).cloned() else {
            bail!("{} is not in AWS yet: run `standby apply` first", d.address);
        };
        let versions = provider.object_versions(region, &current.id).await?;
        let steps = steps_as_of(&versions, t);
        if steps.is_empty() {
            continue;
        }
        let mut desired = d.clone();
        let value = serde_json::to_value(&steps)?;
        desired
            .attrs
            .insert("restore_objects".into(), value.clone());
        plan.actions.push(Action::Update {
            desired,
            current,
            changes: vec![Change {
                key: "restore_objects".into(),
                before: Value::Null,
                after: json!(steps.len()),
            }],
            reason: None,
        });
        out.push(BucketRestore {
            bucket: d.name.clone(),
            steps,
        });
    }
    Ok(out)
}

/// For each key whose history moved after `t`: what brings back its state of then.
pub fn steps_as_of(versions: &[ObjectVersion], t: OffsetDateTime) -> Vec<ObjectStep> {
    let at = |v: &ObjectVersion| OffsetDateTime::parse(&v.last_modified, &Rfc3339).ok();
    let mut by_key: BTreeMap<&str, Vec<&ObjectVersion>> = BTreeMap::new();
    for v in versions {
        by_key.entry(&v.key).or_default().push(v);
    }
    let mut steps = Vec::new();
    for (key, mut history) in by_key {
        // Oldest first; of equal times, the latest last.
        history.sort_by_key(|v| (at(v), v.is_latest));
        let (then, after): (Vec<&ObjectVersion>, Vec<&ObjectVersion>) =
            history.iter().partition(|v| at(v).is_some_and(|m| m <= t));
        let Some(now) = after.last() else {
            continue;
        };
        let key = key.to_string();
        match then.last() {
            None
            | Some(ObjectVersion {
                delete_marker: true,
                ..
            }) => {
                if !now.delete_marker {
                    steps.push(ObjectStep::Remove { key });
                }
            }
            Some(_) if after.iter().all(|a| a.delete_marker) => steps.push(ObjectStep::Undelete {
                key,
                markers: after.iter().map(|m| m.version_id.clone()).collect(),
            }),
            Some(v) => steps.push(ObjectStep::Revert {
                key,
                version_id: v.version_id.clone(),
            }),
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(key: &str, id: &str, at: &str, marker: bool) -> ObjectVersion {
        ObjectVersion {
            key: key.into(),
            version_id: id.into(),
            last_modified: format!("2026-12-01T{at}Z"),
            delete_marker: marker,
            is_latest: false,
        }
    }

    #[test]
    fn each_object_goes_back_to_its_version_of_then() {
        let t = time::macros::datetime!(2026-12-01 10:00:00 UTC);
        let versions = [
            v("overwritten", "o1", "09:00:00", false),
            v("overwritten", "o2", "10:30:00", false),
            v("deleted", "d1", "09:00:00", false),
            v("deleted", "dm", "10:30:00", true),
            v("new", "n1", "10:30:00", false),
            v("untouched", "u1", "09:00:00", false),
            v("gone-then", "g1", "08:00:00", false),
            v("gone-then", "gm", "09:00:00", true),
            v("gone-then", "g2", "10:30:00", false),
        ];
        assert_eq!(
            steps_as_of(&versions, t),
            [
                ObjectStep::Undelete {
                    key: "deleted".into(),
                    markers: vec!["dm".into()]
                },
                ObjectStep::Remove {
                    key: "gone-then".into()
                },
                ObjectStep::Remove { key: "new".into() },
                ObjectStep::Revert {
                    key: "overwritten".into(),
                    version_id: "o1".into()
                },
            ]
        );
    }
}
