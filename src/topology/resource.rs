//! Desired resources: what the topology expands a spec into, one per address.
//!
//! Invariant: `attrs` holds only values derived from the spec (never AWS ids), under the
//! same keys a provider reports in `Observed::attrs`, so a plan is a plain comparison.

use crate::address::Address;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Every kind of resource the engine manages. Closed: a provider handles all of them.
///
/// Every kind but `Record` and `BucketReplication` also has `tags` (see `TAGS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// attrs: `cidr`.
    Vpc,
    /// attrs: none. Created, attached to the VPC, with a default route in its main table.
    /// refs: `vpc`.
    InternetGateway,
    /// attrs: `zone`, `cidr`, `map_public_ip` (bool). refs: `vpc`.
    Subnet,
    /// attrs: `group_name`, `port` (number). refs: `vpc`.
    SecurityGroup,
    /// A stray EC2 instance: read (drift reports it unmanaged) and deleted, never created;
    /// clusters run in Auto Scaling groups. attrs: `instance_type`, `image`, `zone`.
    Instance,
    /// A cluster's EC2 launch template. attrs: `name`, `instance_type`, `image`. refs:
    /// `security_group`. A change of type or image is a new default version. Computed:
    /// `version` (the default version).
    LaunchTemplate,
    /// A cluster's Auto Scaling group over the region's subnets. attrs: `name`, `desired`,
    /// `min`, `max`, `min_healthy_percentage` (of an instance refresh). refs:
    /// `launch_template`, `subnet.<zone>`..., and `target_group` behind a load balancer.
    /// Computed: `in_service` (instances `InService`), `launch_template_version`.
    AutoScalingGroup,
    /// An internet-facing load balancer in front of a cluster. attrs: `name`, `type`
    /// (`application` | `network`). refs: `subnet.<zone>`..., `security_group` (application).
    /// Computed: `arn`, `dns_name`, `zone_id` (its canonical hosted zone, for alias records).
    LoadBalancer,
    /// The cluster's target group. attrs: `name`, `protocol`, `port`, `health_check`
    /// (`{protocol, port, path}`; `path` null for TCP). refs: `vpc`. Computed: `arn`.
    TargetGroup,
    /// The load balancer's listener forwarding to the target group. attrs: `protocol`,
    /// `port`. refs: `load_balancer`, `target_group`. Computed: `arn`.
    Listener,
    /// attrs: `bucket` (the global name), `versioning` ("Enabled"), `encryption` ("AES256"),
    /// `public_access_blocked` (bool).
    Bucket,
    /// Global (no region). attrs: `role_name`. Computed: `arn`.
    ReplicationRole,
    /// attrs: `bucket`, `destinations`: array of `{bucket, region, storage_class}` sorted by
    /// bucket, and `role_arn` when the spec gives one. refs: `source`, `role` (unless
    /// `role_arn` is given).
    BucketReplication,
    /// A DB subnet group over the region's subnets. attrs: `name`. refs: `subnet.<zone>`...
    DbSubnetGroup,
    /// An RDS instance. attrs: `identifier`, `engine`, `engine_version` ("" for the
    /// engine's default), `instance_class`, `storage_gb`, `replica_of` (the source's address
    /// for a read replica, `null` for a writable primary). refs: `subnet_group`, and
    /// `source` for a replica (its computed `arn`). Master password: RDS-managed, never seen.
    /// Drills add `restore_from` (the address of a `DbSnapshot`, refs `snapshot`: restore
    /// from it instead of creating empty) and `final_snapshot` (false: no final snapshot on
    /// delete; absent means true). Computed: `arn`, `endpoint`, `status`.
    Database,
    /// An RDS snapshot (drills). attrs: `identifier`, and either `db_instance` (the
    /// identifier of a database in the same region: a fresh manual snapshot of it) or
    /// `copy_of` (the address of a snapshot in another region: a cross-region copy; refs
    /// `source`, whose computed `arn` is copied) with `source_region`. Computed: `arn`.
    DbSnapshot,
    /// Global. attrs: `zone` (the zone's name, without the final dot). Adopted when a zone of
    /// that name exists. Computed: `zone_id`.
    HostedZone,
    /// Global. attrs: `region` (the region it watches), `protocol`, `port`, `path`, and
    /// `ip_address` (bound: the first target instance's `public_ip`). Computed: `id`.
    HealthCheck,
    /// Global: one failover alias A record to a region's load balancer. attrs: `name`,
    /// `failover` (PRIMARY | SECONDARY), `set_identifier` (the region), `alias_dns_name` and
    /// `alias_zone_id` (bound: the load balancer's `dns_name` and `zone_id`),
    /// `evaluate_target_health` (true), `owner` (`<service>/<environment>`, kept in a TXT
    /// record beside it: records carry no tags). refs: `zone`, `health_check` (a record kept
    /// from before load balancers). A drill's record is a plain alias record: `failover`
    /// and `set_identifier` are null.
    Record,
}

