//! `Ec2`: VPCs, internet gateways, subnets, security groups, and stray instances in one
//! region (clusters run in Auto Scaling groups: `compute/`).
//!
//! Invariant: every resource is created with all its desired tags in the creating call (tag
//! specifications), so whatever exists can be found again by tag; a create first looks for
//! a live resource carrying its `standby:address` tag and adopts it.
//! Refresh is one paginated, tag-filtered describe per resource type; instances are found
//! through `DescribeTags`, so a group's members are never described (`refresh.rs`).
//!
//! Unmanaged instances: an instance carrying the environment's `standby:service` and
//! `standby:environment` tags that belongs to no Auto Scaling group (a group's members carry
//! `aws:autoscaling:groupName` and are the group's) is left out of a refresh, except when the
//! scope asks for `include_unmanaged` (`standby drift`): it then comes back at
//! `unmanaged.instance.<instance id>` (see `provider::unmanaged_address`). An instance whose
//! address tag names an address (one launched by hand before clusters had groups) is
//! reported there, so a plan terminates it.

use super::attrs::{map, str_attr};
use super::error::{self, AwsResultExt};
use super::tags;
use super::AwsProvider;
use crate::address::Address;
use crate::provider::{resolve_refs, ApplyContext, Observed, Scope};
use crate::topology::{Desired, Kind, TAGS};
use crate::topology::{TAG_ADDRESS, TAG_ENVIRONMENT, TAG_SERVICE};
use anyhow::{anyhow, bail, Context as _};
use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, Instance, InternetGateway, IpPermission, IpRange, ResourceType,
    SecurityGroup, Subnet, Tag, TagSpecification, Vpc,
};
use aws_sdk_ec2::Client;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::Semaphore;

mod find;
mod instance;
mod refresh;
mod security_group;
mod vpc;
pub(crate) use find::Listed;
use find::*;
use instance::*;
use security_group::*;

/// Instance states that still hold capacity (and an address).
const LIVE_STATES: [&str; 4] = ["pending", "running", "stopping", "stopped"];

/// The EC2 API of one region.
pub(crate) struct Ec2 {
    pub(crate) client: Client,
    pub(crate) region: String,
    /// Bounds concurrent EC2 reads (shared by every region's `Ec2`).
    pub(crate) limit: Arc<Semaphore>,
    /// Whether the emulator workarounds apply (`emulator.rs`).
    pub(crate) emulator: super::emulator::Emulator,
    /// What already exists, listed once per command (shared by every region's `Ec2`).
    pub(crate) listed: Arc<Listed>,
}

impl Ec2 {
    pub(crate) async fn create(
        &self,
        d: &Desired,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let refs = resolve_refs(d, ctx)?;
        let ref_id = |name: &str| -> anyhow::Result<String> {
            refs.get(name).map(|o| o.id.clone()).ok_or_else(|| {
                anyhow!("{}: reference `{name}` is missing from the spec", d.address)
            })
        };
        let mut observed = match d.kind {
            Kind::Vpc => self.create_vpc(d).await?,
            Kind::InternetGateway => self.create_internet_gateway(d, &ref_id("vpc")?).await?,
            Kind::Subnet => self.create_subnet(d, &ref_id("vpc")?).await?,
            Kind::SecurityGroup => {
                let from: Vec<String> = refs
                    .iter()
                    .filter(|(k, _)| k.starts_with("ingress."))
                    .map(|(_, o)| o.id.clone())
                    .collect();
                self.create_security_group(d, &ref_id("vpc")?, &from)
                    .await?
            }
            Kind::Instance => {
                bail!(
                    "{}: instances are launched by their cluster's Auto Scaling group",
                    d.address
                )
            }
            other => bail!("kind {other:?} is not an EC2 resource"),
        };
        observed.depends_on = d.dependencies().cloned().collect();
        self.note_created(d);
        Ok(observed)
    }

