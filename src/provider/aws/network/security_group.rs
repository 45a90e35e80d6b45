//! Security groups: one TCP port open to anywhere (a cluster's), or to the security groups
//! of the region's clusters only (a database's: `ingress` is `security_groups`).

use super::super::poll;
use super::*;
use aws_sdk_ec2::types::UserIdGroupPair;

impl Ec2 {
    pub(super) async fn create_security_group(
        &self,
        d: &Desired,
        vpc_id: &str,
        from_groups: &[String],
    ) -> anyhow::Result<Observed> {
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
                    Err(e) if error::code(&e) == Some("InvalidGroup.Duplicate") => {
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
                            .ok_or_else(|| error::failure("CreateSecurityGroup", r, a, &e))?
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
                    Err(e) => return Err(error::failure("CreateSecurityGroup", r, a, &e)),
                }
            }
        };
        let mut attrs = map([("group_name", json!(name)), ("port", json!(port))]);
        if d.attrs.contains_key("ingress") {
            self.authorize(a, &group_id, tcp_from_groups(port, from_groups))
                .await?;
            attrs.insert("ingress".into(), json!("security_groups"));
        } else {
            self.authorize_port(a, &group_id, port).await?;
        }
        Ok(Observed {
            address: a.clone(),
            kind: Kind::SecurityGroup,
            region: Some(self.region.clone()),
            id: group_id,
            attrs,
            computed: map([("vpc_id", json!(vpc_id))]),
            depends_on: Vec::new(),
        })
    }

    pub(super) async fn authorize_port(
        &self,
        address: &Address,
        group_id: &str,
        port: i32,
    ) -> anyhow::Result<()> {
        self.authorize(address, group_id, tcp_from_anywhere(port))
            .await
    }

    async fn authorize(
        &self,
        address: &Address,
        group_id: &str,
        permission: IpPermission,
    ) -> anyhow::Result<()> {
        // A new group may not be known yet (eventual consistency): retried while NotFound.
        poll::retry(self.settling(), NEW_ID, || {
            self.client
                .authorize_security_group_ingress()
                .group_id(group_id)
                .ip_permissions(permission.clone())
                .send()
        })
        .await
        .absent_if(
            &["InvalidPermission.Duplicate"],
            "AuthorizeSecurityGroupIngress",
            &self.region,
            address,
        )?;
        Ok(())
    }
}

pub(super) fn tcp_from_anywhere(port: i32) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build()
}

/// `port` open to members of `groups` only (https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html:
/// a rule whose source is a security group admits the instances associated with it).
fn tcp_from_groups(port: i32, groups: &[String]) -> IpPermission {
    let pairs = groups
        .iter()
        .map(|g| UserIdGroupPair::builder().group_id(g).build());
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .set_user_id_group_pairs(Some(pairs.collect()))
        .build()
}

pub(super) fn port_attr(d: &Desired) -> anyhow::Result<i32> {
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
