//! The diff: desired resources against the prior (refreshed) ones, per address.
//!
//! Invariant: only attributes the desired resource manages are compared, so settings AWS
//! adds on its own never show up as changes; a replacement always carries its reason.

use super::{Action, Change, ChangeReason};
use crate::address::Address;
use crate::provider::Observed;
use crate::topology::{reads, Desired, Kind};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    /// `--target`: only these addresses (and what lies inside them), plus what they need.
    pub targets: Vec<Address>,
    /// Delete everything the prior holds (`standby destroy`).
    pub destroy: bool,
    /// `--replace`: these existing resources are replaced even when nothing changed.
    pub replace: Vec<Address>,
    /// Regions whose resources are left alone (failed regions awaiting a rebuild, regions
    /// assumed down): nothing there is deleted.
    pub frozen_regions: BTreeSet<String>,
    /// Frozen regions that are reachable (a failed primary that still answers): their
    /// bucket replication is deleted and their writable database stopped, so the old
    /// primary neither replicates nor takes writes.
    pub fenced_regions: BTreeSet<String>,
    /// When the plan is made (Unix seconds): names the snapshots of the fence's stops.
    pub fence_time: i64,
}

pub fn diff(desired: &[Desired], prior: &[Observed], opts: &DiffOptions) -> Vec<Action> {
    let prior_by: BTreeMap<&Address, &Observed> = prior.iter().map(|o| (&o.address, o)).collect();
    let mut actions: BTreeMap<Address, Action> = BTreeMap::new();

    if !opts.destroy {
        for d in desired {
            let action = match prior_by.get(&d.address) {
                None => Some(Action::Create { desired: d.clone() }),
                Some(current) if opts.replace.contains(&d.address) => {
                    Some(replace_requested(d, current))
                }
                Some(current) => compare(d, current),
            };
            if let Some(a) = action {
                actions.insert(d.address.clone(), a);
            }
        }
        cascade_replacements(desired, &prior_by, &mut actions);
    }

    let desired_addresses: BTreeSet<&Address> = desired.iter().map(|d| &d.address).collect();
    for o in prior {
        // An instance a restore replaced stays until `standby restore --cleanup`.
        if reads::kept(&o.attrs) && !opts.destroy {
            continue;
        }
        let frozen = o
            .region
            .as_ref()
            .is_some_and(|r| opts.frozen_regions.contains(r));
        if frozen {
            let fenced = o
                .region
                .as_ref()
                .is_some_and(|r| opts.fenced_regions.contains(r));
            if fenced && !desired_addresses.contains(&o.address) {
                let fence = match o.kind {
                    Kind::BucketReplication => Some(Action::Delete {
                        current: o.clone(),
                        reason: ChangeReason::Fence,
                    }),
                    Kind::Database => super::fence_stop(o, prior, desired, opts.fence_time),
                    _ => None,
                };
                actions.extend(fence.map(|a| (o.address.clone(), a)));
            }
            continue;
        }
        if opts.destroy {
            actions.insert(
                o.address.clone(),
                Action::Delete {
                    current: o.clone(),
                    reason: ChangeReason::Destroy,
                },
            );
        } else if !desired_addresses.contains(&o.address) {
            actions.insert(
                o.address.clone(),
                Action::Delete {
                    current: o.clone(),
                    reason: ChangeReason::NotInSpec,
                },
            );
        }
    }

    if !opts.targets.is_empty() {
        restrict_to_targets(&mut actions, desired, prior, &opts.targets);
    }
    // A fence comes first: it runs before anything else (`environment`'s stages).
    let mut actions: Vec<Action> = actions.into_values().collect();
    actions.sort_by_key(|a| !a.fences());
    actions
}

/// A read replica that becomes standalone is promoted in place; every other change of
/// `replica_of` needs a new database.
fn is_promotion(kind: Kind, c: &Change) -> bool {
    kind == Kind::Database && c.key == "replica_of" && c.after.is_null() && !c.before.is_null()
}

/// The one comparison plan and drift share: each wanted value of `kind` that `live` does not
/// fulfil, as a change from the live value to the wanted one.
pub fn unfulfilled<'a>(
    kind: Kind,
    wanted: impl IntoIterator<Item = (&'a String, &'a Value)>,
    live: &Observed,
) -> Vec<Change> {
    wanted
        .into_iter()
        .filter(|(k, v)| !kind.fulfils(k, v, live.attrs.get(*k)))
        .map(|(k, v)| Change {
            key: k.clone(),
            before: live.attrs.get(k).cloned().unwrap_or(Value::Null),
            after: v.clone(),
        })
        .collect()
}

