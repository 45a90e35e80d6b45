//! Names are fixed at creation: a resource the state holds keeps the name it was created
//! with, so renaming a component (and moving its addresses with `standby state mv`)
//! replaces nothing.
//!
//! Invariant: pinning changes names only (the `name`, the `Name` tag and the attributes that
//! hold a name), never addresses; after it, no two desired resources share a name.

use super::{Desired, Kind, TAG_NAME};
use crate::address::Address;
use anyhow::{bail, Result};
use serde_json::Value;
use std::collections::BTreeMap;

/// The attribute that holds a kind's AWS name, if it has one.
pub fn name_attr(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::SecurityGroup => Some("group_name"),
        Kind::Bucket => Some("bucket"),
        Kind::ReplicationRole => Some("role_name"),
        Kind::DbSubnetGroup | Kind::DbSecret => Some("name"),
        Kind::Database | Kind::DbSnapshot => Some("identifier"),
        Kind::LaunchTemplate | Kind::AutoScalingGroup | Kind::LoadBalancer | Kind::TargetGroup => {
            Some("name")
        }
        _ => None,
    }
}

/// Whether standby derives the kind's name from service, environment and component. Route 53
/// names are the spec's DNS names, a bucket replication is named after its bucket and a
/// backup replication after its source database.
fn derived(kind: Kind) -> bool {
    !matches!(
        kind,
        Kind::HostedZone
            | Kind::HealthCheck
            | Kind::Record
            | Kind::BucketReplication
            | Kind::BackupReplication
    )
}