    pub(crate) async fn update(&self, d: &Desired, current: &Observed) -> anyhow::Result<Observed> {
        match d.kind {
            Kind::Vpc | Kind::InternetGateway => {}
            Kind::Subnet => {
                let want = bool_attr(d, "map_public_ip", true)?;
                if current.attrs.get("map_public_ip") != Some(&Value::Bool(want)) {
                    self.set_map_public_ip(&d.address, &current.id, want)
                        .await?;
                }
            }
            Kind::SecurityGroup if d.attrs.contains_key("ingress") => {
                if current.attrs.get("port") != d.attrs.get("port") {
                    bail!("{}: a database security group's port cannot change in place; replace it instead", d.address);
                }
            }
            Kind::SecurityGroup => {
                let want = port_attr(d)?;
                let had = current
                    .attrs
                    .get("port")
                    .and_then(Value::as_i64)
                    .map(|p| p as i32);
                if had != Some(want) {
                    self.authorize_port(&d.address, &current.id, want).await?;
                    if let Some(old) = had {
                        self.client
                            .revoke_security_group_ingress()
                            .group_id(&current.id)
                            .ip_permissions(tcp_from_anywhere(old))
                            .send()
                            .await
                            .absent_if(
                                &["InvalidPermission.NotFound"],
                                "RevokeSecurityGroupIngress",
                                &self.region,
                                &d.address,
                            )?;
                    }
                }
            }
            Kind::Instance => {
                let changed: Vec<&String> = d
                    .attrs
                    .iter()
                    .filter(|(k, _)| *k != TAGS)
                    .filter(|(k, v)| current.attrs.get(*k) != Some(v))
                    .map(|(k, _)| k)
                    .collect();
                if !changed.is_empty() {
                    bail!(
                        "{}: an instance cannot be changed in place ({} changed); replace it instead",
                        d.address,
                        changed.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
                    );
                }
            }
            other => bail!("kind {other:?} is not an EC2 resource"),
        }
        self.client
            .create_tags()
            .resources(&current.id)
            .set_tags(Some(ec2_tags(d)))
            .send()
            .await
            .op("CreateTags", &self.region, &d.address)?;
        let removed = tags::removed(d, current);
        if !removed.is_empty() {
            // A key without a value deletes the tag whatever its value (EC2 DeleteTags).
            let keys = removed.iter().map(|k| Tag::builder().key(k).build());
            self.client
                .delete_tags()
                .resources(&current.id)
                .set_tags(Some(keys.collect()))
                .send()
                .await
                .op("DeleteTags", &self.region, &d.address)?;
        }
        let mut found = self
            .find_by_address(d)
            .await?
            .ok_or_else(|| anyhow!("{} disappeared during its update", d.address))?;
        found.depends_on = d.dependencies().cloned().collect();
        Ok(found)
    }

    pub(crate) async fn delete(&self, current: &Observed) -> anyhow::Result<()> {
        let (a, r, id) = (&current.address, self.region.as_str(), current.id.as_str());
        match current.kind {
            Kind::Vpc => {
                super::poll::retry(self.draining(), DRAINING, || async {
                    self.client.delete_vpc().vpc_id(id).send().await.map(|_| ())
                })
                .await
                .absent_if(&["InvalidVpcID.NotFound"], "DeleteVpc", r, a)?;
            }
            Kind::Subnet => {
                super::poll::retry(self.draining(), DRAINING, || async {
                    self.client
                        .delete_subnet()
                        .subnet_id(id)
                        .send()
                        .await
                        .map(|_| ())
                })
                .await
                .absent_if(&["InvalidSubnetID.NotFound"], "DeleteSubnet", r, a)?;
            }
            Kind::SecurityGroup => {
                super::poll::retry(self.draining(), DRAINING, || async {
                    self.client
                        .delete_security_group()
                        .group_id(id)
                        .send()
                        .await
                        .map(|_| ())
                })
                .await
                .absent_if(
                    &["InvalidGroup.NotFound", "InvalidGroupId.NotFound"],
                    "DeleteSecurityGroup",
                    r,
                    a,
                )?;
            }
            Kind::InternetGateway => self.delete_internet_gateway(a, id).await?,
            Kind::Instance => {
                let gone = self
                    .client
                    .terminate_instances()
                    .instance_ids(id)
                    .send()
                    .await
                    .absent_if(&["InvalidInstanceID.NotFound"], "TerminateInstances", r, a)?
                    .is_none();
                // NotFound right after a launch does not prove termination (eventual
                // consistency: https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html):
                // either way a describe confirms it.
                let _ = gone;
                self.wait_instance_state(a, id, "terminated").await?;
            }
            other => bail!("kind {other:?} is not an EC2 resource"),
        }
        self.note_deleted(current);
        Ok(())
    }
}

