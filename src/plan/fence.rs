//! Fencing a failed region that answers again: what still makes it a second primary (a
//! writable database, a bucket that replicates, a DNS record), and the stop that takes its
//! database out of service.
//!
//! Invariant: a fence stops a database (with a snapshot), it never deletes one: only
//! `rebuild` replaces it. A stopped database plans nothing; one that AWS started again after
//! 7 days is writable again and is stopped again.

use super::{Action, Change, ChangeReason};
use crate::provider::Observed;
use crate::topology::{derived_identifier, reads, Desired, Kind, NAME_KEY};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A failed region that answers and could still take writes or traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitBrain {
    pub region: String,
    pub writable_database: bool,
    pub replicating_bucket: bool,
    /// The failover roles of its DNS records (`PRIMARY`, `SECONDARY`).
    pub dns: Vec<String>,
}

impl fmt::Display for SplitBrain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut what = Vec::new();
        if self.writable_database {
            what.push("a writable database".to_string());
        }
        if self.replicating_bucket {
            what.push("a bucket that replicates".to_string());
        }
        if !self.dns.is_empty() {
            what.push(format!("a DNS record ({})", self.dns.join(", ")));
        }
        write!(
            f,
            "split brain: {} is failed but still has {}",
            self.region,
            what.join(", ")
        )
    }
}

/// Statuses in which a database takes no writes until somebody starts it.
const OUT_OF_SERVICE: &[&str] = &["stopped", "stopping", "deleting"];

/// A standalone database (not a read replica, not one a restore kept) that is not stopped.
pub fn writable_database(o: &Observed) -> bool {
    o.kind == Kind::Database
        && !reads::is_replica(&o.attrs)
        && !reads::kept(&o.attrs)
        && !reads::db_status(&o.computed).is_some_and(|s| OUT_OF_SERVICE.contains(&s))
}

/// The failed `regions` (those that answered) that still have a writable database, a bucket
/// that replicates or a DNS record in `live`.
pub fn split_brain(regions: &BTreeSet<String>, live: &[Observed]) -> Vec<SplitBrain> {
    regions
        .iter()
        .filter_map(|r| {
            let here = || live.iter().filter(|o| o.region.as_deref() == Some(r));
            let s = SplitBrain {
                region: r.clone(),
                writable_database: here().any(writable_database),
                replicating_bucket: here().any(|o| o.kind == Kind::BucketReplication),
                dns: live
                    .iter()
                    .filter(|o| o.kind == Kind::Record)
                    .filter(|o| reads::set_identifier(&o.attrs) == Some(r))
                    .filter_map(|o| reads::failover(&o.attrs))
                    .map(String::from)
                    .collect(),
            };
            (s.writable_database || s.replicating_bucket || !s.dns.is_empty()).then_some(s)
        })
        .collect()
}

