//! Finding a live resource by its `standby:address` tag (to adopt it).

use super::*;

impl Ec2 {
    // --- finding by address --------------------------------------------------------------

    /// The live resource of `d`'s kind carrying `d`'s address tag, if any.
    pub(super) async fn find_by_address(&self, d: &Desired) -> anyhow::Result<Option<Observed>> {
        Ok(match self.find_raw(d, d.kind).await? {
            None => None,
            Some(Raw::Vpc(v)) => self.vpc_observed(&v),
            Some(Raw::Igw(g)) => self.igw_observed(&g),
            Some(Raw::Subnet(s)) => self.subnet_observed(&s, None),
            Some(Raw::SecurityGroup(g)) => self.sg_observed(&g),
            Some(Raw::Instance(i)) => self.instance_observed(&i),
        })
    }

    pub(super) async fn find_raw_igw(
        &self,
        d: &Desired,
    ) -> anyhow::Result<Option<InternetGateway>> {
        Ok(match self.find_raw(d, Kind::InternetGateway).await? {
            Some(Raw::Igw(g)) => Some(g),
            _ => None,
        })
    }

    pub(super) async fn find_raw(&self, d: &Desired, kind: Kind) -> anyhow::Result<Option<Raw>> {
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
}

/// A resource as `describe_*` returned it; short-lived, so its size does not matter.
#[allow(clippy::large_enum_variant)]
pub(super) enum Raw {
    Vpc(Vpc),
    Igw(InternetGateway),
    Subnet(Subnet),
    SecurityGroup(SecurityGroup),
    Instance(Box<Instance>),
}
