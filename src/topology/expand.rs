//! Expansion of a spec into desired resources by role (DESIGN.md, "What each role gets").
//!
//! Invariant: the output is sorted by address and contains each address once; every ref
//! and dependency names a resource in the same output.

use super::cluster::Front;
use super::reads::{destinations_value, Destination};
use super::resource::Binding;
use super::{Desired, Kind, Naming};
use crate::address::Address;
use crate::config::{Component, Region, Role, Spec};
use anyhow::{anyhow, Result};
use ipnet::Ipv4Net;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Each region's role: the state's when it has one, else the spec's.
pub fn effective_roles(
    spec: &Spec,
    state_roles: &BTreeMap<String, Role>,
) -> BTreeMap<String, Role> {
    spec.regions
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                state_roles.get(&r.name).copied().unwrap_or(r.role),
            )
        })
        .collect()
}

/// How the cluster is reached when a `dns` block targets it (it then gets a load balancer).
pub(super) fn front<'a>(
    spec: &'a Spec,
    cluster: &Component<crate::config::ClusterSettings>,
) -> Option<Front<'a>> {
    spec.dns
        .iter()
        .find(|d| d.settings.cluster == cluster.name)
        .map(|d| Front {
            health_check: d.settings.health_check.as_ref(),
        })
}

/// Instances a cluster of `size` runs in a region of `role` with `capacity`.
pub fn cluster_size(role: Role, size: u32, capacity: f64) -> u32 {
    match role {
        Role::Primary => size,
        Role::WarmStandby => ((size as f64 * capacity).ceil() as u32).max(1),
        Role::ColdStandby | Role::Failed => 0,
    }
}

pub fn naming(spec: &Spec) -> Naming {
    Naming {
        service: spec.service.name.clone(),
        environment: spec.environment.clone(),
        service_tags: spec.service.tags.clone(),
    }
}

/// Expands `spec` with the given roles into the desired resources.
pub fn expand(spec: &Spec, roles: &BTreeMap<String, Role>) -> Result<Vec<Desired>> {
    let mut x = Expander::new(naming(spec));
    for region in &spec.regions {
        let role = roles.get(&region.name).copied().unwrap_or(region.role);
        if role == Role::Failed {
            // A failed region keeps what it has until `rebuild` gives it a role again.
            continue;
        }
        x.network(region)?;
        for cluster in &spec.clusters {
            x.cluster(region, role, cluster, front(spec, cluster));
        }
    }
    for bucket in &spec.buckets {
        x.bucket(spec, roles, bucket);
    }
    x.databases(spec, roles);
    x.backup_replications(spec, roles);
    for dns in &spec.dns {
        x.dns(spec, roles, dns);
    }
    Ok(x.finish())
}

pub(super) struct Expander {
    pub(super) naming: Naming,
    out: Vec<Desired>,
}

