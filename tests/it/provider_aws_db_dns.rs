//! The AWS provider's RDS and Route 53 kinds against moto, through the `Provider` trait:
//! a primary database and its cross-region read replica (managed password, final snapshot),
//! promotion, hosted zones (created, adopted), health checks and failover records; each read
//! back through the SDK directly, refreshed to a clean diff in a bounded number of requests,
//! updated, deleted (twice).

use crate::support::aws::{rds, secret_value, secrets};
use crate::support::provider::{
    assert_clean, create_all, data_network, delete_all, desired, known, scope, Ctx,
};
use crate::support::Emulator;
use aws_sdk_route53::types::{HostedZoneConfig, Vpc, VpcRegion};
use serde_json::{json, Value};
use standby::provider::aws::AwsProvider;
use standby::provider::{Observed, Provider};
use standby::topology::{Desired, Kind};
use std::collections::{BTreeMap, BTreeSet, HashMap};

const PRIMARY_DB: &str = "region.us-east-1.database.orders";
const REPLICA_DB: &str = "region.us-west-2.database.orders";
const SECRET: &str = "region.us-east-1.database.orders.secret";
pub(crate) const SECRET_NAME: &str = "standby/checkout/test/orders/master";

// --- databases -----------------------------------------------------------------------------

fn database(region: &str, replica_of: Option<&str>) -> Desired {
    let identifier = format!("checkout-test-orders-{region}");
    let group = format!("region.{region}.database.orders.subnet_group");
    let mut refs = vec![("subnet_group", group.as_str())];
    if replica_of.is_some() {
        refs.push(("source", PRIMARY_DB));
    } else {
        refs.push(("secret", SECRET));
    }
    desired(
        Kind::Database,
        Some(region),
        &format!("region.{region}.database.orders"),
        &identifier,
        json!({
            "identifier": identifier,
            "engine": "postgres",
            "engine_version": "16.3",
            "instance_class": "db.t3.micro",
            "storage_gb": 20,
            "replica_of": replica_of,
        }),
        &refs,
    )
}

async fn describe_db(emu: &Emulator, region: &str, id: &str) -> aws_sdk_rds::types::DbInstance {
    rds(emu, region)
        .await
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .clone()
}

async fn instance_count(emu: &Emulator, region: &str) -> usize {
    rds(emu, region)
        .await
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
        .len()
}

/// The primary's master password secret in us-east-1, replicated to us-west-2.
pub(crate) fn db_secret() -> Desired {
    desired(
        Kind::DbSecret,
        Some("us-east-1"),
        SECRET,
        SECRET_NAME,
        json!({ "name": SECRET_NAME, "replica_regions": ["us-west-2"] }),
        &[],
    )
}

/// A primary database in us-east-1 (with its secret) and its replica in us-west-2, each on
/// its own network.
pub(crate) fn primary_and_replica() -> Vec<Desired> {
    let mut ds = data_network("us-east-1", 0);
    ds.extend(data_network("us-west-2", 1));
    ds.push(db_secret());
    ds.push(database("us-east-1", None));
    ds.push(database("us-west-2", Some(PRIMARY_DB)));
    ds
}

