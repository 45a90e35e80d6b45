//! VPCs, internet gateways and subnets.

use super::super::poll::{self, Pace, Reading};
use super::*;

impl Ec2 {
    // --- creation, one kind at a time ----------------------------------------------------

    pub(super) async fn create_vpc(&self, d: &Desired) -> anyhow::Result<Observed> {
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
        self.wait_vpc_available(&d.address, id).await?;
        self.vpc_observed(vpc)
            .ok_or_else(|| self.empty("CreateVpc", &d.address))
    }

    pub(super) async fn create_internet_gateway(
        &self,
        d: &Desired,
        vpc_id: &str,
    ) -> anyhow::Result<Observed> {
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
            // Both ids may be new (eventual consistency): retried while NotFound.
            poll::retry(self.settling(), NEW_ID, || {
                self.client
                    .attach_internet_gateway()
                    .internet_gateway_id(&igw_id)
                    .vpc_id(vpc_id)
                    .send()
            })
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
            if error::code(&e) == Some("RouteAlreadyExists") {
                self.client
                    .replace_route()
                    .route_table_id(table)
                    .destination_cidr_block("0.0.0.0/0")
                    .gateway_id(&igw_id)
                    .send()
                    .await
                    .op("ReplaceRoute", r, a)?;
            } else {
                return Err(error::failure("CreateRoute", r, a, &e));
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

    pub(super) async fn create_subnet(
        &self,
        d: &Desired,
        vpc_id: &str,
    ) -> anyhow::Result<Observed> {
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

    pub(super) async fn set_map_public_ip(
        &self,
        address: &Address,
        id: &str,
        want: bool,
    ) -> anyhow::Result<()> {
        // A new subnet may not be known yet (eventual consistency): retried while NotFound.
        poll::retry(self.settling(), NEW_ID, || {
            self.client
                .modify_subnet_attribute()
                .subnet_id(id)
                .map_public_ip_on_launch(AttributeBooleanValue::builder().value(want).build())
                .send()
        })
        .await
        .op("ModifySubnetAttribute", &self.region, address)?;
        Ok(())
    }

    /// Waits until a new VPC is `available` (it is `pending` first:
    /// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Vpc.html); NotFound right
    /// after the create is read again (eventual consistency).
    async fn wait_vpc_available(&self, a: &Address, id: &str) -> anyhow::Result<()> {
        let r = self.region.as_str();
        poll::until(
            Pace::instance(self.emulator),
            "vpc available",
            r,
            a,
            || async {
                let read = self.client.describe_vpcs().vpc_ids(id).send().await;
                let out = match read {
                    Ok(o) => o,
                    Err(e) => {
                        return poll::soft(e, &["InvalidVpcID.NotFound"], "DescribeVpcs", r, a)
                    }
                };
                let state = out
                    .vpcs()
                    .first()
                    .and_then(|v| v.state())
                    .map(|s| s.as_str().to_string());
                Ok(match state.as_deref() {
                    Some("available") => Reading::Ready(()),
                    other => Reading::NotYet(other.unwrap_or("not listed").to_string()),
                })
            },
        )
        .await
    }
}

impl Ec2 {
    pub(super) async fn delete_internet_gateway(
        &self,
        a: &Address,
        id: &str,
    ) -> anyhow::Result<()> {
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
            poll::retry(self.draining(), DRAINING, || async {
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
}
