//! Load balancers (waited for until `active`) and their listeners.

use super::super::poll::{self, Pace, Reading};
use super::*;
use crate::address::Address;
use aws_sdk_elasticloadbalancingv2::operation::create_load_balancer::CreateLoadBalancerError;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Listener, LoadBalancer, LoadBalancerSchemeEnum, LoadBalancerStateEnum,
    LoadBalancerTypeEnum,
};

type CreateError = super::super::error::AwsSdkError<CreateLoadBalancerError>;

impl Elb {
    pub(super) async fn create_balancer(
        &self,
        d: &Desired,
        refs: &Refs,
    ) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let name = str_attr(d, "name")?;
        let subnets: Vec<String> = refs
            .iter()
            .filter(|(k, _)| k.starts_with("subnet."))
            .map(|(_, o)| o.id.clone())
            .collect();
        let groups = refs.get("security_group").map(|o| vec![o.id.clone()]);
        // A balancer of that name (an interrupted apply made it) is adopted. ELB answers a
        // repeated create with the same settings with the existing one, but moto 5.2.5 makes
        // a second balancer of the same name: looking first is right for both.
        // Read with the waits and other checks of the region due now (`read_balancer`).
        let found = match self.read_balancer(name).await? {
            Reading::Ready(found) => found.is_some(),
            Reading::NotYet(why) => bail!(
                "{a}: DescribeLoadBalancers in {r} failed ({why}) while standby checked whether \
                 {name} exists: run the command again"
            ),
        };
        let created = if found {
            Ok(())
        } else {
            self.create_balancer_named(d, name, subnets, groups).await
        };
        match created {
            Ok(()) => {}
            Err(e) if error::code(&e) == Some("DuplicateLoadBalancerName") => {}
            Err(e) => return Err(error::failure("CreateLoadBalancer", r, a, &e)),
        }
        self.wait_active(name, a).await
    }

    async fn create_balancer_named(
        &self,
        d: &Desired,
        name: &str,
        subnets: Vec<String>,
        groups: Option<Vec<String>>,
    ) -> Result<(), CreateError> {
        let kind = LoadBalancerTypeEnum::from(d.attrs["type"].as_str().unwrap_or("application"));
        self.client
            .create_load_balancer()
            .name(name)
            .r#type(kind)
            .scheme(LoadBalancerSchemeEnum::InternetFacing)
            .set_subnets(Some(subnets))
            .set_security_groups(groups)
            .set_tags(Some(elb_tags(d)))
            .send()
            .await
            .map(|_| ())
    }

    /// Waits until the balancer `name` is `active`; returns it as observed.
    async fn wait_active(&self, name: &str, a: &Address) -> anyhow::Result<Observed> {
        let r = self.region.as_str();
        // `provisioning` before `active` (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_LoadBalancerState.html).
        poll::until(
            Pace::instance(self.emulator),
            "load balancer active",
            r,
            a,
            || async {
                let lb = match self.read_balancer(name).await? {
                    Reading::Ready(Some(lb)) => lb,
                    Reading::Ready(None) => return Ok(Reading::NotYet("not listed".into())),
                    Reading::NotYet(why) => return Ok(Reading::NotYet(why)),
                };
                match lb.state().and_then(|s| s.code()) {
                    Some(LoadBalancerStateEnum::Active) => {
                        Ok(Reading::Ready(balancer_observed(&lb, a.clone(), r)))
                    }
                    Some(LoadBalancerStateEnum::Failed) => {
                        bail!("{a}: load balancer {name} in {r} failed to provision")
                    }
                    now => Ok(Reading::NotYet(
                        now.map_or("unknown", |s| s.as_str()).to_string(),
                    )),
                }
            },
        )
        .await
    }

    /// Balancer `name` (`None`: there is none) as one read of every balancer of the region
    /// waited for or checked at this time read it: by name when it is alone, else every balancer of the region (400 a page),
    /// since `DescribeLoadBalancers` fails as a whole when one of the names it is given does
    /// not exist (`LoadBalancerNotFound`,
    /// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeLoadBalancers.html),
    /// as a balancer just created may not yet.
    async fn read_balancer(&self, name: &str) -> anyhow::Result<Reading<Option<LoadBalancer>>> {
        let (client, region) = (self.client.clone(), self.region.clone());
        self.waits
            .read(name, move |names| async move {
                let subject = format!("the load balancers {} waited for", names.join(", "));
                let alone = (names.len() == 1).then_some(names);
                let listed = client
                    .describe_load_balancers()
                    .set_names(alone)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await;
                match listed {
                    Ok(listed) => Ok(Reading::Ready(
                        listed
                            .into_iter()
                            .filter_map(|b| Some((b.load_balancer_name()?.to_string(), b)))
                            .collect(),
                    )),
                    Err(e) if error::code(&e) == Some("LoadBalancerNotFound") => {
                        Ok(Reading::Ready(Default::default()))
                    }
                    Err(e) => poll::soft(e, &[], "DescribeLoadBalancers", &region, &subject),
                }
            })
            .await
    }

    pub(super) async fn delete_balancer(&self, current: &Observed) -> anyhow::Result<()> {
        self.client
            .delete_load_balancer()
            .load_balancer_arn(&current.id)
            .send()
            .await
            .absent_if(
                &["LoadBalancerNotFound"],
                "DeleteLoadBalancer",
                &self.region,
                &current.address,
            )?;
        Ok(())
    }

    pub(super) async fn create_listener(
        &self,
        d: &Desired,
        refs: &Refs,
    ) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let lb = ref_id(d, refs, "load_balancer")?;
        let want = port(d.attrs.get("port"), d)?;
        // The listener on that port (an interrupted apply made it) is adopted: ELB answers a
        // repeated create with the same settings with it, moto 5.2.5 makes a second one.
        let on_port = |ls: Vec<Listener>| ls.into_iter().find(|l| l.port() == Some(want));
        if let Some(l) = on_port(self.listeners(lb, a).await?) {
            return Ok(listener_observed(&l, a.clone(), r));
        }
        let created = self
            .client
            .create_listener()
            .load_balancer_arn(lb)
            .protocol(protocol(d, "protocol")?)
            .port(port(d.attrs.get("port"), d)?)
            .default_actions(forward(ref_id(d, refs, "target_group")?))
            .set_tags(Some(elb_tags(d)))
            .send()
            .await;
        let listener = match created {
            Ok(out) => out.listeners().first().cloned(),
            // An interrupted apply made it: adopt the listener on that port.
            Err(e) if error::code(&e) == Some("DuplicateListener") => {
                on_port(self.listeners(lb, a).await?)
            }
            Err(e) => return Err(error::failure("CreateListener", r, a, &e)),
        };
        let listener =
            listener.ok_or_else(|| anyhow!("{a}: CreateListener in {r} described no listener"))?;
        Ok(listener_observed(&listener, a.clone(), r))
    }

    pub(super) async fn modify_listener(
        &self,
        d: &Desired,
        arn: &str,
        refs: &Refs,
    ) -> anyhow::Result<()> {
        self.client
            .modify_listener()
            .listener_arn(arn)
            .protocol(protocol(d, "protocol")?)
            .port(port(d.attrs.get("port"), d)?)
            .default_actions(forward(ref_id(d, refs, "target_group")?))
            .send()
            .await
            .op("ModifyListener", &self.region, &d.address)?;
        Ok(())
    }

    pub(super) async fn delete_listener(&self, current: &Observed) -> anyhow::Result<()> {
        self.client
            .delete_listener()
            .listener_arn(&current.id)
            .send()
            .await
            .absent_if(
                &["ListenerNotFound"],
                "DeleteListener",
                &self.region,
                &current.address,
            )?;
        Ok(())
    }

    /// Every listener of the load balancer `lb` (one paginated call).
    pub(super) async fn listeners(
        &self,
        lb: &str,
        a: &(dyn std::fmt::Display + Sync),
    ) -> anyhow::Result<Vec<Listener>> {
        self.client
            .describe_listeners()
            .load_balancer_arn(lb)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .op("DescribeListeners", &self.region, a)
    }
}