/// Every attribute key some kind manages (the keys listed on `Kind`'s variants): what a
/// `drift { ignore ... { attributes = [...] } }` rule may name.
pub const ATTRIBUTE_KEYS: &[&str] = &[
    "alias_dns_name",
    "alias_zone_id",
    "bucket",
    "cidr",
    "copy_of",
    "db_instance",
    "desired",
    "destinations",
    "encryption",
    "engine",
    "engine_version",
    "evaluate_target_health",
    "failover",
    "final_snapshot",
    "group_name",
    "health_check",
    "identifier",
    "image",
    "ingress",
    "instance_class",
    "instance_type",
    "ip_address",
    "map_public_ip",
    "max",
    "min",
    "min_healthy_percentage",
    "name",
    "owner",
    "path",
    "port",
    "protocol",
    "public_access_blocked",
    "region",
    "replica_of",
    "restore_from",
    "role_arn",
    "role_name",
    "set_identifier",
    "source_region",
    "storage_gb",
    "tags",
    "ttl",
    "type",
    "values",
    "versioning",
    "zone",
];

/// The managed user tags (`service.tags` without standby's own), an object of strings, on
/// every kind that can carry tags. Keys only standby ever set are in it; tags others added
/// in AWS are not (see `environment`).
pub const TAGS: &str = "tags";
/// A record's owning `<service>/<environment>`.
pub const OWNER: &str = "owner";
/// The computed value holding the name a resource was created with (names are fixed then).
pub const NAME_KEY: &str = "name";

impl Kind {
    /// Whether the live value of `key` fulfils the wanted one: equal, or, for a database's
    /// `engine_version` (a floor), a higher minor version of the same major, which RDS
    /// installs by itself (`AutoMinorVersionUpgrade`, on by default:
    /// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.Maintenance.html#USER_UpgradeDBInstance.Upgrading.AutoMinorVersionUpgrades).
    pub fn fulfils(self, key: &str, want: &Value, live: Option<&Value>) -> bool {
        if live == Some(want) {
            return true;
        }
        match (self, key, want.as_str(), live.and_then(Value::as_str)) {
            (Kind::Database, "engine_version", Some(want), Some(live)) => {
                version_at_least(want, live)
            }
            _ => false,
        }
    }

    /// Whether resources of the kind carry tags. A Route 53 record cannot (its owner is kept
    /// in a TXT record instead), and a bucket replication is a setting of its bucket.
    pub fn has_tags(self) -> bool {
        !matches!(self, Kind::Record | Kind::BucketReplication)
    }

    /// Attribute keys whose change cannot be made in place.
    pub fn replace_keys(self) -> &'static [&'static str] {
        match self {
            Kind::Vpc => &["cidr"],
            Kind::Subnet => &["zone", "cidr"],
            Kind::SecurityGroup => &["group_name"],
            Kind::Instance => &["image", "zone", "instance_type"],
            Kind::Bucket => &["bucket"],
            Kind::ReplicationRole => &["role_name"],
            Kind::BucketReplication => &["bucket"],
            Kind::DbSubnetGroup => &["name"],
            Kind::DbSnapshot => &["identifier", "db_instance", "copy_of"],
            Kind::Database => &["identifier", "engine", "replica_of"],
            Kind::HostedZone => &["zone"],
            Kind::HealthCheck => &["region", "protocol", "port"],
            Kind::Record => &["name", "set_identifier"],
            Kind::InternetGateway => &[],
            Kind::LaunchTemplate | Kind::AutoScalingGroup => &["name"],
            Kind::LoadBalancer => &["name", "type"],
            Kind::TargetGroup => &["name", "protocol", "port"],
            Kind::Listener => &[],
        }
    }

    /// Whether the kind lives in one region (EC2, S3, RDS) or is global (IAM, Route 53).
    pub fn is_regional(self) -> bool {
        !matches!(
            self,
            Kind::ReplicationRole | Kind::HostedZone | Kind::HealthCheck | Kind::Record
        )
    }
}