pub(super) fn attrs(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

impl Expander {
    pub(super) fn new(naming: Naming) -> Expander {
        Expander {
            naming,
            out: Vec::new(),
        }
    }

    /// The resources pushed so far, sorted by address.
    pub(super) fn finish(mut self) -> Vec<Desired> {
        self.out.sort_by(|a, b| a.address.cmp(&b.address));
        self.out
    }

    pub(super) fn push(
        &mut self,
        address: Address,
        kind: Kind,
        region: Option<&str>,
        name: String,
        attrs: Map<String, Value>,
        refs: BTreeMap<String, Address>,
        depends_on: Vec<Address>,
    ) -> &mut Desired {
        let tags = self.naming.tags(&name, &address);
        let mut attrs = attrs;
        self.naming.add_managed(kind, &mut attrs);
        self.out.push(Desired {
            address,
            kind,
            region: region.map(str::to_string),
            name,
            attrs,
            tags,
            refs,
            depends_on,
            bindings: BTreeMap::new(),
            prevent_destroy: false,
        });
        self.out.last_mut().expect("just pushed")
    }

    pub(super) fn network(&mut self, region: &Region) -> Result<()> {
        let r = region.name.as_str();
        let vpc = network_address(r, "vpc");
        self.push(
            vpc.clone(),
            Kind::Vpc,
            Some(r),
            self.naming.regional("vpc", r),
            attrs(json!({ "cidr": region.cidr.to_string() })),
            BTreeMap::new(),
            vec![],
        );
        let igw = network_address(r, "internet_gateway");
        self.push(
            igw.clone(),
            Kind::InternetGateway,
            Some(r),
            self.naming.regional("igw", r),
            Map::new(),
            BTreeMap::from([("vpc".into(), vpc.clone())]),
            vec![],
        );
        for (zone, cidr) in region.zones.iter().zip(subnet_cidrs(region)?) {
            self.push(
                subnet_address(r, zone),
                Kind::Subnet,
                Some(r),
                self.naming.regional(&format!("subnet-{zone}"), r),
                attrs(json!({ "zone": zone, "cidr": cidr.to_string(), "map_public_ip": true })),
                BTreeMap::from([("vpc".into(), vpc.clone())]),
                vec![igw.clone()],
            );
        }
        Ok(())
    }

    fn bucket(
        &mut self,
        spec: &Spec,
        roles: &BTreeMap<String, Role>,
        bucket: &Component<crate::config::BucketSettings>,
    ) {
        let at = |region: Option<&str>| bucket.name.address(region, "bucket");
        let slug = bucket.name.slug();
        let naming = self.naming.clone();
        // Bucket names are global across accounts: the spec's `bucket_name` when given.
        let name_in = |r: &str| match &bucket.settings_in(r).bucket_name {
            Some(base) => naming.bucket_named(base, r),
            None => naming.bucket(&slug, r),
        };
        let role_of = |r: &Region| roles.get(&r.name).copied().unwrap_or(r.role);
        let live: Vec<&Region> = spec
            .regions
            .iter()
            .filter(|r| role_of(r) != Role::Failed)
            .collect();
        for region in &live {
            let r = region.name.as_str();
            let name = name_in(r);
            self.push(
                at(Some(r)),
                Kind::Bucket,
                Some(r),
                name.clone(),
                attrs(json!({
                    "bucket": name,
                    "versioning": "Enabled",
                    "encryption": "AES256",
                    "public_access_blocked": true,
                })),
                BTreeMap::new(),
                vec![],
            );
        }
        let Some(primary) = live.iter().find(|r| role_of(r) == Role::Primary) else {
            return;
        };
        let standbys: Vec<&&Region> = live
            .iter()
            .filter(|r| role_of(r) != Role::Primary)
            .collect();
        if standbys.is_empty() {
            return;
        }
        let p = primary.name.as_str();
        let source = at(Some(p));
        let destinations: Vec<Destination> = standbys
            .iter()
            .map(|r| {
                let settings = bucket.settings_in(&r.name);
                let class = if role_of(r) == Role::ColdStandby {
                    settings.cold_storage_class.clone()
                } else {
                    "STANDARD".to_string()
                };
                Destination {
                    bucket: name_in(&r.name),
                    region: r.name.clone(),
                    storage_class: class,
                }
            })
            .collect();
        let depends_on = standbys.iter().map(|r| at(Some(&r.name))).collect();
        let mut refs = BTreeMap::from([("source".to_string(), source.clone())]);
        let mut replication = json!({
            "bucket": name_in(p),
            "destinations": destinations_value(&destinations),
        });
        match &bucket.settings.replication_role_arn {
            Some(arn) => {
                replication["role_arn"] = json!(arn);
            }
            None => {
                let role_address = at(None).child("replication_role");
                let role_name = self.naming.role(&slug);
                // The role may read and write the component's buckets in every region of the
                // spec, nothing else: the same set whichever region is primary.
                let mut buckets: Vec<String> =
                    spec.regions.iter().map(|r| name_in(&r.name)).collect();
                buckets.sort();
                self.push(
                    role_address.clone(),
                    Kind::ReplicationRole,
                    None,
                    role_name.clone(),
                    attrs(json!({ "role_name": role_name, "buckets": buckets })),
                    BTreeMap::new(),
                    vec![],
                );
                refs.insert("role".into(), role_address);
            }
        }
        self.push(
            source.child("replication"),
            Kind::BucketReplication,
            Some(p),
            format!("{}-replication", name_in(p)),
            attrs(replication),
            refs,
            depends_on,
        );
    }
}

impl Expander {
    /// The zone, and for the primary and the first warm standby a failover alias record
    /// (`PRIMARY`, `SECONDARY`) to the region's load balancer.
    fn dns(
        &mut self,
        spec: &Spec,
        roles: &BTreeMap<String, Role>,
        dns: &Component<crate::config::DnsSettings>,
    ) {
        let role_of = |r: &Region| roles.get(&r.name).copied().unwrap_or(r.role);
        let base = dns.name.address(None, "dns");
        let zone = self.zone(&base, &dns.settings);
        let primary = spec.regions.iter().find(|r| role_of(r) == Role::Primary);
        let secondary = spec
            .regions
            .iter()
            .find(|r| role_of(r) == Role::WarmStandby);
        let record_name = dns.settings.name.trim_end_matches('.').to_string();
        for (region, failover) in [(primary, "PRIMARY"), (secondary, "SECONDARY")] {
            let Some(region) = region else { continue };
            let r = region.name.as_str();
            let lb = dns
                .settings
                .cluster
                .address(Some(r), "cluster")
                .child("load_balancer");
            self.alias_record(
                base.child("record").child(r),
                format!("{record_name}#{r}"),
                json!({ "name": record_name, "failover": failover, "set_identifier": r }),
                &zone,
                lb,
            );
        }
    }

    /// The `dns` block's hosted zone; returns its address.
    pub(super) fn zone(
        &mut self,
        base: &Address,
        settings: &crate::config::DnsSettings,
    ) -> Address {
        let zone = base.child("zone");
        let zone_name = settings.zone.trim_end_matches('.').to_string();
        self.push(
            zone.clone(),
            Kind::HostedZone,
            None,
            zone_name.clone(),
            attrs(json!({ "zone": zone_name })),
            BTreeMap::new(),
            vec![],
        );
        zone
    }

    /// An alias A record to the load balancer at `lb`, evaluating its targets' health
    /// (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-values-alias.html#rrsets-values-alias-evaluate-target-health).
    pub(super) fn alias_record(
        &mut self,
        address: Address,
        name: String,
        mut record: Value,
        zone: &Address,
        lb: Address,
    ) {
        record["evaluate_target_health"] = json!(true);
        let d = self.push(
            address,
            Kind::Record,
            None,
            name,
            attrs(record),
            BTreeMap::from([("zone".to_string(), zone.clone())]),
            vec![],
        );
        for (key, field) in [("alias_dns_name", "dns_name"), ("alias_zone_id", "zone_id")] {
            let from = vec![lb.clone()];
            let field = field.to_string();
            d.bindings.insert(
                key.into(),
                Binding {
                    from,
                    field,
                    list: false,
                },
            );
        }
    }
}

/// The engine's default port (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html,
/// `Port`: Db2 50000, MariaDB and MySQL 3306, SQL Server 1433, Oracle 1521, PostgreSQL 5432).
pub(super) fn engine_port(engine: &str) -> u16 {
    match engine {
        e if e.starts_with("postgres") || e.starts_with("aurora-postgresql") => 5432,
        e if e.starts_with("oracle") => 1521,
        e if e.starts_with("sqlserver") => 1433,
        e if e.starts_with("db2") => 50000,
        _ => 3306,
    }
}

/// RDS identifiers: lower-case letters, digits and single hyphens, a letter first, at most 63.
pub(super) fn db_identifier(name: &str) -> String {
    let mut out = String::new();
    for c in name.to_ascii_lowercase().chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(c);
        }
    }
    if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.insert_str(0, "db-");
    }
    if out.len() > 63 {
        let hash = super::naming::short_hash(&out);
        out.truncate(63 - hash.len() - 1);
        out = format!("{}-{hash}", out.trim_end_matches('-'));
    }
    out.trim_end_matches('-').to_string()
}

