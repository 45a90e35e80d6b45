//! `Ec2`: VPCs, internet gateways, subnets, security groups and instances in one region.
//!
//! Invariant: every resource is created with all its desired tags in the creating call (tag
//! specifications), so whatever exists can be found again by tag; a create first looks for
//! a live resource carrying its `standby:address` tag and adopts it, and instances also carry
//! a `ClientToken` derived from the address, so an interrupted apply never duplicates them.
//! Refresh is one paginated, tag-filtered describe per resource type.
//!
//! Unmanaged instances: an instance carrying the environment's `standby:service` and
//! `standby:environment` tags but no `standby:address` tag is left out of a refresh, except
//! when the scope asks for `include_unmanaged` (`standby drift`): it then comes back at
//! `unmanaged.instance.<instance id>` (see `provider::unmanaged_address`). An instance whose
//! address tag names an address nobody knows is reported at that address, as before.

use super::error::{AwsResultExt, AwsSdkError};
use super::tags;
use crate::address::Address;
use crate::provider::{resolve_refs, ApplyContext, Observed, Scope};
use crate::topology::{Desired, Kind, TAGS};
use crate::topology::{TAG_ADDRESS, TAG_ENVIRONMENT, TAG_SERVICE};
use anyhow::{anyhow, bail, Context as _};
use aws_sdk_ec2::client::Waiters as _;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, Instance, InstanceType, InternetGateway, IpPermission, IpRange,
    ResourceType, SecurityGroup, Subnet, Tag, TagSpecification, Vpc,
};
use aws_sdk_ec2::Client;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long to wait for an instance to run or terminate.
const INSTANCE_WAIT: Duration = Duration::from_secs(600);
/// Instance states that still hold capacity (and an address).
const LIVE_STATES: [&str; 4] = ["pending", "running", "stopping", "stopped"];

