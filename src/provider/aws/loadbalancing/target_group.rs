//! Target groups: the cluster's instances (registered by their Auto Scaling group) with
//! the `dns` block's health check.

use super::*;
use crate::address::Address;
use aws_sdk_elasticloadbalancingv2::types::{TargetGroup, TargetTypeEnum};

impl Elb {
    pub(super) async fn create_target_group(
        &self,
        d: &Desired,
        refs: &Refs,
    ) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let name = str_attr(d, "name")?;
        let hc = health_check(d)?;
        let created = self
            .client
            .create_target_group()
            .name(name)
            .protocol(protocol(d, "protocol")?)
            .port(port(d.attrs.get("port"), d)?)
            .vpc_id(ref_id(d, refs, "vpc")?)
            .target_type(TargetTypeEnum::Instance)
            .health_check_protocol(hc.protocol.clone())
            .health_check_port(hc.port.to_string())
            .set_health_check_path(hc.path.clone())
            .set_tags(Some(elb_tags(d)))
            .send()
            .await;
        let group = match created {
            Ok(out) => out.target_groups().first().cloned(),
            // An interrupted apply made it: adopt it (a later plan brings its settings to
            // the spec).
            Err(e) if error::code(&e) == Some("DuplicateTargetGroupName") => {
                self.describe_target_group(name, a).await?
            }
            Err(e) => return Err(error::failure("CreateTargetGroup", r, a, &e)),
        };
        let group =
            group.ok_or_else(|| anyhow!("{a}: CreateTargetGroup in {r} described no group"))?;
        Ok(target_group_observed(&group, a.clone(), r))
    }

    pub(super) async fn modify_health_check(&self, d: &Desired, arn: &str) -> anyhow::Result<()> {
        let hc = health_check(d)?;
        self.client
            .modify_target_group()
            .target_group_arn(arn)
            .health_check_protocol(hc.protocol)
            .health_check_port(hc.port.to_string())
            .set_health_check_path(hc.path)
            .send()
            .await
            .op("ModifyTargetGroup", &self.region, &d.address)?;
        Ok(())
    }

    pub(super) async fn delete_target_group(&self, current: &Observed) -> anyhow::Result<()> {
        let (r, a) = (self.region.as_str(), &current.address);
        // A group stays in use until its load balancer's deletion has finished
        // (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DeleteTargetGroup.html).
        let pace = super::super::poll::Pace::window(
            self.emulator,
            super::super::settings::settings().consistency_timeout,
        );
        super::super::poll::retry(pace, &["ResourceInUse"], || async {
            self.client
                .delete_target_group()
                .target_group_arn(&current.id)
                .send()
                .await
                .map(|_| ())
        })
        .await
        .absent_if(&["TargetGroupNotFound"], "DeleteTargetGroup", r, a)?;
        Ok(())
    }

    async fn describe_target_group(
        &self,
        name: &str,
        a: &Address,
    ) -> anyhow::Result<Option<TargetGroup>> {
        let out = self
            .client
            .describe_target_groups()
            .names(name)
            .send()
            .await
            .absent_if(
                &["TargetGroupNotFound"],
                "DescribeTargetGroups",
                &self.region,
                a,
            )?;
        Ok(out.and_then(|o| o.target_groups().first().cloned()))
    }
}

struct Check {
    protocol: ProtocolEnum,
    port: i32,
    path: Option<String>,
}

fn health_check(d: &Desired) -> anyhow::Result<Check> {
    let hc = d
        .attrs
        .get("health_check")
        .ok_or_else(|| anyhow!("{}: attribute `health_check` is missing", d.address))?;
    Ok(Check {
        protocol: ProtocolEnum::from(hc["protocol"].as_str().unwrap_or("HTTP")),
        port: port(hc.get("port"), d)?,
        path: hc["path"].as_str().map(str::to_string),
    })
}

/// A target group as `Observed`, without its tags.
pub(super) fn target_group_observed(g: &TargetGroup, address: Address, region: &str) -> Observed {
    let hc_port = g
        .health_check_port()
        .and_then(|p| p.parse::<i64>().ok())
        .or(g.port().map(i64::from));
    // A TCP health check has no path (AWS reports none; moto may report the default).
    let tcp = g.health_check_protocol() == Some(&ProtocolEnum::Tcp);
    let path = g.health_check_path().filter(|_| !tcp);
    Observed {
        address,
        kind: Kind::TargetGroup,
        region: Some(region.to_string()),
        id: g.target_group_arn().unwrap_or_default().to_string(),
        attrs: map([
            ("name", json!(g.target_group_name())),
            ("protocol", json!(g.protocol().map(|p| p.as_str()))),
            ("port", json!(g.port())),
            (
                "health_check",
                json!({
                    "protocol": g.health_check_protocol().map(|p| p.as_str()),
                    "port": hc_port,
                    "path": path,
                }),
            ),
        ]),
        computed: map([("arn", json!(g.target_group_arn()))]),
        depends_on: Vec::new(),
    }
}