/// Gives each desired resource the name `recorded` holds for its address, and makes bucket
/// replications follow their buckets' names.
pub fn pin_names(desired: &mut [Desired], recorded: &BTreeMap<Address, String>) {
    let mut renamed: BTreeMap<String, String> = BTreeMap::new();
    for d in desired.iter_mut().filter(|d| derived(d.kind)) {
        let Some(name) = recorded.get(&d.address).filter(|n| **n != d.name) else {
            continue;
        };
        if d.kind == Kind::Bucket {
            renamed.insert(d.name.clone(), name.clone());
        }
        d.name = name.clone();
        if d.tags.contains_key(TAG_NAME) {
            d.tags.insert(TAG_NAME.into(), name.clone());
        }
        if let Some(key) = name_attr(d.kind) {
            d.attrs.insert(key.into(), Value::String(name.clone()));
        }
    }
    if renamed.is_empty() {
        return;
    }
    let rename = |v: &mut Value| {
        if let Some(new) = v.as_str().and_then(|b| renamed.get(b)) {
            *v = Value::String(new.clone());
        }
    };
    for d in desired
        .iter_mut()
        .filter(|d| d.kind == Kind::ReplicationRole)
    {
        if let Some(Value::Array(buckets)) = d.attrs.get_mut("buckets") {
            buckets.iter_mut().for_each(rename);
            buckets.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }
    for d in desired
        .iter_mut()
        .filter(|d| d.kind == Kind::BucketReplication)
    {
        if let Some(v) = d.attrs.get_mut("bucket") {
            rename(v);
        }
        if let Some(Value::Array(dests)) = d.attrs.get_mut("destinations") {
            for dest in dests.iter_mut() {
                if let Some(v) = dest.get_mut("bucket") {
                    rename(v);
                }
            }
            // Sorted by bucket, as expansion and the refresh have them.
            dests.sort_by(|a, b| a["bucket"].as_str().cmp(&b["bucket"].as_str()));
        }
        if let Some(bucket) = d.attrs.get("bucket").and_then(Value::as_str) {
            d.name = format!("{bucket}-replication");
            if d.tags.contains_key(TAG_NAME) {
                d.tags.insert(TAG_NAME.into(), d.name.clone());
            }
        }
    }
}

/// Refuses two desired resources of one kind with the same derived name where AWS needs it
/// unique (a region, or everywhere for buckets and roles): typically a new component named
/// like one whose resources were moved with `standby state mv` and kept their names.
pub fn check_unique_names(desired: &[Desired], recorded: &BTreeMap<Address, String>) -> Result<()> {
    let mut seen: BTreeMap<(Kind, Option<&str>, &str), &Address> = BTreeMap::new();
    for d in desired.iter().filter(|d| derived(d.kind)) {
        let global = matches!(d.kind, Kind::Bucket | Kind::ReplicationRole);
        let region = if global { None } else { d.region.as_deref() };
        let Some(other) = seen.insert((d.kind, region, d.name.as_str()), &d.address) else {
            continue;
        };
        let (kept, new) = if recorded.contains_key(&d.address) {
            (&d.address, other)
        } else {
            (other, &d.address)
        };
        if recorded.contains_key(kept) {
            bail!(
                "{new} would be named {}, the name {kept} keeps from when it was created (names stay fixed, also after `standby state mv`): give {new}'s component another name",
                d.name
            );
        }
        bail!(
            "{other} and {} would both be named {}: rename one of their components",
            d.address,
            d.name
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn desired(address: &str, kind: Kind, name: &str, attrs: Value) -> Desired {
        Desired {
            address: Address::new(address),
            kind,
            region: Some("us-east-1".into()),
            name: name.into(),
            attrs: attrs.as_object().unwrap().clone(),
            tags: BTreeMap::from([(TAG_NAME.to_string(), name.to_string())]),
            refs: BTreeMap::new(),
            depends_on: vec![],
            bindings: BTreeMap::new(),
            prevent_destroy: false,
        }
    }

    #[test]
    fn a_recorded_name_wins_and_replications_follow_their_buckets() {
        let mut ds = vec![
            desired(
                "region.us-east-1.bucket.logs",
                Kind::Bucket,
                "c-p-logs-us-east-1",
                json!({"bucket": "c-p-logs-us-east-1"}),
            ),
            desired(
                "region.us-east-1.bucket.logs.replication",
                Kind::BucketReplication,
                "c-p-logs-us-east-1-replication",
                json!({"bucket": "c-p-logs-us-east-1", "destinations": [{"bucket": "c-p-logs-us-west-2"}]}),
            ),
            desired(
                "region.us-west-2.bucket.logs",
                Kind::Bucket,
                "c-p-logs-us-west-2",
                json!({"bucket": "c-p-logs-us-west-2"}),
            ),
        ];
        let recorded = BTreeMap::from([
            (ds[0].address.clone(), "c-p-receipts-us-east-1".to_string()),
            (ds[2].address.clone(), "c-p-receipts-us-west-2".to_string()),
        ]);
        pin_names(&mut ds, &recorded);
        assert_eq!(ds[0].attrs["bucket"], "c-p-receipts-us-east-1");
        assert_eq!(ds[0].tags[TAG_NAME], "c-p-receipts-us-east-1");
        assert_eq!(ds[1].attrs["bucket"], "c-p-receipts-us-east-1");
        assert_eq!(
            ds[1].attrs["destinations"][0]["bucket"],
            "c-p-receipts-us-west-2"
        );
        assert_eq!(ds[1].name, "c-p-receipts-us-east-1-replication");
        check_unique_names(&ds, &recorded).unwrap();
    }

    #[test]
    fn a_new_component_cannot_take_a_kept_name() {
        let moved = desired(
            "region.us-east-1.cluster.frontend.security_group",
            Kind::SecurityGroup,
            "c-p-web-us-east-1",
            json!({}),
        );
        let new = desired(
            "region.us-east-1.cluster.web.security_group",
            Kind::SecurityGroup,
            "c-p-web-us-east-1",
            json!({}),
        );
        let recorded = BTreeMap::from([(moved.address.clone(), moved.name.clone())]);
        let err = check_unique_names(&[moved, new], &recorded)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("region.us-east-1.cluster.web.security_group would be named c-p-web-us-east-1, the name region.us-east-1.cluster.frontend.security_group keeps"),
            "{err}"
        );
    }
}
