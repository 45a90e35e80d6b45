//! The AWS provider's drill kinds against moto, through the `Provider` trait: a fresh snapshot
//! of the primary, its copy into the drill region, a database restored from the copy (no
//! final snapshot on delete), a plain A record and its `TestDNSAnswer`; each read back
//! through the SDK, refreshed to a clean diff, deleted (twice) until nothing is left. And a
//! restore the test proxy rejects, whose error names the address, region and operation.

use crate::support::aws::rds;
use crate::support::provider::{
    assert_clean, create_all, data_network, desired, known, scope, subnet_group, Ctx,
};
use crate::support::proxy::Proxy;
use crate::support::Emulator;
use serde_json::{json, Value};
use standby::address::Address;
use standby::provider::aws::AwsProvider;
use standby::provider::{ApplyContext, Provider};
use standby::topology::{Desired, Kind};
use std::collections::BTreeMap;

const PRIMARY: &str = "us-east-1";
const DRILL: &str = "eu-west-1";
const PRIMARY_DB: &str = "region.us-east-1.database.orders";
const PRIMARY_ID: &str = "checkout-test-orders-us-east-1";
const SNAPSHOT: &str = "drill.d1.snapshot.us-east-1";
const SNAPSHOT_ID: &str = "checkout-test-drill-d1-orders-us-east-1";
const COPY: &str = "drill.d1.snapshot.eu-west-1";
const COPY_ID: &str = "checkout-test-drill-d1-orders-copy-eu-west-1";
const RESTORED: &str = "drill.d1.region.eu-west-1.database.orders";
const RESTORED_ID: &str = "checkout-test-drill-d1-orders-eu-west-1";
const ZONE: &str = "dns.api.zone";

// --- the stack -----------------------------------------------------------------------------

fn primary_db() -> Desired {
    let group = subnet_group(PRIMARY);
    desired(
        Kind::Database,
        Some(PRIMARY),
        PRIMARY_DB,
        PRIMARY_ID,
        json!({
            "identifier": PRIMARY_ID,
            "engine": "postgres",
            "engine_version": "16.3",
            "instance_class": "db.t3.micro",
            "storage_gb": 20,
            "replica_of": null,
        }),
        &[
            ("subnet_group", &group),
            ("secret", "region.us-east-1.database.orders.secret"),
        ],
    )
}

/// A fresh snapshot of the primary, and its copy into the drill region.
fn snapshots() -> Vec<Desired> {
    vec![
        desired(
            Kind::DbSnapshot,
            Some(PRIMARY),
            SNAPSHOT,
            SNAPSHOT_ID,
            json!({"identifier": SNAPSHOT_ID, "db_instance": PRIMARY_ID}),
            &[],
        ),
        desired(
            Kind::DbSnapshot,
            Some(DRILL),
            COPY,
            COPY_ID,
            json!({"identifier": COPY_ID, "copy_of": SNAPSHOT, "source_region": PRIMARY}),
            &[("source", SNAPSHOT)],
        ),
    ]
}

fn restored_db() -> Desired {
    let group = subnet_group(DRILL);
    desired(
        Kind::Database,
        Some(DRILL),
        RESTORED,
        RESTORED_ID,
        json!({
            "identifier": RESTORED_ID,
            "engine": "postgres",
            "engine_version": "16.3",
            "instance_class": "db.t3.micro",
            "storage_gb": 20,
            "replica_of": null,
            "restore_from": COPY,
            "final_snapshot": false,
        }),
        &[("subnet_group", &group), ("snapshot", COPY)],
    )
}

/// Both networks, the primary and the two snapshots.
async fn primary_and_copy(p: &AwsProvider, ctx: &Ctx) -> Vec<Desired> {
    let mut ds = data_network(PRIMARY, 0);
    ds.extend(data_network(DRILL, 1));
    ds.push(crate::provider_aws_db_dns::db_secret());
    ds.push(primary_db());
    ds.extend(snapshots());
    create_all(p, ctx, &ds).await;
    ds
}

async fn instance_ids(emu: &Emulator, region: &str) -> Vec<String> {
    rds(emu, region)
        .await
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
        .iter()
        .filter_map(|i| i.db_instance_identifier().map(str::to_owned))
        .collect()
}