/// The EC2 API of one region.
pub(crate) struct Ec2 {
    pub(crate) client: Client,
    pub(crate) region: String,
    /// Bounds concurrent EC2 reads (shared by every region's `Ec2`).
    pub(crate) limit: Arc<Semaphore>,
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
            Kind::SecurityGroup => self.create_security_group(d, &ref_id("vpc")?).await?,
            Kind::Instance => {
                self.create_instance(d, &ref_id("subnet")?, &ref_id("security_group")?)
                    .await?
            }
            other => bail!("kind {other:?} is not an EC2 resource"),
        };
        observed.depends_on = d.dependencies().cloned().collect();
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
                retry_dependency(|| async {
                    self.client.delete_vpc().vpc_id(id).send().await.map(|_| ())
                })
                .await
                .absent_if(&["InvalidVpcID.NotFound"], "DeleteVpc", r, a)?;
            }
            Kind::Subnet => {
                retry_dependency(|| async {
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
                retry_dependency(|| async {
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
                if !gone {
                    self.client
                        .wait_until_instance_terminated()
                        .instance_ids(id)
                        .wait(INSTANCE_WAIT)
                        .await
                        .map_err(|e| super::error::wait_failure("terminated", r, a, &e))?;
                }
            }
            other => bail!("kind {other:?} is not an EC2 resource"),
        }
        Ok(())
    }

    /// Every tagged EC2 resource of the scope in this region: one paginated describe per type.
    pub(crate) async fn refresh(&self, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        let filters = vec![
            tag_filter(TAG_SERVICE, &scope.service),
            tag_filter(TAG_ENVIRONMENT, &scope.environment),
        ];
        let subject = format!("the refresh of {}/{}", scope.service, scope.environment);
        let (vpcs, igws, subnets, groups, instances) = tokio::try_join!(
            self.list_vpcs(filters.clone(), &subject),
            self.list_internet_gateways(filters.clone(), &subject),
            self.list_subnets(filters.clone(), &subject),
            self.list_security_groups(filters.clone(), &subject),
            self.list_instances(live_filters(filters.clone()), &subject),
        )?;

        let mut out = Vec::new();
        let mut by_id: HashMap<String, Address> = HashMap::new();
        for v in &vpcs {
            if let Some(o) = self.vpc_observed(v) {
                by_id.insert(o.id.clone(), o.address.clone());
                out.push(o);
            }
        }
        let vpc_dep = |vpc: Option<&str>| {
            vpc.and_then(|v| by_id.get(v).cloned())
                .into_iter()
                .collect::<Vec<_>>()
        };
        let mut rest = Vec::new();
        for g in &igws {
            if let Some(mut o) = self.igw_observed(g) {
                o.depends_on = vpc_dep(g.attachments().first().and_then(|a| a.vpc_id()));
                rest.push(o);
            }
        }
        for s in &subnets {
            if let Some(mut o) = self.subnet_observed(s, None) {
                o.depends_on = vpc_dep(s.vpc_id());
                rest.push(o);
            }
        }
        for g in &groups {
            if let Some(mut o) = self.sg_observed(g) {
                o.depends_on = vpc_dep(g.vpc_id());
                rest.push(o);
            }
        }
        for o in &rest {
            by_id.insert(o.id.clone(), o.address.clone());
        }
        out.extend(rest);
        for i in dedupe_instances(instances) {
            let found = match self.instance_observed(&i) {
                None if scope.include_unmanaged => {
                    self.instance_observed_untagged(&i).map(|mut o| {
                        o.address = crate::provider::unmanaged_address(Kind::Instance, &o.id);
                        o
                    })
                }
                found => found,
            };
            if let Some(mut o) = found {
                let mut deps: Vec<Address> = i
                    .subnet_id()
                    .and_then(|s| by_id.get(s).cloned())
                    .into_iter()
                    .collect();
                deps.extend(
                    i.security_groups()
                        .iter()
                        .filter_map(|g| g.group_id().and_then(|id| by_id.get(id).cloned())),
                );
                o.depends_on = deps;
                out.push(o);
            }
        }
        Ok(out)
    }

    // --- creation, one kind at a time ----------------------------------------------------

    async fn create_vpc(&self, d: &Desired) -> anyhow::Result<Observed> {
        if let Some(found) = self.find_by_address(d).await? {
            return Ok(found);
        }
        let out = self
            .client
            .create_vpc()
            .cidr_block(str_attr(d, "cidr")?)
            .tag_specifications(tag_spec(ResourceType::Vpc, d))
            .send()
            .await
            .op("CreateVpc", &self.region, &d.address)?;
        let vpc = out
            .vpc()
            .ok_or_else(|| self.empty("CreateVpc", &d.address))?;
        let id = vpc.vpc_id().unwrap_or_default();
        self.client
            .wait_until_vpc_available()
            .vpc_ids(id)
            .wait(INSTANCE_WAIT)
            .await
            .map_err(|e| {
                super::error::wait_failure("vpc available", &self.region, &d.address, &e)
            })?;
        self.vpc_observed(vpc)
            .ok_or_else(|| self.empty("CreateVpc", &d.address))
    }

    async fn create_internet_gateway(&self, d: &Desired, vpc_id: &str) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let existing = self.find_raw_igw(d).await?;
        let igw = match existing {
            Some(g) => g,
            None => self
                .client
                .create_internet_gateway()
                .tag_specifications(tag_spec(ResourceType::InternetGateway, d))
                .send()
                .await
                .op("CreateInternetGateway", r, a)?
                .internet_gateway()
                .cloned()
                .ok_or_else(|| self.empty("CreateInternetGateway", a))?,
        };
        let igw_id = igw.internet_gateway_id().unwrap_or_default().to_string();
        if !igw.attachments().iter().any(|x| x.vpc_id() == Some(vpc_id)) {
            self.client
                .attach_internet_gateway()
                .internet_gateway_id(&igw_id)
                .vpc_id(vpc_id)
                .send()
                .await
                .absent_if(
                    &["Resource.AlreadyAssociated"],
                    "AttachInternetGateway",
                    r,
                    a,
                )?;
        }
        // The default route of the VPC's main route table goes through the gateway.
        let tables = self
            .client
            .describe_route_tables()
            .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
            .filters(
                Filter::builder()
                    .name("association.main")
                    .values("true")
                    .build(),
            )
            .send()
            .await
            .op("DescribeRouteTables", r, a)?;
        let table = tables
            .route_tables()
            .first()
            .and_then(|t| t.route_table_id())
            .ok_or_else(|| anyhow!("{a}: vpc {vpc_id} in {r} has no main route table"))?;
        let created = self
            .client
            .create_route()
            .route_table_id(table)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(&igw_id)
            .send()
            .await;
        if let Err(e) = created {
            if super::error::code(&e) == Some("RouteAlreadyExists") {
                self.client
                    .replace_route()
                    .route_table_id(table)
                    .destination_cidr_block("0.0.0.0/0")
                    .gateway_id(&igw_id)
                    .send()
                    .await
                    .op("ReplaceRoute", r, a)?;
            } else {
                return Err(super::error::failure("CreateRoute", r, a, &e));
            }
        }
        Ok(Observed {
            address: d.address.clone(),
            kind: Kind::InternetGateway,
            region: Some(self.region.clone()),
            id: igw_id,
            attrs: Map::new(),
            computed: [("vpc_id".to_string(), json!(vpc_id))]
                .into_iter()
                .collect(),
            depends_on: Vec::new(),
        })
    }

    async fn create_subnet(&self, d: &Desired, vpc_id: &str) -> anyhow::Result<Observed> {
        let want = bool_attr(d, "map_public_ip", true)?;
        let subnet = match self.find_raw(d, Kind::Subnet).await? {
            Some(Raw::Subnet(s)) => s,
            _ => self
                .client
                .create_subnet()
                .vpc_id(vpc_id)
                .cidr_block(str_attr(d, "cidr")?)
                .availability_zone(str_attr(d, "zone")?)
                .tag_specifications(tag_spec(ResourceType::Subnet, d))
                .send()
                .await
                .op("CreateSubnet", &self.region, &d.address)?
                .subnet()
                .cloned()
                .ok_or_else(|| self.empty("CreateSubnet", &d.address))?,
        };
        let id = subnet.subnet_id().unwrap_or_default();
        if subnet.map_public_ip_on_launch() != Some(want) {
            self.set_map_public_ip(&d.address, id, want).await?;
        }
        self.subnet_observed(&subnet, Some(want))
            .ok_or_else(|| self.empty("CreateSubnet", &d.address))
    }

    async fn set_map_public_ip(
        &self,
        address: &Address,
        id: &str,
        want: bool,
    ) -> anyhow::Result<()> {
        self.client
            .modify_subnet_attribute()
            .subnet_id(id)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(want).build())
            .send()
            .await
            .op("ModifySubnetAttribute", &self.region, address)?;
        Ok(())
    }

    async fn create_security_group(&self, d: &Desired, vpc_id: &str) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let name = str_attr(d, "group_name")?;
        let port = port_attr(d)?;
        let group_id = match self.find_raw(d, Kind::SecurityGroup).await? {
            Some(Raw::SecurityGroup(g)) => g.group_id().unwrap_or_default().to_string(),
            _ => {
                let created = self
                    .client
                    .create_security_group()
                    .group_name(name)
                    .description(format!("standby {a}"))
                    .vpc_id(vpc_id)
                    .tag_specifications(tag_spec(ResourceType::SecurityGroup, d))
                    .send()
                    .await;
                match created {
                    Ok(out) => out.group_id().unwrap_or_default().to_string(),
                    Err(e) if super::error::code(&e) == Some("InvalidGroup.Duplicate") => {
                        // Same deterministic name in the same VPC: adopt it and tag it.
                        let found = self
                            .client
                            .describe_security_groups()
                            .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
                            .filters(Filter::builder().name("group-name").values(name).build())
                            .send()
                            .await
                            .op("DescribeSecurityGroups", r, a)?;
                        let id = found
                            .security_groups()
                            .first()
                            .and_then(|g| g.group_id())
                            .ok_or_else(|| super::error::failure("CreateSecurityGroup", r, a, &e))?
                            .to_string();
                        self.client
                            .create_tags()
                            .resources(&id)
                            .set_tags(Some(ec2_tags(d)))
                            .send()
                            .await
                            .op("CreateTags", r, a)?;
                        id
                    }
                    Err(e) => return Err(super::error::failure("CreateSecurityGroup", r, a, &e)),
                }
            }
        };
        self.authorize_port(a, &group_id, port).await?;
        Ok(Observed {
            address: a.clone(),
            kind: Kind::SecurityGroup,
            region: Some(self.region.clone()),
            id: group_id,
            attrs: map([("group_name", json!(name)), ("port", json!(port))]),
            computed: map([("vpc_id", json!(vpc_id))]),
            depends_on: Vec::new(),
        })
    }

    async fn authorize_port(
        &self,
        address: &Address,
        group_id: &str,
        port: i32,
    ) -> anyhow::Result<()> {
        self.client
            .authorize_security_group_ingress()
            .group_id(group_id)
            .ip_permissions(tcp_from_anywhere(port))
            .send()
            .await
            .absent_if(
                &["InvalidPermission.Duplicate"],
                "AuthorizeSecurityGroupIngress",
                &self.region,
                address,
            )?;
        Ok(())
    }

    async fn create_instance(
        &self,
        d: &Desired,
        subnet_id: &str,
        group_id: &str,
    ) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        // Adopt a live instance carrying the address (waiting for it if still pending).
        if let Some(Raw::Instance(found)) = self.find_raw(d, Kind::Instance).await? {
            let state = found.state().and_then(|s| s.name()).map(|n| n.as_str());
            if state != Some("pending") {
                return self
                    .instance_observed(&found)
                    .ok_or_else(|| self.empty("DescribeInstances", a));
            }
            return self.wait_running(d, *found).await;
        }
        let mut token = client_token(d);
        let mut instance = None;
        // A token whose instance has since terminated returns that instance again (EC2 keeps
        // tokens for a while): derive a new token from it, deterministically.
        for _ in 0..3 {
            let out = self
                .client
                .run_instances()
                .image_id(str_attr(d, "image")?)
                .instance_type(InstanceType::from(str_attr(d, "instance_type")?))
                .min_count(1)
                .max_count(1)
                .subnet_id(subnet_id)
                .security_group_ids(group_id)
                .client_token(&token)
                .tag_specifications(tag_spec(ResourceType::Instance, d))
                .send()
                .await
                .op("RunInstances", r, a)?;
            let i = out
                .instances()
                .first()
                .cloned()
                .ok_or_else(|| self.empty("RunInstances", a))?;
            let state = i
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_string());
            if matches!(state.as_deref(), Some("terminated" | "shutting-down")) {
                token = salted_token(&token, i.instance_id().unwrap_or_default());
                continue;
            }
            instance = Some(i);
            break;
        }
        let instance = instance.ok_or_else(|| {
            anyhow!(
                "{a}: RunInstances in {r} kept returning terminated instances for its client token"
            )
        })?;
        self.wait_running(d, instance).await
    }

    async fn wait_running(&self, d: &Desired, instance: Instance) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let id = instance.instance_id().unwrap_or_default().to_string();
        let ready = self
            .client
            .wait_until_instance_running()
            .instance_ids(&id)
            .wait(INSTANCE_WAIT)
            .await
            .map_err(|e| super::error::wait_failure("instance running", r, a, &e))?;
        let running = ready
            .as_result()
            .ok()
            .and_then(|o| {
                o.reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .find(|i| i.instance_id() == Some(id.as_str()))
                    .cloned()
            })
            .unwrap_or(instance);
        self.instance_observed(&running)
            .or_else(|| {
                // Tags should be on it; fall back to the desired address.
                let mut o = self.instance_observed_untagged(&running)?;
                o.address = a.clone();
                Some(o)
            })
            .ok_or_else(|| self.empty("RunInstances", a))
    }

    async fn delete_internet_gateway(&self, a: &Address, id: &str) -> anyhow::Result<()> {
        let r = self.region.as_str();
        let Some(found) = self
            .client
            .describe_internet_gateways()
            .internet_gateway_ids(id)
            .send()
            .await
            .absent_if(
                &["InvalidInternetGatewayID.NotFound"],
                "DescribeInternetGateways",
                r,
                a,
            )?
        else {
            return Ok(());
        };
        let Some(igw) = found.internet_gateways().first() else {
            return Ok(());
        };
        for attachment in igw.attachments() {
            let Some(vpc_id) = attachment.vpc_id() else {
                continue;
            };
            let tables = self
                .client
                .describe_route_tables()
                .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
                .filters(
                    Filter::builder()
                        .name("route.gateway-id")
                        .values(id)
                        .build(),
                )
                .send()
                .await
                .op("DescribeRouteTables", r, a)?;
            for table in tables.route_tables() {
                for route in table.routes().iter().filter(|x| x.gateway_id() == Some(id)) {
                    if let Some(cidr) = route.destination_cidr_block() {
                        self.client
                            .delete_route()
                            .route_table_id(table.route_table_id().unwrap_or_default())
                            .destination_cidr_block(cidr)
                            .send()
                            .await
                            .absent_if(&["InvalidRoute.NotFound"], "DeleteRoute", r, a)?;
                    }
                }
            }
            retry_dependency(|| async {
                self.client
                    .detach_internet_gateway()
                    .internet_gateway_id(id)
                    .vpc_id(vpc_id)
                    .send()
                    .await
                    .map(|_| ())
            })
            .await
            .absent_if(
                &["Gateway.NotAttached", "InvalidInternetGatewayID.NotFound"],
                "DetachInternetGateway",
                r,
                a,
            )?;
        }
        self.client
            .delete_internet_gateway()
            .internet_gateway_id(id)
            .send()
            .await
            .absent_if(
                &["InvalidInternetGatewayID.NotFound"],
                "DeleteInternetGateway",
                r,
                a,
            )?;
        Ok(())
    }

    // --- finding by address --------------------------------------------------------------

    /// The live resource of `d`'s kind carrying `d`'s address tag, if any.
    async fn find_by_address(&self, d: &Desired) -> anyhow::Result<Option<Observed>> {
        Ok(match self.find_raw(d, d.kind).await? {
            None => None,
            Some(Raw::Vpc(v)) => self.vpc_observed(&v),
            Some(Raw::Igw(g)) => self.igw_observed(&g),
            Some(Raw::Subnet(s)) => self.subnet_observed(&s, None),
            Some(Raw::SecurityGroup(g)) => self.sg_observed(&g),
            Some(Raw::Instance(i)) => self.instance_observed(&i),
        })
    }

    async fn find_raw_igw(&self, d: &Desired) -> anyhow::Result<Option<InternetGateway>> {
        Ok(match self.find_raw(d, Kind::InternetGateway).await? {
            Some(Raw::Igw(g)) => Some(g),
            _ => None,
        })
    }

    async fn find_raw(&self, d: &Desired, kind: Kind) -> anyhow::Result<Option<Raw>> {
        // Filter values are wildcard patterns: `?` stands for the brackets of an indexed
        // address (moto 5.2.5 does not match `subnet[0]` literally for subnets); the exact
        // address is then checked here.
        let pattern = d.address.as_str().replace(['[', ']'], "?");
        let tag = |key: &str| d.tags.get(key).map(String::as_str).unwrap_or_default();
        let filters = vec![
            tag_filter(TAG_ADDRESS, &pattern),
            tag_filter(TAG_SERVICE, tag(TAG_SERVICE)),
            tag_filter(TAG_ENVIRONMENT, tag(TAG_ENVIRONMENT)),
        ];
        let subject = d.address.to_string();
        let ours = |tags: &[Tag]| {
            tag_map(tags).get(TAG_ADDRESS).map(String::as_str) == Some(d.address.as_str())
        };
        Ok(match kind {
            Kind::Vpc => self
                .list_vpcs(filters, &subject)
                .await?
                .into_iter()
                .find(|x| ours(x.tags()))
                .map(Raw::Vpc),
            Kind::InternetGateway => self
                .list_internet_gateways(filters, &subject)
                .await?
                .into_iter()
                .find(|x| ours(x.tags()))
                .map(Raw::Igw),
            Kind::Subnet => self
                .list_subnets(filters, &subject)
                .await?
                .into_iter()
                .find(|x| ours(x.tags()))
                .map(Raw::Subnet),
            Kind::SecurityGroup => self
                .list_security_groups(filters, &subject)
                .await?
                .into_iter()
                .find(|x| ours(x.tags()))
                .map(Raw::SecurityGroup),
            Kind::Instance => {
                let live = self.list_instances(live_filters(filters), &subject).await?;
                dedupe_instances(live.into_iter().filter(|x| ours(x.tags())).collect())
                    .into_iter()
                    .next()
                    .map(|i| Raw::Instance(Box::new(i)))
            }
            other => bail!("kind {other:?} is not an EC2 resource"),
        })
    }

    // --- paginated, filtered describes ---------------------------------------------------

    async fn list_vpcs(&self, filters: Vec<Filter>, subject: &str) -> anyhow::Result<Vec<Vpc>> {
        let _permit = self.limit.acquire().await?;
        let items = self
            .client
            .describe_vpcs()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send();
        items
            .try_collect()
            .await
            .op("DescribeVpcs", &self.region, &subject)
    }

    async fn list_internet_gateways(
        &self,
        filters: Vec<Filter>,
        subject: &str,
    ) -> anyhow::Result<Vec<InternetGateway>> {
        let _permit = self.limit.acquire().await?;
        let items = self
            .client
            .describe_internet_gateways()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send();
        items
            .try_collect()
            .await
            .op("DescribeInternetGateways", &self.region, &subject)
    }

    async fn list_subnets(
        &self,
        filters: Vec<Filter>,
        subject: &str,
    ) -> anyhow::Result<Vec<Subnet>> {
        let _permit = self.limit.acquire().await?;
        let items = self
            .client
            .describe_subnets()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send();
        items
            .try_collect()
            .await
            .op("DescribeSubnets", &self.region, &subject)
    }

    async fn list_security_groups(
        &self,
        filters: Vec<Filter>,
        subject: &str,
    ) -> anyhow::Result<Vec<SecurityGroup>> {
        let _permit = self.limit.acquire().await?;
        let items = self
            .client
            .describe_security_groups()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send();
        items
            .try_collect()
            .await
            .op("DescribeSecurityGroups", &self.region, &subject)
    }

    /// Instances matching `filters`, across every reservation and page (no `MaxResults`:
    /// it counts reservations, not instances, in moto).
    async fn list_instances(
        &self,
        filters: Vec<Filter>,
        subject: &str,
    ) -> anyhow::Result<Vec<Instance>> {
        let _permit = self.limit.acquire().await?;
        let items = self
            .client
            .describe_instances()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send();
        let reservations: Vec<_> =
            items
                .try_collect()
                .await
                .op("DescribeInstances", &self.region, &subject)?;
        Ok(reservations
            .into_iter()
            .flat_map(|r| r.instances.unwrap_or_default())
            .collect())
    }

    // --- normalisation: AWS shapes to `Observed` -----------------------------------------

    fn base(&self, kind: Kind, id: Option<&str>, tags: &[Tag]) -> Option<Observed> {
        let tags = tag_map(tags);
        let address = tags.get(TAG_ADDRESS)?;
        Some(Observed {
            address: Address::new(address.clone()),
            kind,
            region: Some(self.region.clone()),
            id: id?.to_string(),
            attrs: Map::new(),
            computed: Map::new(),
            depends_on: Vec::new(),
        })
    }

    fn vpc_observed(&self, v: &Vpc) -> Option<Observed> {
        let mut o = self.base(Kind::Vpc, v.vpc_id(), v.tags())?;
        o.attrs = map([("cidr", json!(v.cidr_block()))]);
        tags::observe(&mut o, pairs(v.tags()));
        Some(o)
    }

    fn igw_observed(&self, g: &InternetGateway) -> Option<Observed> {
        let mut o = self.base(Kind::InternetGateway, g.internet_gateway_id(), g.tags())?;
        if let Some(vpc) = g.attachments().first().and_then(|a| a.vpc_id()) {
            o.computed = map([("vpc_id", json!(vpc))]);
        }
        tags::observe(&mut o, pairs(g.tags()));
        Some(o)
    }

    /// `map_public_ip` overrides what AWS reported (the create path changes it after reading).
    fn subnet_observed(&self, s: &Subnet, map_public_ip: Option<bool>) -> Option<Observed> {
        let mut o = self.base(Kind::Subnet, s.subnet_id(), s.tags())?;
        o.attrs = map([
            ("zone", json!(s.availability_zone())),
            ("cidr", json!(s.cidr_block())),
            (
                "map_public_ip",
                json!(map_public_ip.unwrap_or(s.map_public_ip_on_launch().unwrap_or(false))),
            ),
        ]);
        o.computed = map([("vpc_id", json!(s.vpc_id()))]);
        tags::observe(&mut o, pairs(s.tags()));
        Some(o)
    }

    fn sg_observed(&self, g: &SecurityGroup) -> Option<Observed> {
        let mut o = self.base(Kind::SecurityGroup, g.group_id(), g.tags())?;
        let port = g
            .ip_permissions()
            .iter()
            .find(|p| {
                p.ip_protocol() == Some("tcp")
                    && p.from_port().is_some()
                    && p.from_port() == p.to_port()
                    && p.ip_ranges()
                        .iter()
                        .any(|r| r.cidr_ip() == Some("0.0.0.0/0"))
            })
            .and_then(|p| p.from_port());
        o.attrs = map([("group_name", json!(g.group_name())), ("port", json!(port))]);
        o.computed = map([("vpc_id", json!(g.vpc_id()))]);
        tags::observe(&mut o, pairs(g.tags()));
        Some(o)
    }

    fn instance_observed(&self, i: &Instance) -> Option<Observed> {
        let base = self.base(Kind::Instance, i.instance_id(), i.tags())?;
        let mut o = self.instance_observed_untagged(i)?;
        o.address = base.address;
        Some(o)
    }

    fn instance_observed_untagged(&self, i: &Instance) -> Option<Observed> {
        let mut computed = Map::new();
        if let Some(ip) = i.public_ip_address() {
            computed.insert("public_ip".into(), json!(ip));
        }
        if let Some(ip) = i.private_ip_address() {
            computed.insert("private_ip".into(), json!(ip));
        }
        if let Some(state) = i.state().and_then(|s| s.name()) {
            computed.insert("state".into(), json!(state.as_str()));
        }
        let mut o = Observed {
            address: Address::new(""),
            kind: Kind::Instance,
            region: Some(self.region.clone()),
            id: i.instance_id()?.to_string(),
            attrs: map([
                (
                    "instance_type",
                    json!(i.instance_type().map(|t| t.as_str())),
                ),
                ("image", json!(i.image_id())),
                (
                    "zone",
                    json!(i.placement().and_then(|p| p.availability_zone())),
                ),
            ]),
            computed,
            depends_on: Vec::new(),
        };
        tags::observe(&mut o, pairs(i.tags()));
        Some(o)
    }

    fn empty(&self, op: &str, address: &Address) -> anyhow::Error {
        anyhow!(
            "{op} in {} failed for {address}: the answer described no resource",
            self.region
        )
    }
}