fn compare(d: &Desired, current: &Observed) -> Option<Action> {
    let changes = unfulfilled(d.kind, &d.attrs, current);
    if changes.is_empty() {
        return None;
    }
    let forcing: Vec<&Change> = changes
        .iter()
        .filter(|c| d.kind.replace_keys().contains(&c.key.as_str()))
        .filter(|c| !is_promotion(d.kind, c))
        .collect();
    if forcing.is_empty() {
        return Some(Action::Update {
            desired: d.clone(),
            current: current.clone(),
            changes,
            reason: None,
        });
    }
    let reason = ChangeReason::CannotUpdate(forcing.iter().map(|c| c.key.clone()).collect());
    Some(Action::Replace {
        desired: d.clone(),
        current: current.clone(),
        changes,
        reason,
    })
}

/// `--replace`: a replacement whatever changed, with the changes there are.
fn replace_requested(d: &Desired, current: &Observed) -> Action {
    let changes = match compare(d, current) {
        Some(Action::Update { changes, .. } | Action::Replace { changes, .. }) => changes,
        _ => Vec::new(),
    };
    Action::Replace {
        desired: d.clone(),
        current: current.clone(),
        changes,
        reason: ChangeReason::ReplaceRequested,
    }
}

/// A resource whose reference is replaced must be replaced too: its old parent goes away.
fn cascade_replacements(
    desired: &[Desired],
    prior_by: &BTreeMap<&Address, &Observed>,
    actions: &mut BTreeMap<Address, Action>,
) {
    loop {
        let replaced: BTreeSet<Address> = actions
            .iter()
            .filter(|(_, a)| matches!(a, Action::Replace { .. }))
            .map(|(k, _)| k.clone())
            .collect();
        let mut grew = false;
        for d in desired {
            if replaced.contains(&d.address) {
                continue;
            }
            let Some(current) = prior_by.get(&d.address) else {
                continue;
            };
            if let Some(parent) = d.refs.values().find(|r| replaced.contains(*r)) {
                let changes = match actions.remove(&d.address) {
                    Some(Action::Update { changes, .. }) => changes,
                    _ => Vec::new(),
                };
                actions.insert(
                    d.address.clone(),
                    Action::Replace {
                        desired: d.clone(),
                        current: (*current).clone(),
                        changes,
                        reason: ChangeReason::ParentReplaced(parent.clone()),
                    },
                );
                grew = true;
            }
        }
        if !grew {
            return;
        }
    }
}