/// Asserts no attribute or computed value of `o` holds or names a password.
fn assert_no_password(o: &Observed) {
    let text = serde_json::to_string(&(&o.attrs, &o.computed))
        .unwrap()
        .to_ascii_lowercase();
    assert!(!text.contains("password"), "{text}");
    if o.kind != Kind::DbSecret {
        assert!(!text.contains("secret"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn primary_and_cross_region_replica_round_trip() {
    let emu = Emulator::start();
    let p = AwsProvider::with_endpoint(&emu.endpoint()).await.unwrap();
    let ctx = Ctx::default();

    let ds = primary_and_replica();
    let created = create_all(&p, &ctx, &ds).await;
    let primary = &created[9];
    let replica = &created[10];
    for o in [primary, replica] {
        assert_no_password(o);
        assert_eq!(o.computed["status"], json!("available"), "{}", o.address);
        assert!(o.computed["endpoint"].as_str().unwrap().contains(':'));
    }
    let primary_arn = primary.computed["arn"].as_str().unwrap().to_string();
    assert!(
        primary_arn.starts_with("arn:aws:rds:us-east-1:"),
        "{primary_arn}"
    );
    assert_eq!(
        created[3].id, "checkout-test-orders-us-east-1",
        "a subnet group's id is its name"
    );

    // Read back through the SDK.
    let group = rds(&emu, "us-east-1")
        .await
        .describe_db_subnet_groups()
        .db_subnet_group_name("checkout-test-orders-us-east-1")
        .send()
        .await
        .unwrap();
    let mut subnets: Vec<&str> = group.db_subnet_groups()[0]
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier())
        .collect();
    subnets.sort();
    let mut want = vec![created[1].id.as_str(), created[2].id.as_str()];
    want.sort();
    assert_eq!(subnets, want);
    let p_live = describe_db(&emu, "us-east-1", &primary.id).await;
    let r_live = describe_db(&emu, "us-west-2", &replica.id).await;
    // Standby's own password, never RDS-managed (RDS refuses replicas of such a source);
    // the secret holding it is readable in both regions and nothing else holds it.
    assert!(p_live.master_user_secret().is_none(), "not RDS-managed");
    let password = secret_value(&emu, "us-east-1", SECRET_NAME).await.unwrap();
    assert_eq!(password.len(), 28);
    assert_eq!(
        secret_value(&emu, "us-west-2", SECRET_NAME).await,
        Some(password.clone()),
        "replicated to the standby region"
    );
    assert!(created
        .iter()
        .all(|o| !standby::state::file::resource_json(o)
            .to_string()
            .contains(&password)));
    assert_eq!(p_live.master_username(), Some("standby"));
    assert_eq!(p_live.storage_encrypted(), Some(true));
    assert_eq!(p_live.backup_retention_period(), Some(7));
    assert_eq!(p_live.read_replica_source_db_instance_identifier(), None);
    assert_eq!(p_live.engine_version(), Some("16.3"));
    assert_eq!(
        p_live
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_name()),
        Some("checkout-test-orders-us-east-1")
    );
    let src = r_live.read_replica_source_db_instance_identifier().unwrap();
    assert!(src == primary_arn || src == primary.id, "{src}");
    assert!(p_live
        .read_replica_db_instance_identifiers()
        .iter()
        .any(|r| r == &replica.id || Some(r.as_str()) == r_live.db_instance_arn()));
    assert_eq!(
        r_live
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_name()),
        Some("checkout-test-orders-us-west-2"),
        "the replica lives in its own region's subnet group"
    );
    let tags: BTreeMap<_, _> = r_live
        .tag_list()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(tags["standby:address"], REPLICA_DB);
    assert_eq!(tags["team"], "payments");

    // Refresh with the state: a clean diff, replica_of mapped back to an address, in one
    // describe per type and region.
    let both = ["us-east-1", "us-west-2"];
    let before = p.request_count();
    let observed = p.refresh(&scope(&both, false, known(&ds))).await.unwrap();
    let requests = p.request_count() - before;
    assert_clean(&observed, &ds);
    // Per region: 4 EC2 describes (no instance listing in a plan's refresh), 3 RDS calls
    // (subnet groups and their tags, instances), groups, launch templates, load balancers and
    // target groups; one DescribeSecret.
    assert_eq!(requests, 2 * 4 + 2 * 3 + 2 * 4 + 1, "refresh requests");
    let r_obs = observed
        .iter()
        .find(|o| o.address.as_str() == REPLICA_DB)
        .unwrap();
    assert_eq!(r_obs.attrs["replica_of"], json!(PRIMARY_DB));
    assert!(r_obs.depends_on.iter().any(|a| a.as_str() == PRIMARY_DB));
    observed.iter().for_each(assert_no_password);

    // A lost state: databases are found by their tags (subnet groups only by name).
    let lost = p.refresh(&scope(&both, false, Vec::new())).await.unwrap();
    let dbs: Vec<&Observed> = lost.iter().filter(|o| o.kind == Kind::Database).collect();
    assert_eq!(dbs.len(), 2);
    for o in dbs {
        let d = ds.iter().find(|d| d.address == o.address).unwrap();
        crate::support::provider::assert_as_desired(o, d, "without state");
    }

    // us-east-1 assumed down: the replica's source cannot be checked, and is believed.
    let west = p
        .refresh(&scope(&["us-west-2"], false, known(&ds)))
        .await
        .unwrap();
    let r_west = west
        .iter()
        .find(|o| o.address.as_str() == REPLICA_DB)
        .unwrap();
    assert_eq!(r_west.attrs["replica_of"], json!(PRIMARY_DB));

    // Creating again adopts: no second instance or group.
    for (d, o) in ds[8..].iter().zip(&created[8..]) {
        assert_eq!(p.create(d, &ctx).await.unwrap().id, o.id, "{}", d.address);
    }
    assert_eq!(p.create(&ds[3], &ctx).await.unwrap().id, created[3].id);
    assert_eq!(instance_count(&emu, "us-east-1").await, 1);
    assert_eq!(instance_count(&emu, "us-west-2").await, 1);

    // Update in place: a larger class and more storage.
    let mut bigger = ds[9].clone();
    bigger
        .attrs
        .insert("instance_class".into(), json!("db.t3.small"));
    bigger.attrs.insert("storage_gb".into(), json!(30));
    let updated = p.update(&bigger, primary, &ctx).await.unwrap();
    crate::support::provider::assert_as_desired(&updated, &bigger, "updated");
    let p_live = describe_db(&emu, "us-east-1", &primary.id).await;
    assert_eq!(p_live.db_instance_class(), Some("db.t3.small"));
    assert_eq!(p_live.allocated_storage(), Some(30));
    ctx.put(&updated);
    let mut smaller = bigger.clone();
    smaller.attrs.insert("storage_gb".into(), json!(10));
    let err = format!(
        "{:#}",
        p.update(&smaller, &updated, &ctx).await.unwrap_err()
    );
    assert!(err.contains("storage cannot shrink"), "{err}");

    // Delete: the replica (no snapshot; moto answers 500 though it is gone), then the
    // primary (a final snapshot), then the subnet groups and networks.
    let observed = p.refresh(&scope(&both, false, known(&ds))).await.unwrap();
    let by_address: HashMap<&str, &Observed> =
        observed.iter().map(|o| (o.address.as_str(), o)).collect();
    let order: Vec<Observed> = [
        REPLICA_DB,
        PRIMARY_DB,
        SECRET,
        "region.us-west-2.database.orders.subnet_group",
        "region.us-east-1.database.orders.subnet_group",
        "region.us-west-2.network.subnet[0]",
        "region.us-west-2.network.subnet[1]",
        "region.us-west-2.network.vpc",
        "region.us-east-1.network.subnet[0]",
        "region.us-east-1.network.subnet[1]",
        "region.us-east-1.network.vpc",
    ]
    .iter()
    .map(|a| by_address[a].clone())
    .collect();
    delete_all(&p, &ctx, &order[..1]).await;
    assert_eq!(instance_count(&emu, "us-west-2").await, 0);
    delete_all(&p, &ctx, &order[1..]).await;
    assert_eq!(instance_count(&emu, "us-east-1").await, 0);
    let snapshots = rds(&emu, "us-east-1")
        .await
        .describe_db_snapshots()
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = snapshots
        .db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("checkout-test-orders-us-east-1-final-")),
        "{names:?}"
    );
    let west_snapshots = rds(&emu, "us-west-2")
        .await
        .describe_db_snapshots()
        .snapshot_type("manual")
        .send()
        .await
        .unwrap();
    assert!(
        west_snapshots.db_snapshots().is_empty(),
        "a replica has no final snapshot"
    );
    // The secret's replica is gone; the secret waits out its recovery window, restorable
    // with the final snapshot's password.
    assert_eq!(secret_value(&emu, "us-west-2", SECRET_NAME).await, None);
    let scheduled = secrets(&emu, "us-east-1")
        .await
        .describe_secret()
        .secret_id(SECRET_NAME)
        .send()
        .await
        .unwrap();
    assert!(scheduled.deleted_date().is_some(), "{scheduled:?}");
    assert_eq!(
        p.refresh(&scope(&both, false, known(&ds))).await.unwrap(),
        Vec::new()
    );
    // Deleting again succeeds.
    delete_all(&p, &ctx, &order).await;

    // An apply after the destroy restores the secret, with the password the final snapshot
    // has, and replicates it again: no name clash with the secret being deleted.
    let restored = p.create(&ds[8], &ctx).await.unwrap();
    assert_eq!(restored.attrs, ds[8].attrs);
    assert_eq!(
        secret_value(&emu, "us-west-2", SECRET_NAME).await,
        Some(password)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn promoted_replica_is_no_longer_a_replica() {
    let emu = Emulator::start();
    let p = AwsProvider::with_endpoint(&emu.endpoint()).await.unwrap();
    let ctx = Ctx::default();
    let ds = primary_and_replica();
    let created = create_all(&p, &ctx, &ds).await;
    let replica = &created[10];

    p.promote_read_replica("us-west-2", &replica.id, &replica.address)
        .await
        .unwrap();
    // Promoting twice succeeds.
    p.promote_read_replica("us-west-2", &replica.id, &replica.address)
        .await
        .unwrap();
    let both = ["us-east-1", "us-west-2"];
    let observed = p.refresh(&scope(&both, false, known(&ds))).await.unwrap();
    let promoted = observed
        .iter()
        .find(|o| o.address.as_str() == REPLICA_DB)
        .unwrap();
    assert_eq!(promoted.attrs["replica_of"], Value::Null);
    let primary = observed
        .iter()
        .find(|o| o.address.as_str() == PRIMARY_DB)
        .unwrap();
    assert_eq!(primary.attrs["replica_of"], Value::Null);

    // A promoted database is a primary: its delete leaves a final snapshot.
    p.delete(promoted, &ctx).await.unwrap();
    let snapshots = rds(&emu, "us-west-2")
        .await
        .describe_db_snapshots()
        .send()
        .await
        .unwrap();
    assert!(snapshots
        .db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier())
        .any(|n| n.starts_with("checkout-test-orders-us-west-2-final-")));
    p.delete(primary, &ctx).await.unwrap();
    assert_eq!(instance_count(&emu, "us-west-2").await, 0);
    assert_eq!(instance_count(&emu, "us-east-1").await, 0);
}

