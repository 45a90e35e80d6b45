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

/// A launch template's machine image (`image`), `""` when unset.
pub fn image(attrs: &Map<String, Value>) -> &str {
    attrs
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A launch template's EC2 instance type (`instance_type`), `""` when unset.
pub fn instance_type(attrs: &Map<String, Value>) -> &str {
    attrs
        .get("instance_type")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A subnet's availability zone (`zone`).
pub fn subnet_zone(attrs: &Map<String, Value>) -> Option<&str> {
    attrs.get("zone").and_then(Value::as_str)
}

/// The database attribute saying RDS manages its master credentials in a secret of its own
/// (`ManageMasterUserPassword`): false for every primary standby makes.
pub const CREDENTIALS_MANAGED_BY_RDS: &str = "credentials_managed_by_rds";

/// An Auto Scaling group's wanted capacity (`desired`).
pub fn desired_capacity(attrs: &Map<String, Value>) -> u64 {
    attrs.get("desired").and_then(Value::as_u64).unwrap_or(0)
}

/// An Auto Scaling group's instances `InService` as last read (`computed.in_service`); 0
/// when it was not read.
pub fn in_service(computed: &Map<String, Value>) -> u64 {
    computed
        .get("in_service")
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// A bucket's versioning status as read (`Enabled`, `Suspended`), `None` when never set.
pub fn versioning(attrs: &Map<String, Value>) -> Option<&str> {
    attrs.get("versioning").and_then(Value::as_str)
}

/// A load balancer's DNS name (`computed.dns_name`), what alias records point at.
pub fn dns_name(computed: &Map<String, Value>) -> Option<&str> {
    computed.get("dns_name").and_then(Value::as_str)
}

/// The load balancer DNS name an alias record points at (`alias_dns_name`).
pub fn alias_dns_name(attrs: &Map<String, Value>) -> Option<&str> {
    attrs.get("alias_dns_name").and_then(Value::as_str)
}

/// The region a failover record answers for (`set_identifier`), `None` for a drill's plain
/// record.
pub fn set_identifier(attrs: &Map<String, Value>) -> Option<&str> {
    attrs.get("set_identifier").and_then(Value::as_str)
}

/// A failover record's side (`PRIMARY` or `SECONDARY`).
pub fn failover(attrs: &Map<String, Value>) -> Option<&str> {
    attrs.get("failover").and_then(Value::as_str)
}

/// A record's TTL in seconds: an alias record has none of its own and answers with its
/// target's, 60 s for a load balancer (Elastic Load Balancing User Guide, "DNS name").
pub fn ttl_seconds(attrs: &Map<String, Value>) -> u64 {
    attrs.get("ttl").and_then(Value::as_u64).unwrap_or(60)
}

/// The address of the database whose automated backups a backup replication holds
/// (`source`).
pub fn backup_source(attrs: &Map<String, Value>) -> Option<&str> {
    attrs.get("source").and_then(Value::as_str)
}

/// The latest time replicated backups can restore to (`computed.latest_restorable`, RFC
/// 3339), `None` when RDS has not reported one yet.
pub fn latest_restorable(computed: &Map<String, Value>) -> Option<&str> {
    computed.get("latest_restorable").and_then(Value::as_str)
}

/// A hosted zone standby adopted rather than created (`computed.created` false): it is
/// never deleted.
pub fn zone_adopted(computed: &Map<String, Value>) -> bool {
    computed.get("created") == Some(&Value::Bool(false))
}

/// A hosted zone that is not this environment's (`computed.owned` false): shared, its tags
/// are not managed here.
pub fn zone_shared(computed: &Map<String, Value>) -> bool {
    computed.get("owned") == Some(&Value::Bool(false))
}

/// Whether a database is one a restore replaced and keeps (`kept`) until `restore --cleanup`.
pub fn kept(attrs: &Map<String, Value>) -> bool {
    attrs.get("kept") == Some(&Value::Bool(true))
}

/// A bucket's global name (`bucket`).
pub fn bucket_name(attrs: &Map<String, Value>) -> Option<&str> {
    attrs.get("bucket").and_then(Value::as_str)
}

/// The days of backups a backups replication keeps (`retention_days`).
pub fn retention_days(attrs: &Map<String, Value>) -> Option<u64> {
    attrs.get("retention_days").and_then(Value::as_u64)
}

/// The regions holding a replica of a secret (`replica_regions`).
pub fn replica_regions(attrs: &Map<String, Value>) -> Vec<&str> {
    strings(attrs.get("replica_regions"))
}

/// The regions whose replica of a secret is in sync, as last read (`computed.replicas_in_sync`).
pub fn replicas_in_sync(computed: &Map<String, Value>) -> Vec<&str> {
    strings(computed.get("replicas_in_sync"))
}

/// The region a Route 53 health check watches (`region`).
pub fn watched_region(attrs: &Map<String, Value>) -> Option<&str> {
    attrs.get("region").and_then(Value::as_str)
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
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
