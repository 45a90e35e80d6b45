//! Typed reads of the attributes the engine asks about: each key is decoded here and only
//! here, so a renamed or missing key is an error or an explicit `None` in one place instead of
//! a silent default (or a panic) wherever it is read.

use crate::address::Address;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A database's read-replica source (`replica_of`: its address), `None` when it is writable.
pub fn replica_of(attrs: &Map<String, Value>) -> Option<Address> {
    attrs
        .get("replica_of")
        .and_then(Value::as_str)
        .map(Address::new)
}

/// Whether a database is a read replica.
pub fn is_replica(attrs: &Map<String, Value>) -> bool {
    replica_of(attrs).is_some()
}

/// A database's RDS status as last read (`computed.status`: `available`, `creating` ...),
/// `None` when it was not read.
pub fn db_status(computed: &Map<String, Value>) -> Option<&str> {
    computed.get("status").and_then(Value::as_str)
}

/// One destination of a bucket's replication, as its `destinations` attribute lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    pub bucket: String,
    /// Empty when a refresh could not tell the destination bucket's region.
    #[serde(default)]
    pub region: String,
    #[serde(default = "standard")]
    pub storage_class: String,
}

fn standard() -> String {
    "STANDARD".to_string()
}

/// A bucket replication's destinations, sorted by bucket.
pub fn destinations(attrs: &Map<String, Value>) -> anyhow::Result<Vec<Destination>> {
    let list = attrs
        .get("destinations")
        .context("attribute `destinations` is missing")?;
    let mut out: Vec<Destination> = serde_json::from_value(list.clone())
        .context("attribute `destinations` is not a list of destinations")?;
    out.sort_by(|a, b| a.bucket.cmp(&b.bucket));
    Ok(out)
}

/// The `destinations` attribute value for `dests` (sorted by bucket).
pub fn destinations_value(dests: &[Destination]) -> Value {
    let mut sorted = dests.to_vec();
    sorted.sort_by(|a, b| a.bucket.cmp(&b.bucket));
    serde_json::to_value(sorted).expect("destinations serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn destinations_round_trip_sorted_and_a_missing_key_is_an_error() {
        let d = |b: &str, r: &str| Destination {
            bucket: b.into(),
            region: r.into(),
            storage_class: "STANDARD".into(),
        };
        let value = destinations_value(&[d("b", "eu-west-1"), d("a", "us-west-2")]);
        let attrs = Map::from_iter([("destinations".to_string(), value)]);
        let back = destinations(&attrs).unwrap();
        assert_eq!(back, vec![d("a", "us-west-2"), d("b", "eu-west-1")]);
        assert!(destinations(&Map::new()).is_err());
        let wrong = Map::from_iter([("destinations".to_string(), json!("a"))]);
        assert!(destinations(&wrong).is_err());
    }

    #[test]
    fn a_database_is_a_replica_only_when_replica_of_names_a_source() {
        let with = |v: Value| Map::from_iter([("replica_of".to_string(), v)]);
        assert!(is_replica(&with(json!(
            "region.us-east-1.db.orders.database"
        ))));
        assert!(!is_replica(&with(Value::Null)));
        assert!(!is_replica(&Map::new()));
        assert_eq!(db_status(&Map::new()), None);
    }
}
