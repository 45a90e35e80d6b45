//! Load balancers, target groups and listeners (Elastic Load Balancing v2) in one region.
//!
//! Invariant: each is created with all its desired tags; a create that meets one of the same
//! name (`Duplicate…Name`) adopts it and brings it to the spec. ELBv2 describes cannot filter
//! by tag: a refresh lists each type once (paginated) and reads tags in batches of 20 ARNs
//! (`DescribeTags`' limit), listeners once per managed load balancer.

use super::attrs::{map, str_attr};
use super::error::{self, AwsResultExt};
use super::{ref_id, tags, AwsProvider};
use crate::provider::{resolve_refs, ApplyContext, Observed, Scope};
use crate::topology::{Desired, Kind};
use anyhow::{anyhow, bail};
use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, Tag};
use aws_sdk_elasticloadbalancingv2::Client;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::Semaphore;

mod balancer;
mod refresh;
mod target_group;

/// ARNs `DescribeTags` takes at once
/// (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTags.html).
const TAG_BATCH: usize = 20;

type Refs = BTreeMap<String, Observed>;

/// The ELBv2 API of one region.
pub(crate) struct Elb {
    pub(crate) client: Client,
    pub(crate) region: String,
    pub(crate) limit: Arc<Semaphore>,
    pub(crate) emulator: super::emulator::Emulator,
    /// This region's load balancer waits, read together (`poll::Batch`).
    pub(crate) waits: Arc<super::poll::Batch<aws_sdk_elasticloadbalancingv2::types::LoadBalancer>>,
}

impl Elb {
    async fn create(&self, d: &Desired, ctx: &dyn ApplyContext) -> anyhow::Result<Observed> {
        let refs = resolve_refs(d, ctx)?;
        let mut o = match d.kind {
            Kind::LoadBalancer => self.create_balancer(d, &refs).await?,
            Kind::TargetGroup => self.create_target_group(d, &refs).await?,
            Kind::Listener => self.create_listener(d, &refs).await?,
            other => bail!("kind {other:?} is not a load balancing resource"),
        };
        o.depends_on = d.dependencies().cloned().collect();
        Ok(o)
    }

    async fn update(
        &self,
        d: &Desired,
        current: &Observed,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let refs = resolve_refs(d, ctx)?;
        match d.kind {
            Kind::LoadBalancer => {}
            Kind::TargetGroup => self.modify_health_check(d, &current.id).await?,
            Kind::Listener => self.modify_listener(d, &current.id, &refs).await?,
            other => bail!("kind {other:?} is not a load balancing resource"),
        }
        self.retag(d, current).await?;
        let mut o = current.clone();
        o.attrs = d.attrs.clone();
        o.depends_on = d.dependencies().cloned().collect();
        Ok(o)
    }

    async fn delete(&self, current: &Observed) -> anyhow::Result<()> {
        match current.kind {
            Kind::LoadBalancer => self.delete_balancer(current).await,
            Kind::TargetGroup => self.delete_target_group(current).await,
            Kind::Listener => self.delete_listener(current).await,
            other => bail!("kind {other:?} is not a load balancing resource"),
        }
    }

    /// Puts the desired tags on `current` and removes the managed keys no longer wanted.
    async fn retag(&self, d: &Desired, current: &Observed) -> anyhow::Result<()> {
        let (r, a) = (self.region.as_str(), &d.address);
        self.client
            .add_tags()
            .resource_arns(&current.id)
            .set_tags(Some(elb_tags(d)))
            .send()
            .await
            .op("AddTags", r, a)?;
        let removed = tags::removed(d, current);
        if !removed.is_empty() {
            self.client
                .remove_tags()
                .resource_arns(&current.id)
                .set_tag_keys(Some(removed))
                .send()
                .await
                .op("RemoveTags", r, a)?;
        }
        Ok(())
    }
}

fn elb_tags(d: &Desired) -> Vec<Tag> {
    d.tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn protocol(d: &Desired, key: &str) -> anyhow::Result<ProtocolEnum> {
    Ok(ProtocolEnum::from(str_attr(d, key)?))
}

fn port(v: Option<&Value>, d: &Desired) -> anyhow::Result<i32> {
    v.and_then(Value::as_i64)
        .and_then(|p| i32::try_from(p).ok())
        .ok_or_else(|| anyhow!("{}: a port is missing or not a number", d.address))
}

/// The client of one region, for the family's handler (`handler::Regional`).
#[async_trait::async_trait]
impl super::handler::RegionalClient for Elb {
    fn in_region(p: &AwsProvider, region: &str) -> Self {
        p.elb(region)
    }

    async fn read(&self, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        Elb::refresh(self, scope).await
    }

    async fn create(&self, d: &Desired, ctx: &dyn ApplyContext) -> anyhow::Result<Observed> {
        Elb::create(self, d, ctx).await
    }

    async fn update(
        &self,
        d: &Desired,
        current: &Observed,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        Elb::update(self, d, current, ctx).await
    }

    async fn delete(&self, current: &Observed) -> anyhow::Result<()> {
        Elb::delete(self, current).await
    }
}