/// The fence's stop of `current`, a database of a failed region, when it is writable: RDS
/// `StopDBInstance` with `DBSnapshotIdentifier` takes a snapshot before it stops
/// (API_StopDBInstance.html). None while a read replica keeps following it (one this plan
/// does not promote or move), which RDS refuses to stop (USER_StopInstance.html,
/// "Limitations"). `at` (Unix seconds) names the snapshot, so that a second stop (AWS starts
/// a stopped instance after 7 days) takes a new one.
pub fn fence_stop(
    current: &Observed,
    prior: &[Observed],
    desired: &[Desired],
    at: i64,
) -> Option<Action> {
    let follows =
        |attrs: &Map<String, Value>| reads::replica_of(attrs).as_ref() == Some(&current.address);
    let followed = prior.iter().filter(|o| follows(&o.attrs)).any(|o| {
        desired
            .iter()
            .find(|d| d.address == o.address)
            .is_none_or(|d| follows(&d.attrs))
    });
    if !writable_database(current) || followed {
        return None;
    }
    let snapshot = derived_identifier(&current.id, &format!("fence-{at}"));
    let mut attrs = Map::new();
    attrs.insert("identifier".into(), json!(current.id));
    attrs.insert("stopped".into(), json!(true));
    attrs.insert("snapshot".into(), json!(snapshot));
    let name = current.computed.get(NAME_KEY).and_then(Value::as_str);
    let desired = Desired {
        address: current.address.clone(),
        kind: Kind::Database,
        region: current.region.clone(),
        name: name.unwrap_or(&current.id).to_string(),
        attrs,
        tags: BTreeMap::new(),
        refs: BTreeMap::new(),
        depends_on: current.depends_on.clone(),
        bindings: BTreeMap::new(),
        prevent_destroy: false,
    };
    let changes = vec![
        Change {
            key: "stopped".into(),
            before: json!(false),
            after: json!(true),
        },
        Change {
            key: "snapshot".into(),
            before: Value::Null,
            after: json!(snapshot),
        },
    ];
    Some(Action::Update {
        desired,
        current: current.clone(),
        changes,
        reason: Some(ChangeReason::FenceStop),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Address;

    fn database(address: &str, replica_of: Value, status: &str) -> Observed {
        let attrs = json!({ "identifier": "orders-east", "replica_of": replica_of });
        Observed {
            address: Address::new(address),
            kind: Kind::Database,
            region: Some("us-east-1".into()),
            id: "orders-east".into(),
            attrs: attrs.as_object().unwrap().clone(),
            computed: json!({ "status": status }).as_object().unwrap().clone(),
            depends_on: vec![],
        }
    }

    #[test]
    fn a_writable_database_is_stopped_with_a_named_snapshot_and_a_stopped_one_is_left() {
        let db = database("region.us-east-1.database.orders", Value::Null, "available");
        let Some(Action::Update {
            desired, reason, ..
        }) = fence_stop(&db, &[], &[], 1_700_000_000)
        else {
            panic!("a stop is planned");
        };
        assert_eq!(reason, Some(ChangeReason::FenceStop));
        assert_eq!(desired.attrs["snapshot"], "orders-east-fence-1700000000");
        assert_eq!(desired.attrs["stopped"], true);
        for status in ["stopped", "stopping"] {
            let stopped = database("region.us-east-1.database.orders", Value::Null, status);
            assert!(fence_stop(&stopped, &[], &[], 1).is_none(), "{status}");
        }
        // AWS started it again after 7 days: writable, so stopped again.
        let restarted = database("region.us-east-1.database.orders", Value::Null, "starting");
        assert!(fence_stop(&restarted, &[], &[], 1).is_some());
    }

    #[test]
    fn a_replica_or_a_database_a_replica_follows_is_not_stopped() {
        let db = database("region.us-east-1.database.orders", Value::Null, "available");
        let replica = database(
            "region.us-west-2.database.orders",
            json!("region.us-east-1.database.orders"),
            "available",
        );
        assert!(fence_stop(&replica, &[], &[], 1).is_none());
        let prior = [replica.clone()];
        assert!(fence_stop(&db, &prior, &[], 1).is_none());
        // A promote that makes the replica standalone lets the stop follow.
        let promoted = Desired {
            address: replica.address.clone(),
            kind: Kind::Database,
            region: Some("us-west-2".into()),
            name: "orders-west".into(),
            attrs: json!({ "replica_of": null }).as_object().unwrap().clone(),
            tags: BTreeMap::new(),
            refs: BTreeMap::new(),
            depends_on: vec![],
            bindings: BTreeMap::new(),
            prevent_destroy: false,
        };
        assert!(fence_stop(&db, &prior, &[promoted], 1).is_some());
        let found = split_brain(&BTreeSet::from(["us-east-1".to_string()]), &[db, replica]);
        assert_eq!(
            found.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            ["split brain: us-east-1 is failed but still has a writable database"]
        );
    }
}
