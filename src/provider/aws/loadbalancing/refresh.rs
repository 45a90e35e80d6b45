//! Reading a region's load balancing in batch: each type listed once, listeners once per
//! managed load balancer (concurrently), tags read 20 ARNs a call.

use super::balancer::{balancer_observed, listener_observed};
use super::target_group::target_group_observed;
use super::*;
use crate::address::Address;
use crate::topology::{TAG_ADDRESS, TAG_ENVIRONMENT, TAG_SERVICE};
use std::collections::BTreeSet;

type TagsByArn = BTreeMap<String, BTreeMap<String, String>>;

impl Elb {
    /// Three rounds: the balancers and target groups listed; the listeners of the balancers
    /// the caller knows (state or spec) read; then the tags of all of them at once. A
    /// balancer of the environment the caller did not know (tagged by another run) has its
    /// listeners read after the tags, in two rounds more.
    pub(crate) async fn refresh(&self, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        let subject = format!("the refresh of {}/{}", scope.service, scope.environment);
        let _permit = self.limit.acquire().await?;
        let known: BTreeSet<&str> = scope
            .known
            .iter()
            .filter(|k| k.kind == Kind::LoadBalancer && k.region.as_deref() == Some(&self.region))
            .map(|k| k.name.as_str())
            .collect();
        let balancers_and_listeners = async {
            let balancers: Vec<_> = self
                .client
                .describe_load_balancers()
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .op("DescribeLoadBalancers", &self.region, &subject)?;
            let arns: Vec<&str> = balancers
                .iter()
                .filter(|b| {
                    [b.load_balancer_arn(), b.load_balancer_name()]
                        .iter()
                        .any(|n| n.is_some_and(|n| known.contains(n)))
                })
                .filter_map(|b| b.load_balancer_arn())
                .collect();
            let listeners = self.listeners_of(&arns, &subject).await?;
            let read: BTreeSet<String> = arns.iter().map(|a| a.to_string()).collect();
            anyhow::Ok((balancers, listeners, read))
        };
        let groups = async {
            self.client
                .describe_target_groups()
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .op("DescribeTargetGroups", &self.region, &subject)
        };
        let ((balancers, mut listeners, read), groups) =
            tokio::try_join!(balancers_and_listeners, groups)?;
        let arns = balancers
            .iter()
            .filter_map(|b| b.load_balancer_arn())
            .chain(groups.iter().filter_map(|g| g.target_group_arn()))
            .chain(listeners.iter().filter_map(|l| l.listener_arn()));
        let mut tags = self.tags(arns, &subject).await?;
        let r = self.region.as_str();
        let mut out = Vec::new();
        let mut unread = Vec::new();
        for b in &balancers {
            let arn = b.load_balancer_arn().unwrap_or_default();
            if let Some(address) = address_of(&tags, arn, scope, Kind::LoadBalancer) {
                out.push(observe_tags(balancer_observed(b, address, r), &tags, arn));
                if !read.contains(arn) {
                    unread.push(arn);
                }
            }
        }
        for g in &groups {
            let arn = g.target_group_arn().unwrap_or_default();
            if let Some(address) = address_of(&tags, arn, scope, Kind::TargetGroup) {
                out.push(observe_tags(
                    target_group_observed(g, address, r),
                    &tags,
                    arn,
                ));
            }
        }
        if !unread.is_empty() {
            let more = self.listeners_of(&unread, &subject).await?;
            let arns = more.iter().filter_map(|l| l.listener_arn());
            tags.extend(self.tags(arns, &subject).await?);
            listeners.extend(more);
        }
        for l in &listeners {
            let arn = l.listener_arn().unwrap_or_default();
            if let Some(address) = address_of(&tags, arn, scope, Kind::Listener) {
                out.push(observe_tags(listener_observed(l, address, r), &tags, arn));
            }
        }
        Ok(out)
    }

    /// The listeners of the balancers `arns`: one `DescribeListeners` each (it takes one
    /// balancer), all at once.
    async fn listeners_of(
        &self,
        arns: &[&str],
        subject: &str,
    ) -> anyhow::Result<Vec<aws_sdk_elasticloadbalancingv2::types::Listener>> {
        let reads = arns.iter().map(|lb| self.listeners(lb, &subject));
        Ok(futures::future::try_join_all(reads)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    /// The tags of every ARN, `TAG_BATCH` a call, the calls at once.
    async fn tags<'a>(
        &self,
        arns: impl Iterator<Item = &'a str>,
        subject: &str,
    ) -> anyhow::Result<TagsByArn> {
        let arns: Vec<&str> = arns.collect();
        let reads = arns.chunks(TAG_BATCH).map(|chunk| {
            self.client
                .describe_tags()
                .set_resource_arns(Some(chunk.iter().map(|s| s.to_string()).collect()))
                .send()
        });
        let mut all = TagsByArn::new();
        for out in
            futures::future::try_join_all(reads)
                .await
                .op("DescribeTags", &self.region, &subject)?
        {
            for d in out.tag_descriptions() {
                let tags = d
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                    .collect();
                all.insert(d.resource_arn().unwrap_or_default().to_string(), tags);
            }
        }
        Ok(all)
    }
}

/// The address of an ARN whose tags name the scope's environment: its address tag, or an
/// `unmanaged.` address when the scope asks for those.
fn address_of(tags: &TagsByArn, arn: &str, scope: &Scope, kind: Kind) -> Option<Address> {
    let t = tags.get(arn)?;
    if t.get(TAG_SERVICE) != Some(&scope.service)
        || t.get(TAG_ENVIRONMENT) != Some(&scope.environment)
    {
        return None;
    }
    match t.get(TAG_ADDRESS) {
        Some(a) => Some(Address::new(a.clone())),
        None if scope.include_unmanaged => Some(crate::provider::unmanaged_address(kind, arn)),
        None => None,
    }
}

fn observe_tags(mut o: Observed, by_arn: &TagsByArn, arn: &str) -> Observed {
    if let Some(t) = by_arn.get(arn) {
        tags::observe(&mut o, t.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    o
}
