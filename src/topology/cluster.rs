//! A cluster in one region: its security group, launch template and Auto Scaling group, and
//! for a cluster a `dns` block targets, a load balancer, target group and listener in every
//! serving region (DESIGN.md, "What each role gets").

use super::expand::{attrs, cluster_size, network_address, subnet_address, Expander};
use super::Kind;
use crate::address::Address;
use crate::config::{ClusterSettings, Component, HealthCheck, Region, Role};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The minimum healthy percentage of an instance refresh unless the spec says otherwise:
/// never fewer healthy instances than the group wants.
pub const MIN_HEALTHY_PERCENTAGE: u32 = 100;

/// How a cluster is reached from outside: the health check of the `dns` block targeting it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Front<'a> {
    pub health_check: Option<&'a HealthCheck>,
}

impl Front<'_> {
    /// TCP health checks take a Network Load Balancer; HTTP and HTTPS an Application one.
    fn network(&self) -> bool {
        self.health_check.is_some_and(|h| h.protocol == "TCP")
    }
}

impl Expander {
    /// The cluster's resources in `region`; with `front`, the load balancer too, where the
    /// role serves traffic (a cold standby has none until it is rebuilt or promoted).
    pub(super) fn cluster(
        &mut self,
        region: &Region,
        role: Role,
        cluster: &Component<ClusterSettings>,
        front: Option<Front<'_>>,
    ) {
        let r = region.name.as_str();
        let settings = cluster.settings_in(r);
        let base = cluster.name.address(Some(r), "cluster");
        let slug = cluster.name.slug();
        let sg = base.child("security_group");
        let group_name = self.naming.regional(&slug, r);
        self.push(
            sg.clone(),
            Kind::SecurityGroup,
            Some(r),
            group_name.clone(),
            attrs(json!({ "group_name": group_name, "port": settings.port })),
            BTreeMap::from([("vpc".into(), network_address(r, "vpc"))]),
            vec![],
        );
        let template = base.child("launch_template");
        self.push(
            template.clone(),
            Kind::LaunchTemplate,
            Some(r),
            group_name.clone(),
            attrs(json!({
                "name": group_name,
                "instance_type": settings.instance_type,
                "image": settings.image,
            })),
            BTreeMap::from([("security_group".into(), sg.clone())]),
            vec![],
        );
        let serving = matches!(role, Role::Primary | Role::WarmStandby);
        let lb = front
            .filter(|_| serving)
            .map(|f| self.load_balancer(region, &base, &slug, settings, &sg, f));
        let desired = cluster_size(role, settings.size, region.capacity);
        let max = settings.max_size.unwrap_or(settings.size).max(desired);
        let mut refs: BTreeMap<String, Address> =
            BTreeMap::from([("launch_template".into(), template)]);
        for zone in &region.zones {
            refs.insert(format!("subnet.{zone}"), subnet_address(r, zone));
        }
        let mut depends_on = vec![];
        if let Some((target_group, listener)) = lb {
            refs.insert("target_group".into(), target_group);
            depends_on.push(listener);
        }
        self.push(
            base.child("group"),
            Kind::AutoScalingGroup,
            Some(r),
            group_name.clone(),
            attrs(json!({
                "name": group_name,
                "desired": desired,
                "min": desired,
                "max": max,
                "min_healthy_percentage": settings.min_healthy_percentage,
                // What the group's instances run: a change replaces them by an instance
                // refresh (the group reads it back from its own tags).
                "instance_type": settings.instance_type,
                "image": settings.image,
            })),
            refs,
            depends_on,
        );
    }

    /// The load balancer, target group and listener; returns the target group's and the
    /// listener's addresses.
    fn load_balancer(
        &mut self,
        region: &Region,
        base: &Address,
        slug: &str,
        settings: &ClusterSettings,
        sg: &Address,
        front: Front<'_>,
    ) -> (Address, Address) {
        let r = region.name.as_str();
        let (lb_type, protocol) = if front.network() {
            ("network", "TCP")
        } else {
            ("application", "HTTP")
        };
        let hc = front.health_check;
        let hc_protocol = hc.map_or(protocol, |h| h.protocol.as_str());
        let target_group = base.child("target_group");
        let tg_name = self.naming.elb(slug, r);
        let path = match (hc, front.network()) {
            (_, true) => Value::Null,
            (Some(h), false) => json!(h.path),
            (None, false) => json!("/"),
        };
        self.push(
            target_group.clone(),
            Kind::TargetGroup,
            Some(r),
            tg_name.clone(),
            attrs(json!({
                "name": tg_name,
                // The targets speak what the health check speaks (HTTPS to HTTPS targets).
                "protocol": if front.network() { "TCP" } else { hc_protocol },
                "port": settings.port,
                "health_check": {
                    "protocol": hc_protocol,
                    "port": hc.map_or(settings.port, |h| h.port),
                    "path": path,
                },
            })),
            BTreeMap::from([("vpc".into(), network_address(r, "vpc"))]),
            vec![],
        );
        let lb = base.child("load_balancer");
        let mut refs: BTreeMap<String, Address> = region
            .zones
            .iter()
            .map(|z| (format!("subnet.{z}"), subnet_address(r, z)))
            .collect();
        if !front.network() {
            refs.insert("security_group".into(), sg.clone());
        }
        self.push(
            lb.clone(),
            Kind::LoadBalancer,
            Some(r),
            tg_name.clone(),
            attrs(json!({ "name": tg_name, "type": lb_type })),
            refs,
            vec![],
        );
        let listener = base.child("listener");
        // An HTTPS listener needs a certificate (CreateListener `Certificates`,
        // https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateListener.html):
        // without one the load balancer listens in plain HTTP on the cluster's port.
        self.push(
            listener.clone(),
            Kind::Listener,
            Some(r),
            format!("{tg_name}-{}", settings.port),
            attrs(json!({ "protocol": protocol, "port": settings.port })),
            BTreeMap::from([
                ("load_balancer".into(), lb),
                ("target_group".into(), target_group.clone()),
            ]),
            vec![],
        );
        (target_group, listener)
    }
}
