//! Reading a region's network in batch: one paginated, tag-filtered describe per type,
//! normalised to `Observed`.

use super::*;
use std::collections::HashSet;

impl Ec2 {
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
            self.stray_instances(scope, live_filters(filters.clone()), &subject),
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
        // A group's instances are the group's (`compute/`), not resources of their own.
        let members = instances.into_iter().filter(|i| !in_group(i));
        for i in dedupe_instances(members.collect()) {
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
}

/// The tag Auto Scaling puts on the instances of a group
/// (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-tagging.html).
const GROUP_TAG: &str = "aws:autoscaling:groupName";

/// Values per EC2 filter: EC2 answers `FilterLimitExceeded` above 200 (the API reference,
/// API_Filter.html, names no figure).
const FILTER_VALUES: usize = 200;

fn in_group(i: &Instance) -> bool {
    i.tags().iter().any(|t| t.key() == Some(GROUP_TAG))
}

impl Ec2 {
    // --- paginated, filtered describes ---------------------------------------------------

    pub(super) async fn list_vpcs(
        &self,
        filters: Vec<Filter>,
        subject: &str,
    ) -> anyhow::Result<Vec<Vpc>> {
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

    pub(super) async fn list_internet_gateways(
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

    pub(super) async fn list_subnets(
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

    pub(super) async fn list_security_groups(
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

    /// The environment's instances outside any group: only `drift` (unmanaged ones) and a
    /// state that still holds instances of its own need them; a plan otherwise skips them.
    /// Group members (thousands, on a large fleet) are never described: their ids come from
    /// one `DescribeTags` listing, and only the others are described.
    async fn stray_instances(
        &self,
        scope: &Scope,
        filters: Vec<Filter>,
        subject: &str,
    ) -> anyhow::Result<Vec<Instance>> {
        let known = scope.known.iter().any(|k| k.kind == Kind::Instance);
        if !scope.include_unmanaged && !known {
            return Ok(Vec::new());
        }
        let ids = self.stray_ids(&scope.environment, subject).await?;
        let reads = ids.chunks(FILTER_VALUES).map(|chunk| {
            let mut filters = filters.clone();
            filters.push(
                Filter::builder()
                    .name("instance-id")
                    .set_values(Some(chunk.to_vec()))
                    .build(),
            );
            self.list_instances(filters, subject)
        });
        let found = futures::future::try_join_all(reads).await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// Ids of the instances tagged with `environment` that carry no group tag, from one
    /// paginated `DescribeTags` of both keys: a few bytes per instance where
    /// `DescribeInstances` returns the whole instance
    /// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeTags.html,
    /// filters `resource-type`, `key`; `MaxResults` up to 1000).
    async fn stray_ids(&self, environment: &str, subject: &str) -> anyhow::Result<Vec<String>> {
        let _permit = self.limit.acquire().await?;
        let filter = |name: &str, values: &[&str]| {
            Filter::builder()
                .name(name)
                .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
                .build()
        };
        let tags: Vec<_> = self
            .client
            .describe_tags()
            .filters(filter("resource-type", &["instance"]))
            .filters(filter("key", &[TAG_ENVIRONMENT, GROUP_TAG]))
            .max_results(1000)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .op("DescribeTags", &self.region, &subject)?;
        let grouped: HashSet<&str> = tags
            .iter()
            .filter(|t| t.key() == Some(GROUP_TAG))
            .filter_map(|t| t.resource_id())
            .collect();
        let mut ids: Vec<String> = tags
            .iter()
            .filter(|t| t.key() == Some(TAG_ENVIRONMENT) && t.value() == Some(environment))
            .filter_map(|t| t.resource_id())
            .filter(|id| !grouped.contains(id))
            .map(str::to_owned)
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// Instances matching `filters`, across every reservation and page (no `MaxResults`:
    /// it counts reservations, not instances, in moto).
    pub(super) async fn list_instances(
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

    pub(super) fn base(&self, kind: Kind, id: Option<&str>, tags: &[Tag]) -> Option<Observed> {
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

    pub(super) fn vpc_observed(&self, v: &Vpc) -> Option<Observed> {
        let mut o = self.base(Kind::Vpc, v.vpc_id(), v.tags())?;
        o.attrs = map([("cidr", json!(v.cidr_block()))]);
        tags::observe(&mut o, pairs(v.tags()));
        Some(o)
    }

    pub(super) fn igw_observed(&self, g: &InternetGateway) -> Option<Observed> {
        let mut o = self.base(Kind::InternetGateway, g.internet_gateway_id(), g.tags())?;
        if let Some(vpc) = g.attachments().first().and_then(|a| a.vpc_id()) {
            o.computed = map([("vpc_id", json!(vpc))]);
        }
        tags::observe(&mut o, pairs(g.tags()));
        Some(o)
    }

    /// `map_public_ip` overrides what AWS reported (the create path changes it after reading).
    pub(super) fn subnet_observed(
        &self,
        s: &Subnet,
        map_public_ip: Option<bool>,
    ) -> Option<Observed> {
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

    pub(super) fn sg_observed(&self, g: &SecurityGroup) -> Option<Observed> {
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
        // A database's group: its port open to other security groups only.
        let from_groups = g.ip_permissions().iter().find(|p| {
            p.ip_protocol() == Some("tcp")
                && p.from_port() == p.to_port()
                && p.ip_ranges().is_empty()
                && !p.user_id_group_pairs().is_empty()
        });
        if let (None, Some(p)) = (port, from_groups) {
            o.attrs.insert("port".into(), json!(p.from_port()));
            o.attrs.insert("ingress".into(), json!("security_groups"));
        }
        o.computed = map([("vpc_id", json!(g.vpc_id()))]);
        tags::observe(&mut o, pairs(g.tags()));
        Some(o)
    }

    pub(super) fn instance_observed(&self, i: &Instance) -> Option<Observed> {
        let base = self.base(Kind::Instance, i.instance_id(), i.tags())?;
        let mut o = self.instance_observed_untagged(i)?;
        o.address = base.address;
        Some(o)
    }

    pub(super) fn instance_observed_untagged(&self, i: &Instance) -> Option<Observed> {
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

    pub(super) fn empty(&self, op: &str, address: &Address) -> anyhow::Error {
        anyhow!(
            "{op} in {} failed for {address}: the answer described no resource",
            self.region
        )
    }
}