/// A delete refused while dependents drain (ENIs of terminating instances, attachments):
/// "DependencyViolation" / "InvalidGroup.InUse" for minutes
/// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html), retried
/// as Terraform's `RetryWhenAWSErrCodeEquals` does (internal/tfresource/retry.go).
pub(crate) const DRAINING: &[&str] = &["DependencyViolation", "InvalidGroup.InUse"];

/// A just-created id another call does not know yet: "If you try to describe, tag or modify
/// a resource immediately after creating it, you might get a NotFound error" (EC2 API
/// "Eventual consistency", https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html).
pub(crate) const NEW_ID: &[&str] = &[
    "InvalidInstanceID.NotFound",
    "InvalidVpcID.NotFound",
    "InvalidGroup.NotFound",
    "InvalidGroupId.NotFound",
    "InvalidSubnetID.NotFound",
    "InvalidInternetGatewayID.NotFound",
    "InvalidRouteTableID.NotFound",
];

impl Ec2 {
    /// How long a call to a just-created id is retried while AWS does not know it yet.
    fn settling(&self) -> super::poll::Pace {
        super::poll::Pace::window(
            self.emulator,
            super::settings::settings().consistency_timeout,
        )
    }

    /// How long a delete is retried while dependents drain (`--consistency-timeout`).
    fn draining(&self) -> super::poll::Pace {
        super::poll::Pace::window(
            self.emulator,
            super::settings::settings().consistency_timeout,
        )
    }
}

fn tag_filter(key: &str, value: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{key}"))
        .values(value)
        .build()
}

fn live_filters(mut filters: Vec<Filter>) -> Vec<Filter> {
    filters.push(
        Filter::builder()
            .name("instance-state-name")
            .set_values(Some(LIVE_STATES.iter().map(|s| s.to_string()).collect()))
            .build(),
    );
    filters
}

fn ec2_tags(d: &Desired) -> Vec<Tag> {
    d.tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn tag_spec(resource_type: ResourceType, d: &Desired) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource_type)
        .set_tags(Some(ec2_tags(d)))
        .build()
}

fn pairs(tags: &[Tag]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter()
        .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

fn bool_attr(d: &Desired, key: &str, default: bool) -> anyhow::Result<bool> {
    match d.attrs.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_bool()
            .with_context(|| format!("{}: attribute `{key}` is not a boolean", d.address)),
    }
}

/// The client of one region, for the family's handler (`handler::Regional`).
#[async_trait::async_trait]
impl super::handler::RegionalClient for Ec2 {
    fn in_region(p: &AwsProvider, region: &str) -> Self {
        p.ec2(region)
    }

    async fn read(&self, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        Ec2::refresh(self, scope).await
    }

    async fn create(&self, d: &Desired, ctx: &dyn ApplyContext) -> anyhow::Result<Observed> {
        Ec2::create(self, d, ctx).await
    }

    async fn update(
        &self,
        d: &Desired,
        current: &Observed,
        _ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        Ec2::update(self, d, current).await
    }

    async fn delete(&self, current: &Observed) -> anyhow::Result<()> {
        Ec2::delete(self, current).await
    }
}
