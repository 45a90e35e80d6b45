//! Desired resources: what the topology expands a spec into, one per address.
//!
//! Invariant: `attrs` holds only values derived from the spec (never AWS ids), under the
//! same keys a provider reports in `Observed::attrs`, so a plan is a plain comparison.

use crate::address::Address;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Every kind of resource the engine manages. Closed: a provider handles all of them.
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
    /// attrs: `instance_type`, `image`, `zone`. refs: `subnet`, `security_group`.
    Instance,
    /// attrs: `bucket` (the global name), `versioning` ("Enabled"), `encryption` ("AES256"),
    /// `public_access_blocked` (bool).
    Bucket,
    /// Global (no region). attrs: `role_name`. Computed: `arn`.
    ReplicationRole,
    /// attrs: `bucket`, `destinations`: array of `{bucket, region, storage_class}` sorted by
    /// bucket, and `role_arn` when the spec gives one. refs: `source`, `role` (unless
    /// `role_arn` is given).
    BucketReplication,
    /// attrs: `name`, `subnets` (count). refs: `vpc`, `subnet[i]`...
    DbSubnetGroup,
    /// attrs: `identifier`, `engine`, `engine_version`, `instance_class`, `storage_gb`,
    /// `replica_of` (address of the source, for a read replica). refs: `subnet_group`.
    Database,
    /// Global. attrs: `zone` (name). Adopted when a zone of that name exists.
    HostedZone,
    /// Global. attrs: `region`, `protocol`, `port`, `path`. refs: `target` (an instance).
    HealthCheck,
    /// Global. attrs: `name`, `failover` (PRIMARY | SECONDARY), `ttl`, `set_identifier`.
    /// refs: `zone`, `health_check`, `instances[..]`.
    Record,
}

impl Kind {
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
            Kind::Database => &["identifier", "engine", "replica_of"],
            Kind::HostedZone => &["zone"],
            Kind::HealthCheck => &["region", "protocol", "port"],
            Kind::Record => &["name", "set_identifier"],
            Kind::InternetGateway => &[],
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
}

impl Desired {
    /// Every address this resource must wait for.
    pub fn dependencies(&self) -> impl Iterator<Item = &Address> {
        self.refs.values().chain(self.depends_on.iter())
    }
}