pub fn subnet_address(region: &str, zone: &str) -> Address {
    network_address(region, "subnet").child(zone)
}

/// `region.<r>.network.<part>`.
pub(super) fn network_address(region: &str, part: &str) -> Address {
    Address::region_scope(region).child("network").child(part)
}

/// One subnet per zone: the VPC split evenly (a /16 over two zones gives two /17s), so a
/// large cluster does not run out of addresses. AWS subnets are at most /28.
fn subnet_cidrs(region: &Region) -> Result<Vec<Ipv4Net>> {
    let prefix = region.cidr.prefix_len();
    let needed = region.zones.len().max(1);
    let zone_bits = (usize::BITS - (needed - 1).leading_zeros()) as u8;
    let new_prefix = prefix + zone_bits;
    if new_prefix > 28 {
        return Err(anyhow!(
            "region {}: {} is too small for {} zones: give it a /{} or larger",
            region.name,
            region.cidr,
            needed,
            28 - zone_bits
        ));
    }
    let subnets: Vec<Ipv4Net> = region
        .cidr
        .subnets(new_prefix)
        .map_err(|e| {
            anyhow!(
                "region {}: cannot split {} into subnets: {e}",
                region.name,
                region.cidr
            )
        })?
        .take(needed)
        .collect();
    Ok(subnets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_standby_keeps_a_share_and_at_least_one() {
        assert_eq!(cluster_size(Role::Primary, 6, 0.5), 6);
        assert_eq!(cluster_size(Role::WarmStandby, 6, 0.5), 3);
        assert_eq!(cluster_size(Role::WarmStandby, 5, 0.5), 3);
        assert_eq!(cluster_size(Role::WarmStandby, 1, 0.1), 1);
        assert_eq!(cluster_size(Role::ColdStandby, 6, 0.5), 0);
    }

    #[test]
    fn subnets_split_the_vpc_evenly_by_zone() {
        let region = Region {
            name: "us-east-1".into(),
            role: Role::Primary,
            cidr: "10.0.0.0/16".parse().unwrap(),
            zones: vec![
                "us-east-1a".into(),
                "us-east-1b".into(),
                "us-east-1c".into(),
            ],
            capacity: 0.5,
        };
        let cidrs: Vec<String> = subnet_cidrs(&region)
            .unwrap()
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(cidrs, ["10.0.0.0/18", "10.0.64.0/18", "10.0.128.0/18"]);
        let smallest = Region {
            cidr: "10.0.0.0/26".parse().unwrap(),
            ..region.clone()
        };
        assert_eq!(
            subnet_cidrs(&smallest).unwrap()[2].to_string(),
            "10.0.0.32/28"
        );
        let too_small = Region {
            cidr: "10.0.0.0/27".parse().unwrap(),
            ..region
        };
        let err = subnet_cidrs(&too_small).unwrap_err().to_string();
        assert!(
            err.contains("too small for 3 zones: give it a /26 or larger"),
            "{err}"
        );
    }
}