async fn manual_snapshots(emu: &Emulator, region: &str) -> Vec<String> {
    let mut ids: Vec<String> = rds(emu, region)
        .await
        .describe_db_snapshots()
        .snapshot_type("manual")
        .send()
        .await
        .unwrap()
        .db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

// --- DNS -----------------------------------------------------------------------------------

fn zone() -> Desired {
    desired(
        Kind::HostedZone,
        None,
        ZONE,
        "example.com",
        json!({"zone": "example.com"}),
        &[],
    )
}

/// The production failover record (no health check: not needed here).
fn production_record() -> Desired {
    desired(
        Kind::Record,
        None,
        "dns.api.record.us-east-1",
        "api.example.com#us-east-1",
        json!({
            "name": "api.example.com",
            "failover": "PRIMARY",
            "set_identifier": "us-east-1",
            "alias_dns_name": "web-1.us-east-1.elb.amazonaws.com",
            "alias_zone_id": "Z35SXDOTRQ7X7K",
            "evaluate_target_health": true,
        }),
        &[("zone", ZONE)],
    )
}

/// A drill's record: a plain alias A record to the drill's load balancer.
fn drill_record() -> Desired {
    desired(
        Kind::Record,
        None,
        "drill.d1.dns.api.record",
        "drill-d1.api.example.com",
        json!({
            "name": "drill-d1.api.example.com",
            "failover": null,
            "set_identifier": null,
            "alias_dns_name": "drill-web.us-west-2.elb.amazonaws.com",
            "alias_zone_id": "Z1H1FL5HABSF5",
            "evaluate_target_health": true,
        }),
        &[("zone", ZONE)],
    )
}

async fn a_records(
    emu: &Emulator,
    zone_id: &str,
) -> Vec<aws_sdk_route53::types::ResourceRecordSet> {
    aws_sdk_route53::Client::new(&emu.sdk_config("us-east-1").await)
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .send()
        .await
        .unwrap()
        .resource_record_sets()
        .iter()
        .filter(|s| s.r#type().as_str() == "A")
        .cloned()
        .collect()
}

// --- tests ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn snapshot_copy_restore_and_plain_record_round_trip() {
    let emu = Emulator::start();
    let p = AwsProvider::with_endpoint(&emu.endpoint()).await.unwrap();
    let ctx = Ctx::default();

    let mut ds = primary_and_copy(&p, &ctx).await;
    let restored_d = restored_db();
    let restored = create_all(&p, &ctx, std::slice::from_ref(&restored_d))
        .await
        .remove(0);
    ds.push(restored_d.clone());
    let snap = ctx.get(&Address::new(SNAPSHOT)).unwrap();
    let copy = ctx.get(&Address::new(COPY)).unwrap();
    assert_eq!(snap.id, SNAPSHOT_ID);
    assert_eq!(copy.id, COPY_ID);
    for (o, region) in [(&snap, PRIMARY), (&copy, DRILL)] {
        let arn = o.computed["arn"].as_str().unwrap();
        assert!(arn.starts_with(&format!("arn:aws:rds:{region}:")), "{arn}");
    }
    assert_eq!(restored.computed["status"], json!("available"));

    // Read back through the SDK: the copy lives in the drill region, tagged; the restored
    // instance is standalone, in the drill region's subnet group.
    let copies = rds(&emu, DRILL)
        .await
        .describe_db_snapshots()
        .db_snapshot_identifier(COPY_ID)
        .send()
        .await
        .unwrap();
    let live_copy = &copies.db_snapshots()[0];
    assert_eq!(live_copy.status(), Some("available"));
    let tags: BTreeMap<_, _> = live_copy
        .tag_list()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(tags["standby:address"], COPY);
    assert_eq!(manual_snapshots(&emu, PRIMARY).await, vec![SNAPSHOT_ID]);
    let live = rds(&emu, DRILL)
        .await
        .describe_db_instances()
        .db_instance_identifier(RESTORED_ID)
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .clone();
    assert_eq!(live.db_instance_status(), Some("available"));
    assert_eq!(live.read_replica_source_db_instance_identifier(), None);
    assert!(live
        .db_instance_arn()
        .is_some_and(|a| a.starts_with("arn:aws:rds:eu-west-1:")));
    assert_eq!(
        live.db_subnet_group()
            .and_then(|g| g.db_subnet_group_name()),
        Some("checkout-test-orders-eu-west-1")
    );
    let tags: BTreeMap<_, _> = live
        .tag_list()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(tags["standby:address"], RESTORED);
    let primary = ctx.get(&Address::new(PRIMARY_DB)).unwrap();
    assert_ne!(
        live.db_instance_arn(),
        primary.computed["arn"].as_str(),
        "a new instance"
    );

    // Refresh with the state: a clean diff, the drill attrs included.
    let both = [PRIMARY, DRILL];
    let observed = p.refresh(&scope(&both, false, known(&ds))).await.unwrap();
    assert_clean(&observed, &ds);
    let copy_obs = observed
        .iter()
        .find(|o| o.address.as_str() == COPY)
        .unwrap();
    assert_eq!(copy_obs.depends_on, vec![Address::new(SNAPSHOT)]);
    // A snapshot does not change in place.
    let mut other = snapshots().remove(0);
    other.attrs.insert("db_instance".into(), json!("elsewhere"));
    let err = format!("{:#}", p.update(&other, &snap, &ctx).await.unwrap_err());
    assert!(err.contains("cannot change in place"), "{err}");
    // Creating again adopts: no second snapshot, copy or instance.
    for d in &ds[ds.len() - 3..] {
        let o = p.create(d, &ctx).await.unwrap();
        assert_eq!(o.id, ctx.get(&d.address).unwrap().id, "{}", d.address);
    }
    assert_eq!(manual_snapshots(&emu, DRILL).await, vec![COPY_ID]);
    assert_eq!(instance_ids(&emu, DRILL).await, vec![RESTORED_ID]);

    // DNS: a plain alias record beside the production failover record, and its DNS answer.
    let dns = vec![zone(), production_record(), drill_record()];
    let created = create_all(&p, &ctx, &dns).await;
    let zone_id = created[0].id.clone();
    let record = &created[2];
    assert_eq!(record.id, format!("{zone_id}/drill-d1.api.example.com/"));
    assert_eq!(record.attrs["failover"], Value::Null);
    assert_eq!(record.attrs["set_identifier"], Value::Null);
    let sets = a_records(&emu, &zone_id).await;
    let plain = sets
        .iter()
        .find(|s| s.name() == "drill-d1.api.example.com.")
        .unwrap();
    assert_eq!(plain.set_identifier(), None);
    assert_eq!(plain.failover(), None);
    assert_eq!(plain.health_check_id(), None);
    assert_eq!(
        plain
            .alias_target()
            .map(|t| t.dns_name().trim_end_matches('.')),
        Some("drill-web.us-west-2.elb.amazonaws.com")
    );
    assert_eq!(
        p.test_dns_answer(&zone_id, "drill-d1.api.example.com")
            .await
            .unwrap(),
        vec!["drill-web.us-west-2.elb.amazonaws.com"],
        "moto answers with the alias target's name"
    );
    assert_eq!(
        p.test_dns_answer(&zone_id, "api.example.com")
            .await
            .unwrap(),
        vec!["web-1.us-east-1.elb.amazonaws.com"],
        "the production record's answer"
    );
    let observed = p.refresh(&scope(&[], true, known(&dns))).await.unwrap();
    assert_clean(&observed, &dns);

    // Teardown: the restored instance leaves no final snapshot; then the snapshots, the
    // drill's record. Deleting again succeeds.
    p.delete(&restored, &ctx).await.unwrap();
    assert!(instance_ids(&emu, DRILL).await.is_empty());
    assert_eq!(
        manual_snapshots(&emu, DRILL).await,
        vec![COPY_ID],
        "no final snapshot of the restored instance"
    );
    p.delete(&copy, &ctx).await.unwrap();
    p.delete(&snap, &ctx).await.unwrap();
    p.delete(record, &ctx).await.unwrap();
    for o in [&restored, &copy, &snap, record] {
        p.delete(o, &ctx)
            .await
            .unwrap_or_else(|e| panic!("delete {} again: {e:#}", o.address));
    }

    // Nothing of the drill is left; production is untouched.
    assert!(manual_snapshots(&emu, DRILL).await.is_empty());
    assert!(manual_snapshots(&emu, PRIMARY).await.is_empty());
    assert!(instance_ids(&emu, DRILL).await.is_empty());
    assert_eq!(instance_ids(&emu, PRIMARY).await, vec![PRIMARY_ID]);
    let names: Vec<String> = a_records(&emu, &zone_id)
        .await
        .iter()
        .map(|s| s.name().to_string())
        .collect();
    assert_eq!(names, vec!["api.example.com."]);
    assert!(p
        .test_dns_answer(&zone_id, "drill-d1.api.example.com")
        .await
        .unwrap()
        .is_empty());
    let drill: Vec<Desired> = ds
        .iter()
        .chain(&dns)
        .filter(|d| d.address.as_str().starts_with("drill."))
        .cloned()
        .collect();
    assert_eq!(drill.len(), 4);
    let left: Vec<String> = p
        .refresh(&scope(&both, true, known(&drill)))
        .await
        .unwrap()
        .iter()
        .map(|o| o.address.to_string())
        .filter(|a| a.starts_with("drill."))
        .collect();
    assert_eq!(left, Vec::<String>::new(), "drill resources left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rejected_restore_names_address_region_and_operation() {
    let emu = Emulator::start();
    let proxy = Proxy::start(&emu.endpoint());
    let p = AwsProvider::with_endpoint(&proxy.endpoint()).await.unwrap();
    let ctx = Ctx::default();
    primary_and_copy(&p, &ctx).await;

    proxy.fail_operation("RestoreDBInstanceFromDBSnapshot");
    let err = format!("{:#}", p.create(&restored_db(), &ctx).await.unwrap_err());
    for part in [
        RESTORED,
        DRILL,
        "RestoreDBInstanceFromDBSnapshot",
        "InvalidParameterCombination",
        "injected by the standby test proxy",
    ] {
        assert!(err.contains(part), "{part} in: {err}");
    }
    let restores: Vec<u16> = proxy
        .seen()
        .iter()
        .filter(|s| s.operation == "RestoreDBInstanceFromDBSnapshot")
        .map(|s| s.status)
        .collect();
    assert_eq!(restores, vec![400], "rejected once, not retried");
    assert!(instance_ids(&emu, DRILL).await.is_empty());

    // Once the proxy lets it through, the same create succeeds.
    proxy.clear_failed_operations();
    let o = p.create(&restored_db(), &ctx).await.unwrap();
    crate::support::provider::assert_as_desired(&o, &restored_db(), "as created");
    assert_eq!(instance_ids(&emu, DRILL).await, vec![RESTORED_ID]);
}