// --- DNS -----------------------------------------------------------------------------------

const ZONE: &str = "dns.api.zone";

fn zone(address: &str, name: &str) -> Desired {
    desired(
        Kind::HostedZone,
        None,
        address,
        name,
        json!({"zone": name}),
        &[],
    )
}

fn health_check(region: &str, ip: &str) -> Desired {
    let address = format!("dns.api.health_check.{region}");
    desired(
        Kind::HealthCheck,
        None,
        &address,
        &format!("checkout-test-api-{region}"),
        json!({"region": region, "protocol": "HTTPS", "port": 443, "path": "/health", "ip_address": ip}),
        &[],
    )
}

/// A failover alias record to the load balancer named `lb` (us-east-1's ELB zone).
fn record(region: &str, failover: &str, lb: &str) -> Desired {
    let hc = format!("dns.api.health_check.{region}");
    desired(
        Kind::Record,
        None,
        &format!("dns.api.record.{region}"),
        &format!("api.example.com#{region}"),
        json!({
            "name": "api.example.com",
            "failover": failover,
            "set_identifier": region,
            "alias_dns_name": lb,
            "alias_zone_id": "Z35SXDOTRQ7X7K",
            "evaluate_target_health": true,
        }),
        &[("zone", ZONE), ("health_check", &hc)],
    )
}