/// One resource the spec asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Desired {
    pub address: Address,
    pub kind: Kind,
    /// `None` for global resources.
    pub region: Option<String>,
    /// The deterministic AWS name (also the `Name` tag).
    pub name: String,
    pub attrs: Map<String, Value>,
    /// Every tag the resource carries: `Name`, the `standby:*` tags and the service's tags.
    pub tags: BTreeMap<String, String>,
    /// Named references to other resources, resolved to their AWS ids at apply time:
    /// `vpc` -> `region.us-east-1.network.vpc`. Each is also a dependency.
    pub refs: BTreeMap<String, Address>,
    /// Further ordering-only dependencies.
    pub depends_on: Vec<Address>,
    /// Attributes whose values are other resources' computed values (record values are
    /// instance addresses): filled in by `bind` at plan time from what is known, and again at
    /// apply time once the resources exist. Each source is also a dependency.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bindings: BTreeMap<String, Binding>,
    /// Refuse to delete or replace it (`prevent_destroy`, the default for databases).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prevent_destroy: bool,
}

/// Where a bound attribute's value comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    /// The resources whose computed `field` make up the value, in order.
    pub from: Vec<Address>,
    pub field: String,
    /// A sorted list of every source's value, or the first source's value alone.
    pub list: bool,
}

/// How a value not known until apply shows in attrs (and in plans).
pub const UNKNOWN: &str = "(known after apply)";

impl Desired {
    /// Every address this resource must wait for.
    pub fn dependencies(&self) -> impl Iterator<Item = &Address> {
        self.refs
            .values()
            .chain(self.depends_on.iter())
            .chain(self.bindings.values().flat_map(|b| b.from.iter()))
    }

    /// A copy with every binding filled in from the sources' `computed` values; a binding whose sources are not all
    /// known becomes `UNKNOWN`.
    pub fn bind(&self, computed: impl Fn(&Address) -> Option<Map<String, Value>>) -> Desired {
        let mut bound = self.clone();
        for (key, b) in &self.bindings {
            let values: Option<Vec<Value>> = b
                .from
                .iter()
                .map(|a| {
                    computed(a)
                        .and_then(|c| c.get(&b.field).cloned())
                        .filter(|v| !v.is_null())
                })
                .collect();
            let value = match values {
                Some(mut vs) if b.list => {
                    vs.sort_by_key(|v| v.to_string());
                    Value::Array(vs)
                }
                Some(vs) => vs.into_iter().next().unwrap_or(Value::Null),
                None => Value::String(UNKNOWN.into()),
            };
            bound.attrs.insert(key.clone(), value);
        }
        bound
    }

    /// Whether some attribute is still `UNKNOWN`.
    pub fn has_unknowns(&self) -> bool {
        self.attrs.values().any(|v| v.as_str() == Some(UNKNOWN))
    }
}

/// `live` is `want` or a later minor version of `want`'s major: every component of `want` but
/// the last is equal (`16.3` and `16.4`; `8.0.35` and `8.0.36`, not `8.4.1`), the last is not
/// lower. Versions that are not dotted numbers only fulfil themselves.
fn version_at_least(want: &str, live: &str) -> bool {
    let parse = |v: &str| -> Option<Vec<u64>> { v.split('.').map(|p| p.parse().ok()).collect() };
    let (Some(want), Some(live)) = (parse(want), parse(live)) else {
        return false;
    };
    let Some((last, major)) = want.split_last() else {
        return false;
    };
    if want.len() == 1 {
        return live.first() == Some(last);
    }
    live.len() >= want.len() && live[..major.len()] == *major && live[major.len()] >= *last
}

#[cfg(test)]
mod version_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_database_engine_version_is_a_floor_within_its_major() {
        let ok = |want: &str, live: &str| {
            Kind::Database.fulfils("engine_version", &json!(want), Some(&json!(live)))
        };
        assert!(ok("16.3", "16.3"));
        assert!(ok("16.3", "16.4"));
        assert!(ok("16", "16.4"));
        assert!(ok("8.0.35", "8.0.36"));
        assert!(!ok("16.4", "16.3"), "lower is a change");
        assert!(!ok("16.3", "17.1"), "another major is a change");
        assert!(!ok("8.0.35", "8.4.1"), "MySQL 8.4 is another major");
        assert!(!ok("19.0.0.0.ru-2024-01", "19.0.0.0.ru-2024-04"));
        assert!(!Kind::Instance.fulfils("engine_version", &json!("1.1"), Some(&json!("1.2"))));
    }
}