/// A resource as `describe_*` returned it; short-lived, so its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Raw {
    Vpc(Vpc),
    Igw(InternetGateway),
    Subnet(Subnet),
    SecurityGroup(SecurityGroup),
    Instance(Box<Instance>),
}

/// One instance per address: the oldest by launch time. An interrupted apply on an API
/// without idempotency tokens could leave two; the others are logged, not reported, so the
/// engine keeps acting on one instance per address (terminate the extra ones by hand).
fn dedupe_instances(mut instances: Vec<Instance>) -> Vec<Instance> {
    instances.sort_by_key(|i| {
        (
            i.launch_time().map(|t| (t.secs(), t.subsec_nanos())),
            i.instance_id().map(str::to_owned),
        )
    });
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for i in instances {
        let address = tag_map(i.tags()).remove(TAG_ADDRESS);
        let id = i.instance_id().unwrap_or_default().to_string();
        match address {
            Some(a) => match seen.get(&a) {
                Some(kept) => tracing::warn!(
                    address = %a,
                    kept = %kept,
                    duplicate = %id,
                    "two live instances carry the same address; reporting the oldest, terminate the other"
                ),
                None => {
                    seen.insert(a, id);
                    out.push(i);
                }
            },
            None => out.push(i),
        }
    }
    out
}

