//! The one table from a resource kind to the AWS handler of its family: `AwsProvider`
//! dispatches create, update and delete through `handler`, and a refresh reads every family
//! in `FAMILIES` concurrently. A new kind is one line in `handler` (and, for a new family,
//! its module and one entry in `FAMILIES`).

use super::{compute, database, dns, loadbalancing, network, role, secrets, storage, AwsProvider};
use crate::provider::{ApplyContext, Observed, Scope};
use crate::topology::{Desired, Kind};
use async_trait::async_trait;

/// Create, read in batch, update and delete of one family of kinds; each waits until AWS
/// reports the change done.
#[async_trait]
pub(super) trait KindHandler: Send + Sync {
    /// Every resource of the family in scope: batched describes, regions concurrently.
    async fn refresh(&self, p: &AwsProvider, scope: &Scope) -> anyhow::Result<Vec<Observed>>;

    /// Creates `d` (adopting what already exists of it) and waits until it is ready.
    async fn create(
        &self,
        p: &AwsProvider,
        d: &Desired,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed>;

    /// Changes `current` in place to match `d` (a kind already checked to be the same).
    async fn update(
        &self,
        p: &AwsProvider,
        d: &Desired,
        current: &Observed,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed>;

    /// Deletes `current` and waits until it is gone; what is already gone succeeds.
    async fn delete(&self, p: &AwsProvider, current: &Observed) -> anyhow::Result<()>;
}

/// Every family, in the order a refresh reports them.
pub(super) const FAMILIES: [&dyn KindHandler; 8] = [
    &network::Network,
    &compute::Clusters,
    &loadbalancing::LoadBalancing,
    &storage::Storage,
    &role::Roles,
    &secrets::SecretsFamily,
    &database::Databases,
    &dns::Dns,
];

/// The handler of `kind`'s family.
pub(super) fn handler(kind: Kind) -> &'static dyn KindHandler {
    match kind {
        Kind::Vpc | Kind::InternetGateway | Kind::Subnet | Kind::SecurityGroup | Kind::Instance => {
            &network::Network
        }
        Kind::LaunchTemplate | Kind::AutoScalingGroup => &compute::Clusters,
        Kind::LoadBalancer | Kind::TargetGroup | Kind::Listener => &loadbalancing::LoadBalancing,
        Kind::Bucket | Kind::BucketReplication => &storage::Storage,
        Kind::ReplicationRole => &role::Roles,
        Kind::DbSecret => &secrets::SecretsFamily,
        Kind::DbSubnetGroup | Kind::Database | Kind::DbSnapshot | Kind::BackupReplication => {
            &database::Databases
        }
        Kind::HostedZone | Kind::HealthCheck | Kind::Record => &dns::Dns,
    }
}
