//! The one table from a resource kind to the AWS handler of its family: `AwsProvider`
//! dispatches create, update and delete through `handler`, and a refresh reads every family
//! in `FAMILIES` concurrently. A new kind is one line in `handler` (and, for a new family,
//! its module and one entry in `FAMILIES`).

use super::{
    compute, database, dns, loadbalancing, network, region_of, role, secrets, storage, AwsProvider,
};
use crate::provider::{ApplyContext, Observed, Scope};
use crate::topology::{Desired, Kind};
use async_trait::async_trait;
use std::marker::PhantomData;

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

/// One region's client of a family whose resources each live in one region (EC2, Auto
/// Scaling, Elastic Load Balancing).
#[async_trait]
pub(super) trait RegionalClient: Send + Sync + Sized {
    fn in_region(p: &AwsProvider, region: &str) -> Self;
    /// The family's resources in this region.
    async fn read(&self, scope: &Scope) -> anyhow::Result<Vec<Observed>>;
    async fn create(&self, d: &Desired, ctx: &dyn ApplyContext) -> anyhow::Result<Observed>;
    async fn update(
        &self,
        d: &Desired,
        current: &Observed,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed>;
    async fn delete(&self, current: &Observed) -> anyhow::Result<()>;
}

/// The handler of a regional family: a refresh reads every region concurrently, each change
/// goes to the client of the resource's region.
pub(super) struct Regional<C>(PhantomData<fn() -> C>);

#[async_trait]
impl<C: RegionalClient + 'static> KindHandler for Regional<C> {
    async fn refresh(&self, p: &AwsProvider, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        let clients: Vec<C> = scope.regions.iter().map(|r| C::in_region(p, r)).collect();
        let reads = clients.iter().map(|c| c.read(scope));
        let found = futures::future::try_join_all(reads).await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn create(
        &self,
        p: &AwsProvider,
        d: &Desired,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let region = region_of(&d.address, d.region.as_deref())?;
        C::in_region(p, region).create(d, ctx).await
    }

    async fn update(
        &self,
        p: &AwsProvider,
        d: &Desired,
        current: &Observed,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let region = region_of(&d.address, d.region.as_deref())?;
        C::in_region(p, region).update(d, current, ctx).await
    }

    async fn delete(&self, p: &AwsProvider, current: &Observed) -> anyhow::Result<()> {
        let region = region_of(&current.address, current.region.as_deref())?;
        C::in_region(p, region).delete(current).await
    }
}

const NETWORK: Regional<network::Ec2> = Regional(PhantomData);
const CLUSTERS: Regional<compute::Compute> = Regional(PhantomData);
const LOAD_BALANCING: Regional<loadbalancing::Elb> = Regional(PhantomData);

/// Every family, in the order a refresh reports them.
pub(super) const FAMILIES: [&dyn KindHandler; 8] = [
    &NETWORK,
    &CLUSTERS,
    &LOAD_BALANCING,
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
            &NETWORK
        }
        Kind::LaunchTemplate | Kind::AutoScalingGroup => &CLUSTERS,
        Kind::LoadBalancer | Kind::TargetGroup | Kind::Listener => &LOAD_BALANCING,
        Kind::Bucket | Kind::BucketReplication => &storage::Storage,
        Kind::ReplicationRole => &role::Roles,
        Kind::DbSecret => &secrets::SecretsFamily,
        Kind::DbSubnetGroup | Kind::Database | Kind::DbSnapshot | Kind::BackupReplication => {
            &database::Databases
        }
        Kind::HostedZone | Kind::HealthCheck | Kind::Record => &dns::Dns,
    }
}