/// Retries an EC2 call while it answers `DependencyViolation` (an ENI or attachment still
/// going away after a dependent resource was deleted), with a bounded exponential backoff.
async fn retry_dependency<F, Fut, E>(mut call: F) -> Result<(), AwsSdkError<E>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), AwsSdkError<E>>>,
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    let mut delay = Duration::from_millis(500);
    for _ in 0..8 {
        match call().await {
            Err(e) if super::error::code(&e) == Some("DependencyViolation") => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(20));
            }
            other => return other,
        }
    }
    call().await
}

/// A `ClientToken` derived from the environment, the address and the spec-derived settings
/// (at most 64 characters): the same resource retried yields the same token, a replacement
/// or the same address in another environment of the account a new one. Tags are left out:
/// they change in place.
pub(crate) fn client_token(d: &Desired) -> String {
    let mut settings = d.attrs.clone();
    settings.remove(TAGS);
    let attrs = serde_json::to_string(&settings).unwrap_or_default();
    let tag = |k: &str| d.tags.get(k).map(String::as_str).unwrap_or_default();
    let input = format!(
        "{}|{}|{}|{attrs}",
        tag(TAG_SERVICE),
        tag(TAG_ENVIRONMENT),
        d.address
    );
    hex::encode(Sha256::digest(input.as_bytes()))[..64].to_string()
}

fn salted_token(token: &str, terminated_id: &str) -> String {
    hex::encode(Sha256::digest(
        format!("{token}|{terminated_id}").as_bytes(),
    ))[..64]
        .to_string()
}

fn tcp_from_anywhere(port: i32) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build()
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

pub(crate) fn map<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

pub(crate) fn str_attr<'a>(d: &'a Desired, key: &str) -> anyhow::Result<&'a str> {
    d.attrs.get(key).and_then(Value::as_str).with_context(|| {
        format!(
            "{}: attribute `{key}` is missing or not a string",
            d.address
        )
    })
}

fn bool_attr(d: &Desired, key: &str, default: bool) -> anyhow::Result<bool> {
    match d.attrs.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_bool()
            .with_context(|| format!("{}: attribute `{key}` is not a boolean", d.address)),
    }
}

fn port_attr(d: &Desired) -> anyhow::Result<i32> {
    d.attrs
        .get("port")
        .and_then(Value::as_i64)
        .filter(|p| (0..=65535).contains(p))
        .map(|p| p as i32)
        .with_context(|| {
            format!(
                "{}: attribute `port` must be a number from 0 to 65535",
                d.address
            )
        })
}
