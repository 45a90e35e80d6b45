//! Providers: batched read, create, update and delete of resources in a cloud.
//!
//! Invariant: providers know nothing of HCL or of plans; they receive `Desired` resources
//! and report `Observed` ones, keyed by address (from the `standby:address` tag or the
//! deterministic name), with attrs normalised to the keys `Desired::attrs` uses.

pub mod aws;
pub mod fake;

use crate::address::Address;
use crate::topology::{Desired, Kind};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// A resource as it exists in the cloud (or last existed, in state).
/// Not `Serialize`: the state and plan files convert it (`state::file`).
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub address: Address,
    pub kind: Kind,
    pub region: Option<String>,
    /// The AWS identifier: instance id, bucket name, zone id, role name ...
    pub id: String,
    /// Managed settings, under the same keys as `Desired::attrs`.
    pub attrs: Map<String, Value>,
    /// Values only known after creation: `arn`, `public_ip`, `private_ip`, `state` ...
    pub computed: Map<String, Value>,
    /// Addresses this resource depended on when created (for delete ordering).
    pub depends_on: Vec<Address>,
}

/// What a refresh reads.
#[derive(Debug, Clone)]
pub struct Scope {
    pub service: String,
    pub environment: String,
    /// Regions to read. Regions assumed down are left out by the caller.
    pub regions: BTreeSet<String>,
    /// The global reads made: Route 53, IAM, S3's bucket listing (all of them for a plan;
    /// none for a region read on its own).
    pub global: BTreeSet<GlobalRead>,
    /// Resources the caller already knows of (state and desired), for kinds that cannot be
    /// listed by tag (bucket settings, hosted zones by name).
    pub known: Vec<KnownResource>,
    /// Also report resources that carry the environment's tags but no (or no known)
    /// `standby:address` tag, at `unmanaged_address` addresses (`standby drift`). Off for
    /// plans, so an unmanaged resource is never planned for deletion.
    pub include_unmanaged: bool,
}

/// A read that is not of one region: the global control planes (signed for us-east-1, so
/// impaired by its outage) and S3's bucket listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GlobalRead {
    Buckets,
    Route53,
    Iam,
}

impl GlobalRead {
    pub fn all() -> BTreeSet<GlobalRead> {
        BTreeSet::from([GlobalRead::Buckets, GlobalRead::Route53, GlobalRead::Iam])
    }

    /// The control plane that holds a resource of `kind`, for the global kinds.
    pub fn control_plane(kind: Kind) -> Option<GlobalRead> {
        match kind {
            Kind::HostedZone | Kind::HealthCheck | Kind::Record => Some(GlobalRead::Route53),
            Kind::ReplicationRole => Some(GlobalRead::Iam),
            _ => None,
        }
    }
}

/// `unmanaged.<kind>.<aws id>`: how such a resource is addressed (`unmanaged.instance.i-0ab`).
pub fn unmanaged_address(kind: Kind, id: &str) -> Address {
    let kind = serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    Address::unmanaged(&kind, id)
}

/// A resource the caller expects, by address, kind, region and AWS name or id.
#[derive(Debug, Clone)]
pub struct KnownResource {
    pub address: Address,
    pub kind: Kind,
    pub region: Option<String>,
    /// The deterministic name (bucket name, role name, zone name) or the id from state.
    pub name: String,
}

/// One version, or delete marker, of an object in a versioned bucket (ListObjectVersions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectVersion {
    pub key: String,
    pub version_id: String,
    /// RFC 3339.
    pub last_modified: String,
    pub delete_marker: bool,
    pub is_latest: bool,
}

/// What `standby restore --buckets` does to one object to bring back its version as of a
/// time: a closed set the bucket's handler carries out (the desired `restore_objects`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum ObjectStep {
    /// CopyObject of that version onto the key: it is current again, later ones stay.
    Revert { key: String, version_id: String },
    /// DeleteObject of the delete markers added since: the version of then is current.
    Undelete { key: String, markers: Vec<String> },
    /// DeleteObject: a delete marker, for an object that did not exist then.
    Remove { key: String },
}

impl ObjectStep {
    pub fn key(&self) -> &str {
        match self {
            ObjectStep::Revert { key, .. }
            | ObjectStep::Undelete { key, .. }
            | ObjectStep::Remove { key } => key,
        }
    }
}

/// What an action may look up about resources applied before it.
pub trait ApplyContext: Send + Sync {
    /// The observed resource at `address`, as the state holds it now.
    fn get(&self, address: &Address) -> Option<Observed>;
}

/// What a region must offer to run the stack (`standby check` at full size, `plan` for the
/// launch templates it creates or changes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CapacityNeed {
    /// The machine image, present and available.
    Image { image: String },
    /// The EC2 instance type, offered in the region.
    InstanceType { instance_type: String },
    /// The EC2 instance type, offered in an availability zone of the region (`plan` checks
    /// each zone a cluster's subnets are in).
    InstanceTypeInZone { instance_type: String, zone: String },
    /// The RDS instance class, orderable for the engine and version.
    DbClass {
        engine: String,
        version: String,
        class: String,
    },
}

/// A region's EC2 vCPUs as `standby check` weighs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vcpus {
    /// The Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances quota, in vCPUs.
    pub quota: u64,
    /// vCPUs of the standard instances pending or running in the region, whoever runs them.
    pub running: u64,
    /// vCPUs of each instance type asked about that counts against the quota (a type of
    /// another family is left out: its own quota applies).
    pub per_type: BTreeMap<String, u64>,
}