/// Keeps the targeted actions and the actions of everything they depend on.
fn restrict_to_targets(
    actions: &mut BTreeMap<Address, Action>,
    desired: &[Desired],
    prior: &[Observed],
    targets: &[Address],
) {
    let deps: BTreeMap<&Address, Vec<&Address>> = desired
        .iter()
        .map(|d| (&d.address, d.dependencies().collect()))
        .chain(
            prior
                .iter()
                .map(|o| (&o.address, o.depends_on.iter().collect())),
        )
        .collect();
    let mut keep: BTreeSet<Address> = BTreeSet::new();
    let mut stack: Vec<Address> = actions
        .keys()
        .filter(|a| targets.iter().any(|t| t.contains(a)))
        .cloned()
        .collect();
    while let Some(a) = stack.pop() {
        if !keep.insert(a.clone()) {
            continue;
        }
        if let Some(ds) = deps.get(&a) {
            stack.extend(
                ds.iter()
                    .filter(|d| actions.contains_key(**d))
                    .map(|d| (*d).clone()),
            );
        }
    }
    actions.retain(|a, _| keep.contains(a));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn desired(addr: &str, kind: Kind, attrs: Value, refs: &[(&str, &str)]) -> Desired {
        Desired {
            address: Address::new(addr),
            kind,
            region: Some("us-east-1".into()),
            name: addr.into(),
            attrs: attrs.as_object().unwrap().clone(),
            tags: Default::default(),
            refs: refs
                .iter()
                .map(|(k, v)| (k.to_string(), Address::new(*v)))
                .collect(),
            depends_on: vec![],
            bindings: Default::default(),
            prevent_destroy: false,
        }
    }

    fn observed(d: &Desired) -> Observed {
        Observed {
            address: d.address.clone(),
            kind: d.kind,
            region: d.region.clone(),
            id: format!("id-{}", d.address),
            attrs: d.attrs.clone(),
            computed: Default::default(),
            depends_on: d.dependencies().cloned().collect(),
        }
    }

    #[test]
    fn unchanged_resources_plan_nothing_and_new_ones_are_created() {
        let vpc = desired("v", Kind::Vpc, json!({"cidr": "10.0.0.0/16"}), &[]);
        let sub = desired(
            "s",
            Kind::Subnet,
            json!({"zone": "a", "cidr": "10.0.0.0/24"}),
            &[("vpc", "v")],
        );
        let actions = diff(
            &[vpc.clone(), sub.clone()],
            &[observed(&vpc)],
            &DiffOptions::default(),
        );
        assert_eq!(actions.len(), 1);
        assert!(
            matches!(&actions[0], Action::Create { desired } if desired.address.as_str() == "s")
        );
    }

    #[test]
    fn replacement_names_its_reason_and_cascades_to_dependents() {
        let vpc = desired("v", Kind::Vpc, json!({"cidr": "10.0.0.0/16"}), &[]);
        let sub = desired(
            "s",
            Kind::Subnet,
            json!({"zone": "a", "cidr": "10.0.0.0/24"}),
            &[("vpc", "v")],
        );
        let prior = vec![observed(&vpc), observed(&sub)];
        let changed = desired("v", Kind::Vpc, json!({"cidr": "10.9.0.0/16"}), &[]);
        let actions = diff(&[changed, sub], &prior, &DiffOptions::default());
        let reasons: Vec<String> = actions
            .iter()
            .map(|a| match a {
                Action::Replace { reason, .. } => reason.to_string(),
                other => panic!("expected a replacement, got {other:?}"),
            })
            .collect();
        assert_eq!(reasons, ["v is replaced", "`cidr` cannot change in place"]);
    }

    #[test]
    fn in_place_change_is_an_update_and_removed_resources_are_deleted() {
        let sg = desired(
            "g",
            Kind::SecurityGroup,
            json!({"group_name": "x", "port": 443}),
            &[],
        );
        let old = desired("old", Kind::Vpc, json!({"cidr": "10.0.0.0/16"}), &[]);
        let prior = vec![observed(&sg), observed(&old)];
        let new_sg = desired(
            "g",
            Kind::SecurityGroup,
            json!({"group_name": "x", "port": 80}),
            &[],
        );
        let actions = diff(&[new_sg], &prior, &DiffOptions::default());
        assert!(matches!(&actions[0], Action::Update { changes, .. } if changes[0].key == "port"));
        assert!(matches!(&actions[1], Action::Delete { .. }));
    }

    #[test]
    fn target_keeps_dependencies_and_drops_the_rest() {
        let vpc = desired(
            "region.r.network.vpc",
            Kind::Vpc,
            json!({"cidr": "10.0.0.0/16"}),
            &[],
        );
        let sub = desired(
            "region.r.network.subnet.a",
            Kind::Subnet,
            json!({"zone": "a"}),
            &[("vpc", "region.r.network.vpc")],
        );
        let other = desired(
            "region.r.cluster.web.security_group",
            Kind::SecurityGroup,
            json!({}),
            &[],
        );
        let opts = DiffOptions {
            targets: vec![Address::new("region.r.network.subnet")],
            ..Default::default()
        };
        let actions = diff(&[vpc, sub, other], &[], &opts);
        let addrs: Vec<&str> = actions.iter().map(|a| a.address().as_str()).collect();
        assert_eq!(addrs, ["region.r.network.subnet.a", "region.r.network.vpc"]);
    }

    #[test]
    fn replace_forces_a_replacement_that_cascades() {
        let vpc = desired("v", Kind::Vpc, json!({"cidr": "10.0.0.0/16"}), &[]);
        let sub = desired("s", Kind::Subnet, json!({"zone": "a"}), &[("vpc", "v")]);
        let prior = vec![observed(&vpc), observed(&sub)];
        let opts = DiffOptions {
            replace: vec![Address::new("v")],
            ..Default::default()
        };
        let reasons: Vec<(String, String)> = diff(&[vpc, sub], &prior, &opts)
            .iter()
            .map(|a| match a {
                Action::Replace {
                    reason, changes, ..
                } => {
                    assert!(changes.is_empty(), "{changes:?}");
                    (a.address().to_string(), reason.to_string())
                }
                other => panic!("expected a replacement, got {other:?}"),
            })
            .collect();
        assert_eq!(
            reasons,
            [
                ("s".to_string(), "v is replaced".to_string()),
                ("v".to_string(), "replace requested".to_string())
            ]
        );
    }
}