async fn route53(emu: &Emulator) -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::new(&emu.sdk_config("us-east-1").await)
}

async fn api_records(
    emu: &Emulator,
    zone_id: &str,
) -> Vec<aws_sdk_route53::types::ResourceRecordSet> {
    route53(emu)
        .await
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .send()
        .await
        .unwrap()
        .resource_record_sets()
        .iter()
        .filter(|s| s.name() == "api.example.com.")
        .cloned()
        .collect()
}

/// The alias target's DNS name, lower-case without the final dot.
fn alias_of(s: &aws_sdk_route53::types::ResourceRecordSet) -> String {
    let t = s.alias_target().expect("an alias record");
    t.dns_name().trim_end_matches('.').to_ascii_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn zones_health_checks_and_failover_records() {
    let emu = Emulator::start();
    let p = AwsProvider::with_endpoint(&emu.endpoint()).await.unwrap();
    let ctx = Ctx::default();
    let r53 = route53(&emu).await;

    // A zone someone else made: adopted, never deleted.
    r53.create_hosted_zone()
        .name("corp.example")
        .caller_reference("by-hand-1")
        .send()
        .await
        .unwrap();
    let foreign = zone("dns.www.zone", "corp.example");
    let adopted = p.create(&foreign, &ctx).await.unwrap();
    assert_eq!(adopted.attrs, foreign.attrs);
    assert_eq!(adopted.computed["created"], json!(false));

    // A private zone of the name: never adopted (it answers only inside its VPC).
    let private = r53
        .create_hosted_zone()
        .name("example.com")
        .caller_reference("private-1")
        .hosted_zone_config(HostedZoneConfig::builder().private_zone(true).build())
        .vpc(
            Vpc::builder()
                .vpc_region(VpcRegion::UsEast1)
                .vpc_id("vpc-12345678")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let private_id = private
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/");

    let ds = vec![
        zone(ZONE, "example.com"),
        health_check("us-east-1", "203.0.113.10"),
        health_check("us-west-2", "198.51.100.20"),
        record("us-east-1", "PRIMARY", "web-1.us-east-1.elb.amazonaws.com"),
        record(
            "us-west-2",
            "SECONDARY",
            "web-2.us-west-2.elb.amazonaws.com",
        ),
    ];
    let created = create_all(&p, &ctx, &ds).await;
    let zone_id = created[0].id.clone();
    assert!(!zone_id.starts_with('/'), "{zone_id}");
    assert_eq!(created[0].computed["zone_id"], json!(zone_id));
    assert_eq!(created[0].computed["created"], json!(true));
    assert_ne!(zone_id, private_id, "a public zone of its own");
    assert_eq!(
        created[3].id,
        format!("{zone_id}/api.example.com/us-east-1")
    );

    // Creating again: the same zone, the same health check.
    assert_eq!(p.create(&ds[0], &ctx).await.unwrap().id, zone_id);
    assert_eq!(p.create(&ds[1], &ctx).await.unwrap().id, created[1].id);
    let zones = r53.list_hosted_zones().send().await.unwrap();
    assert_eq!(
        zones
            .hosted_zones()
            .iter()
            .filter(|z| z.name() == "example.com.")
            .count(),
        2,
        "the private zone and standby's public one, no third"
    );
    let checks = r53.list_health_checks().send().await.unwrap();
    assert_eq!(
        checks.health_checks().len(),
        2,
        "one health check per address"
    );
    let refs: BTreeSet<&str> = checks
        .health_checks()
        .iter()
        .map(|c| c.caller_reference())
        .collect();
    assert_eq!(refs.len(), 2, "distinct caller references");
    assert!(refs
        .iter()
        .all(|r| r.starts_with("standby-") && r.len() <= 64));
    let check = r53
        .get_health_check()
        .health_check_id(&created[1].id)
        .send()
        .await
        .unwrap();
    let config = check.health_check().unwrap().health_check_config().unwrap();
    assert_eq!(config.r#type().as_str(), "HTTPS");
    assert_eq!(config.ip_address(), Some("203.0.113.10"));
    assert_eq!(config.port(), Some(443));
    assert_eq!(config.resource_path(), Some("/health"));
    assert_eq!(config.request_interval(), Some(30));
    assert_eq!(config.failure_threshold(), Some(3));

    // The records, read back through the SDK.
    let sets = api_records(&emu, &zone_id).await;
    assert_eq!(sets.len(), 2);
    for (d, o) in ds[3..].iter().zip(&created[3..]) {
        let region = d.attrs["set_identifier"].as_str().unwrap();
        let s = sets
            .iter()
            .find(|s| s.set_identifier() == Some(region))
            .unwrap();
        assert_eq!(
            s.failover().unwrap().as_str(),
            d.attrs["failover"].as_str().unwrap()
        );
        assert_eq!(s.ttl(), None, "an alias record has no TTL");
        assert_eq!(s.r#type().as_str(), "A");
        assert_eq!(json!(alias_of(s)), d.attrs["alias_dns_name"]);
        assert!(s.alias_target().unwrap().evaluate_target_health());
        let hc = &created[if region == "us-east-1" { 1 } else { 2 }].id;
        assert_eq!(s.health_check_id(), Some(hc.as_str()), "{}", o.address);
    }

    // Refresh: a clean diff. One zone listing and one batch of their tags, one health-check
    // listing and one tag batch, one record listing per known zone; IAM's role listing comes
    // with the global read. The adopted zone is not this environment's: its tags are left
    // alone (the environment does not compare them).
    let mut all = ds.clone();
    let mut shared = foreign.clone();
    shared.attrs.remove("tags");
    all.push(shared);
    let before = p.request_count();
    let observed = p.refresh(&scope(&[], true, known(&all))).await.unwrap();
    let requests = p.request_count() - before;
    let mut comparable = observed.clone();
    for o in comparable
        .iter_mut()
        .filter(|o| o.address == foreign.address)
    {
        assert_eq!(
            o.computed["owned"],
            json!(false),
            "an adopted zone is shared"
        );
        o.attrs.remove("tags");
    }
    assert_clean(&comparable, &all);
    let own = observed
        .iter()
        .find(|o| o.address == ds[0].address)
        .unwrap();
    assert_eq!(own.computed["owned"], json!(true));
    assert_eq!(requests, 1 + 1 + 1 + 1 + 2 + 1, "refresh requests");
    let rec = observed
        .iter()
        .find(|o| o.address == ds[3].address)
        .unwrap();
    assert_eq!(
        rec.depends_on,
        vec![ds[0].address.clone(), ds[1].address.clone()],
        "records depend on their zone and health check"
    );
    // Without a state, health checks are still found by their tags.
    let lost = p.refresh(&scope(&[], true, Vec::new())).await.unwrap();
    let mut lost_addresses: Vec<&str> = lost.iter().map(|o| o.address.as_str()).collect();
    lost_addresses.sort();
    assert_eq!(
        lost_addresses,
        vec![
            "dns.api.health_check.us-east-1",
            "dns.api.health_check.us-west-2"
        ]
    );

    // Update: a record's target (UPSERT), a health check's address.
    let moved = record("us-east-1", "PRIMARY", "web-3.us-east-1.elb.amazonaws.com");
    let updated = p.update(&moved, &created[3], &ctx).await.unwrap();
    assert_eq!(updated.attrs, moved.attrs);
    ctx.put(&updated);
    let sets = api_records(&emu, &zone_id).await;
    let primary = sets
        .iter()
        .find(|s| s.set_identifier() == Some("us-east-1"))
        .unwrap();
    assert_eq!(alias_of(primary), "web-3.us-east-1.elb.amazonaws.com");
    assert_eq!(sets.len(), 2);
    let rechecked = health_check("us-east-1", "203.0.113.12");
    let hc = p.update(&rechecked, &created[1], &ctx).await.unwrap();
    assert_eq!(hc.attrs, rechecked.attrs);
    assert_eq!(hc.id, created[1].id);
    let check = r53
        .get_health_check()
        .health_check_id(&created[1].id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        check
            .health_check()
            .unwrap()
            .health_check_config()
            .unwrap()
            .ip_address(),
        Some("203.0.113.12")
    );
    let mut now = vec![
        ds[0].clone(),
        rechecked,
        ds[2].clone(),
        moved,
        ds[4].clone(),
    ];
    let observed = p.refresh(&scope(&[], true, known(&now))).await.unwrap();
    assert_clean(&observed, &now);

    // A record needs its load balancer's name.
    let empty = record("us-west-2", "SECONDARY", standby::topology::UNKNOWN);
    let err = format!("{:#}", p.create(&empty, &ctx).await.unwrap_err());
    assert!(err.contains("load balancer is not known yet"), "{err}");

    // A zone that still holds records (another environment's, in a shared zone) stays, and
    // loses this environment's tags.
    let zone_obs = observed
        .iter()
        .find(|o| o.address.as_str() == ZONE)
        .unwrap();
    p.delete(zone_obs, &ctx).await.unwrap();
    let tags = r53
        .list_tags_for_resource()
        .resource_type(aws_sdk_route53::types::TagResourceType::Hostedzone)
        .resource_id(&zone_id)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = tags
        .resource_tag_set()
        .map(|s| s.tags().iter().filter_map(|t| t.key()).collect())
        .unwrap_or_default();
    assert!(keys.is_empty(), "{keys:?}");
    assert_eq!(
        api_records(&emu, &zone_id).await.len(),
        2,
        "the records stay"
    );

    // Delete: records, health checks, the zone; the adopted zone stays.
    let order: Vec<Observed> = [3, 4, 1, 2, 0]
        .iter()
        .map(|i| {
            observed
                .iter()
                .find(|o| o.address == now[*i].address)
                .unwrap()
                .clone()
        })
        .collect();
    delete_all(&p, &ctx, &order).await;
    p.delete(&adopted, &ctx).await.unwrap();
    let zones = r53.list_hosted_zones().send().await.unwrap();
    let left: Vec<(&str, &str)> = zones
        .hosted_zones()
        .iter()
        .map(|z| (z.name(), z.id().trim_start_matches("/hostedzone/")))
        .collect();
    assert_eq!(
        left,
        vec![
            ("corp.example.", adopted.id.as_str()),
            ("example.com.", private_id)
        ],
        "the adopted zone and the private one are left alone"
    );
    assert!(r53
        .list_health_checks()
        .send()
        .await
        .unwrap()
        .health_checks()
        .is_empty());
    now.push(foreign);
    let left = p.refresh(&scope(&[], true, known(&now))).await.unwrap();
    assert_eq!(
        left.iter().map(|o| o.address.as_str()).collect::<Vec<_>>(),
        vec!["dns.www.zone"]
    );
    now.pop();
    assert_eq!(
        p.refresh(&scope(&[], true, known(&now))).await.unwrap(),
        Vec::new()
    );
    // Deleting again succeeds.
    delete_all(&p, &ctx, &order).await;

    // Recreating a deleted health check: Route 53 never reuses a caller reference.
    let again = p.create(&ds[2], &ctx).await.unwrap();
    assert_ne!(again.id, created[2].id);
    assert_eq!(
        r53.list_health_checks()
            .send()
            .await
            .unwrap()
            .health_checks()
            .len(),
        1
    );
}