fn forward(target_group: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group)
        .build()
}

/// A load balancer as `Observed`, without its tags: `dns_name` lower-case without a final
/// dot, as alias records are compared.
pub(super) fn balancer_observed(lb: &LoadBalancer, address: Address, region: &str) -> Observed {
    let dns = lb
        .dns_name()
        .map(|n| n.trim_end_matches('.').to_ascii_lowercase());
    Observed {
        address,
        kind: Kind::LoadBalancer,
        region: Some(region.to_string()),
        id: lb.load_balancer_arn().unwrap_or_default().to_string(),
        attrs: map([
            ("name", json!(lb.load_balancer_name())),
            ("type", json!(lb.r#type().map(|t| t.as_str()))),
        ]),
        computed: map([
            ("arn", json!(lb.load_balancer_arn())),
            ("dns_name", json!(dns)),
            ("zone_id", json!(lb.canonical_hosted_zone_id())),
            (
                "state",
                json!(lb.state().and_then(|s| s.code()).map(|c| c.as_str())),
            ),
        ]),
        depends_on: Vec::new(),
    }
}

pub(super) fn listener_observed(l: &Listener, address: Address, region: &str) -> Observed {
    Observed {
        address,
        kind: Kind::Listener,
        region: Some(region.to_string()),
        id: l.listener_arn().unwrap_or_default().to_string(),
        attrs: map([
            ("protocol", json!(l.protocol().map(|p| p.as_str()))),
            ("port", json!(l.port())),
        ]),
        computed: map([("arn", json!(l.listener_arn()))]),
        depends_on: Vec::new(),
    }
}
