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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    pub address: Address,
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The AWS identifier: instance id, bucket name, zone id, role name ...
    pub id: String,
    /// Managed settings, under the same keys as `Desired::attrs`.
    pub attrs: Map<String, Value>,
    /// Values only known after creation: `arn`, `public_ip`, `private_ip`, `state` ...
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub computed: Map<String, Value>,
    /// Addresses this resource depended on when created (for delete ordering).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
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
