//! Test support for driving the AWS provider through the `Provider` trait: desired resources
//! of the `checkout` service's `test` environment, an apply context, and create, refresh and
//! delete helpers that assert what every provider test expects of them.

use serde_json::Value;
use standby::address::Address;
use standby::provider::aws::AwsProvider;
use standby::provider::{ApplyContext, KnownResource, Observed, Provider, Scope};
use standby::topology::{Desired, Kind, Naming};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

pub const SERVICE: &str = "checkout";
pub const ENV: &str = "test";

/// The state, as far as an apply needs it: observed resources by address.
#[derive(Default)]
pub struct Ctx(Mutex<HashMap<Address, Observed>>);

impl ApplyContext for Ctx {
    fn get(&self, address: &Address) -> Option<Observed> {
        self.0.lock().unwrap().get(address).cloned()
    }
}

impl Ctx {
    pub fn put(&self, o: &Observed) {
        self.0.lock().unwrap().insert(o.address.clone(), o.clone());
    }
}

fn naming() -> Naming {
    Naming {
        service: SERVICE.into(),
        environment: ENV.into(),
        service_tags: [("team".to_string(), "payments".to_string())].into(),
    }
}

/// A desired resource with the managed attributes and tags the engine would add.
pub fn desired(
    kind: Kind,
    region: Option<&str>,
    address: &str,
    name: &str,
    attrs: Value,
    refs: &[(&str, &str)],
) -> Desired {
    let address = Address::new(address);
    let mut attrs = attrs.as_object().unwrap().clone();
    naming().add_managed(kind, &mut attrs);
    Desired {
        tags: naming().tags(name, &address),
        address,
        kind,
        region: region.map(str::to_owned),
        name: name.into(),
        attrs,
        refs: refs
            .iter()
            .map(|(k, a)| (k.to_string(), Address::new(*a)))
            .collect(),
        depends_on: Vec::new(),
        bindings: Default::default(),
        prevent_destroy: false,
    }
}

pub fn scope(regions: &[&str], global: bool, known: Vec<KnownResource>) -> Scope {
    Scope {
        service: SERVICE.into(),
        environment: ENV.into(),
        regions: regions.iter().map(|r| r.to_string()).collect(),
        global,
        known,
        include_unmanaged: false,
    }
}

/// `ds` as the state would know them.
pub fn known(ds: &[Desired]) -> Vec<KnownResource> {
    ds.iter()
        .map(|d| KnownResource {
            address: d.address.clone(),
            kind: d.kind,
            region: d.region.clone(),
            name: d.name.clone(),
        })
        .collect()
}

/// Creates `ds` in order, asserting each comes back as desired.
pub async fn create_all(p: &AwsProvider, ctx: &Ctx, ds: &[Desired]) -> Vec<Observed> {
    let mut out = Vec::new();
    for d in ds {
        let o = p
            .create(d, ctx)
            .await
            .unwrap_or_else(|e| panic!("create {}: {e:#}", d.address));
        assert_eq!(o.address, d.address);
        assert_fulfils(d, &o.attrs, "as created");
        ctx.put(&o);
        out.push(o);
    }
    out
}

/// Asserts refresh saw exactly `ds`, each with the desired attrs (a clean diff).
pub fn assert_clean(observed: &[Observed], ds: &[Desired]) {
    let by_address: BTreeMap<&Address, &Observed> =
        observed.iter().map(|o| (&o.address, o)).collect();
    assert_eq!(
        by_address.keys().cloned().collect::<BTreeSet<_>>(),
        ds.iter().map(|d| &d.address).collect::<BTreeSet<_>>(),
        "refreshed addresses"
    );
    assert_eq!(by_address.len(), observed.len(), "one observed per address");
    for d in ds {
        let o = by_address[&d.address];
        assert_eq!(o.kind, d.kind, "{}", d.address);
        assert_fulfils(d, &o.attrs, "refreshed");
        assert_eq!(o.region, d.region, "{}", d.address);
    }
}

/// Asserts `live` holds what `d` wants: the same keys, each value equal or, as the engine
/// judges it, fulfilling the wanted one (an engine version RDS upgraded by itself).
fn assert_fulfils(d: &Desired, live: &serde_json::Map<String, serde_json::Value>, when: &str) {
    assert_eq!(
        live.keys().collect::<BTreeSet<_>>(),
        d.attrs.keys().collect::<BTreeSet<_>>(),
        "{} {when}: keys",
        d.address
    );
    for (key, want) in &d.attrs {
        assert!(
            d.kind.fulfils(key, want, live.get(key)),
            "{} {when}: {key} is {:?}, wanted {want}",
            d.address,
            live.get(key)
        );
    }
}

pub async fn delete_all(p: &AwsProvider, ctx: &Ctx, os: &[Observed]) {
    for o in os {
        p.delete(o, ctx)
            .await
            .unwrap_or_else(|e| panic!("delete {}: {e:#}", o.address));
    }
}

/// The address of the orders database's subnet group in `region`.
pub fn subnet_group(region: &str) -> String {
    format!("region.{region}.database.orders.subnet_group")
}

/// VPC, two subnets and a DB subnet group in `region` (`cidr` is `10.N.0.0/16`).
pub fn data_network(region: &str, n: u8) -> Vec<Desired> {
    let vpc = format!("region.{region}.network.vpc");
    let group = format!("checkout-test-orders-{region}");
    let mut ds = vec![desired(
        Kind::Vpc,
        Some(region),
        &vpc,
        &format!("checkout-test-vpc-{region}"),
        serde_json::json!({"cidr": format!("10.{n}.0.0/16")}),
        &[],
    )];
    let mut subnet_refs = Vec::new();
    for (i, z) in ["a", "b"].iter().enumerate() {
        let zone = format!("{region}{z}");
        let address = format!("region.{region}.network.subnet[{i}]");
        ds.push(desired(
            Kind::Subnet,
            Some(region),
            &address,
            &format!("checkout-test-subnet-{zone}"),
            serde_json::json!({"zone": zone, "cidr": format!("10.{n}.{}.0/24", i + 1), "map_public_ip": false}),
            &[("vpc", &vpc)],
        ));
        subnet_refs.push((format!("subnet.{zone}"), address));
    }
    let refs: Vec<(&str, &str)> = subnet_refs
        .iter()
        .map(|(k, a)| (k.as_str(), a.as_str()))
        .collect();
    ds.push(desired(
        Kind::DbSubnetGroup,
        Some(region),
        &subnet_group(region),
        &group,
        serde_json::json!({"name": group}),
        &refs,
    ));
    ds
}
