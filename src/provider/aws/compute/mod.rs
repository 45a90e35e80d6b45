//! Clusters: a launch template (EC2) and an Auto Scaling group per cluster and region.
//!
//! Invariant: a template and a group carry every desired tag from the creating call; a
//! group propagates them to its instances except `standby:address` (an instance is the
//! group's, not a resource of its own: the network refresh leaves group members out). A
//! create that meets an existing one of the same name adopts it and brings it to the spec.
//! Every change of a group's capacity waits until the wanted number of instances is
//! `InService` (and healthy in its target group, when it has one), or a launch failed; a
//! change of what its instances run replaces them by an instance refresh, waited for.

use super::attrs::{map, str_attr};
use super::error::{self, AwsResultExt};
use super::{ref_id, tags, AwsProvider};
use crate::provider::{resolve_refs, ApplyContext, Observed, Scope};
use crate::topology::{Desired, Kind};
use anyhow::{anyhow, bail};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::Semaphore;

mod group;
mod instance_refresh;
mod refresh;
mod template;

/// The launch template version a group runs: always the template's default, which an
/// update moves (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_LaunchTemplateSpecification.html).
const DEFAULT_VERSION: &str = "$Default";

/// The Auto Scaling and EC2 APIs of one region.
pub(crate) struct Compute {
    pub(crate) asg: aws_sdk_autoscaling::Client,
    pub(crate) ec2: aws_sdk_ec2::Client,
    /// The target groups' health (`DescribeTargetHealth`) a scale-up waits for.
    pub(crate) elb: aws_sdk_elasticloadbalancingv2::Client,
    pub(crate) region: String,
    pub(crate) limit: Arc<Semaphore>,
    pub(crate) emulator: super::emulator::Emulator,
    /// This region's group waits, read together (`poll::Batch`).
    pub(crate) waits: Arc<super::poll::Batch<aws_sdk_autoscaling::types::AutoScalingGroup>>,
}

impl Compute {
    pub(crate) async fn create(
        &self,
        d: &Desired,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let refs = resolve_refs(d, ctx)?;
        let mut o = match d.kind {
            Kind::LaunchTemplate => {
                self.create_template(d, ref_id(d, &refs, "security_group")?)
                    .await?
            }
            Kind::AutoScalingGroup => self.create_group(d, &refs).await?,
            other => bail!("kind {other:?} is not a cluster resource"),
        };
        o.depends_on = d.dependencies().cloned().collect();
        Ok(o)
    }

    pub(crate) async fn update(
        &self,
        d: &Desired,
        current: &Observed,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let refs = resolve_refs(d, ctx)?;
        let mut o = match d.kind {
            Kind::LaunchTemplate => {
                let sg = ref_id(d, &refs, "security_group")?;
                self.update_template(d, current, sg).await?
            }
            Kind::AutoScalingGroup => self.update_group(d, current, &refs).await?,
            other => bail!("kind {other:?} is not a cluster resource"),
        };
        o.depends_on = d.dependencies().cloned().collect();
        Ok(o)
    }

    pub(crate) async fn delete(&self, current: &Observed) -> anyhow::Result<()> {
        match current.kind {
            Kind::LaunchTemplate => self.delete_template(current).await,
            Kind::AutoScalingGroup => self.delete_group(current).await,
            other => bail!("kind {other:?} is not a cluster resource"),
        }
    }
}

type Refs = std::collections::BTreeMap<String, Observed>;

/// A whole-number attribute.
fn int_attr(d: &Desired, key: &str) -> anyhow::Result<i32> {
    d.attrs
        .get(key)
        .and_then(Value::as_i64)
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| {
            anyhow!(
                "{}: attribute `{key}` is missing or not a whole number",
                d.address
            )
        })
}

/// The client of one region, for the family's handler (`handler::Regional`).
#[async_trait::async_trait]
impl super::handler::RegionalClient for Compute {
    fn in_region(p: &AwsProvider, region: &str) -> Self {
        p.compute(region)
    }

    async fn read(&self, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        Compute::refresh(self, scope).await
    }

    async fn create(&self, d: &Desired, ctx: &dyn ApplyContext) -> anyhow::Result<Observed> {
        Compute::create(self, d, ctx).await
    }

    async fn update(
        &self,
        d: &Desired,
        current: &Observed,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        Compute::update(self, d, current, ctx).await
    }

    async fn delete(&self, current: &Observed) -> anyhow::Result<()> {
        Compute::delete(self, current).await
    }
}