/// A target group's targets as its load balancer sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetHealth {
    pub healthy: u64,
    pub registered: u64,
}

/// A bucket by address, name and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketAt {
    pub address: Address,
    pub bucket: String,
    pub region: String,
}

/// Where a canary object written to a replicating bucket got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canary {
    /// It was in the replica after this long.
    Arrived(std::time::Duration),
    /// It was not in the replica when the wait ended.
    NotArrived,
}

/// A resource a provider could not find although it was asked to act on it.
#[derive(Debug, thiserror::Error)]
#[error("{address} no longer exists")]
pub struct Gone {
    pub address: Address,
}

#[async_trait]
pub trait Provider: Send + Sync {
    /// Reads every managed resource in scope: one paginated describe per (service, region,
    /// type) filtered by the environment's tags, regions and services concurrently.
    async fn refresh(&self, scope: &Scope) -> anyhow::Result<Vec<Observed>>;

    /// Creates `desired` and waits until it is ready. Must be idempotent for the same
    /// address (client tokens, deterministic names, adopting what already exists).
    async fn create(&self, desired: &Desired, ctx: &dyn ApplyContext) -> anyhow::Result<Observed>;

    /// Changes `current` in place to match `desired`.
    async fn update(
        &self,
        desired: &Desired,
        current: &Observed,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed>;

    /// Deletes `current` and waits until it is gone. Deleting what is already gone succeeds.
    async fn delete(&self, current: &Observed, ctx: &dyn ApplyContext) -> anyhow::Result<()>;

    /// The read replica's CloudWatch `ReplicaLag`, the maximum over the last five minutes;
    /// `None` when CloudWatch has no datapoint.
    async fn replica_lag(
        &self,
        region: &str,
        identifier: &str,
    ) -> anyhow::Result<Option<std::time::Duration>> {
        let _ = (region, identifier);
        Ok(None)
    }

    /// The values Route 53 answers for an A query of `name` in the hosted zone `zone_id`
    /// (`TestDNSAnswer`), for drill readiness checks.
    async fn test_dns_answer(&self, zone_id: &str, name: &str) -> anyhow::Result<Vec<String>> {
        let _ = (zone_id, name);
        Ok(Vec::new())
    }

    /// Whether `region` has what `need` names (`standby check`); `None` when the provider
    /// cannot tell.
    async fn capacity(&self, region: &str, need: &CapacityNeed) -> anyhow::Result<Option<bool>> {
        let _ = (region, need);
        Ok(None)
    }

    /// The vCPU quota of standard instances in `region`, what runs there, and the vCPUs of
    /// each of `types` (`standard check`); `None` when the provider cannot tell.
    async fn vcpus(&self, region: &str, types: &BTreeSet<String>) -> anyhow::Result<Option<Vcpus>> {
        let _ = (region, types);
        Ok(None)
    }

    /// The latest restorable time of the database `identifier` in `region`.
    async fn latest_restorable(
        &self,
        region: &str,
        identifier: &str,
    ) -> anyhow::Result<Option<std::time::SystemTime>> {
        let _ = (region, identifier);
        Ok(None)
    }

    /// The targets of the target group `arn` in `region`, as its load balancer sees them.
    async fn target_health(&self, region: &str, arn: &str) -> anyhow::Result<Option<TargetHealth>> {
        let _ = (region, arn);
        Ok(None)
    }

    /// Whether Route 53 considers the health check `id` healthy.
    async fn health_check_healthy(&self, id: &str) -> anyhow::Result<Option<bool>> {
        let _ = id;
        Ok(None)
    }

    /// Writes a canary object to `source`, waits up to `within` for it in `replica`, and
    /// deletes it from both; `None` when the provider cannot tell.
    async fn canary(
        &self,
        source: &BucketAt,
        replica: &BucketAt,
        within: std::time::Duration,
    ) -> anyhow::Result<Option<Canary>> {
        let _ = (source, replica, within);
        Ok(None)
    }

    /// The same provider for calls whose caller falls back when they fail (a global control
    /// plane read in an outage, a failed region's read, a best-effort DNS write): each call is
    /// tried a few times at most, so an answered refusal gives up at once; only a silent
    /// endpoint costs the attempt timeout.
    fn brief(&self) -> &dyn Provider;

    /// Every version and delete marker of the objects in `bucket` (`standby restore
    /// --buckets`); the provider that cannot list them answers none.
    async fn object_versions(
        &self,
        region: &str,
        bucket: &str,
    ) -> anyhow::Result<Vec<ObjectVersion>> {
        let _ = (region, bucket);
        Ok(Vec::new())
    }

    /// Number of API requests sent so far (for benchmarks and tests).
    fn request_count(&self) -> u64 {
        0
    }
}

/// Resolves `desired.refs` to the AWS ids of the resources they name.
pub fn resolve_refs(
    desired: &Desired,
    ctx: &dyn ApplyContext,
) -> anyhow::Result<BTreeMap<String, Observed>> {
    desired
        .refs
        .iter()
        .map(|(k, a)| {
            ctx.get(a).map(|o| (k.clone(), o)).ok_or_else(|| {
                anyhow::anyhow!("{}: dependency {a} is not in the state", desired.address)
            })
        })
        .collect()
}
