//! Expansion of a drill: an isolated copy of the full stack in one region under a drill id.
//!
//! Invariant: every name and the `standby:environment` tag carry the drill id, so nothing a
//! drill makes can be mistaken for (or adopted by) production; the only production objects
//! it touches are read (the primary database it snapshots, the hosted zone it adds a
//! `drill-<id>.` record to).

use super::expand::{attrs, Expander};
use super::{Desired, Kind, Naming};
use crate::address::Address;
use crate::config::{Role, Spec};
use anyhow::{bail, Result};
use serde_json::json;
use std::collections::BTreeMap;

/// The `standby:environment` of a drill's resources: `<environment>-drill-<id>`.
pub fn drill_environment(spec: &Spec, id: &str) -> String {
    format!("{}-drill-{id}", spec.environment)
}

/// The desired resources of drill `id` in `region`, with production's primary in `primary`.
/// With `from_backups` (a cold standby holding the primary's replicated backups) each
/// database is restored from those backups: no snapshot of the primary at all, so no I/O
/// pause there.
pub fn expand_drill(
    spec: &Spec,
    region: &str,
    primary: &str,
    id: &str,
    from_backups: bool,
) -> Result<Vec<Desired>> {
    let Some(target) = spec.region(region) else {
        bail!("region {region} is not in the spec");
    };
    let production = super::naming(spec);
    let naming = Naming {
        service: spec.service.name.clone(),
        environment: drill_environment(spec, id),
        service_tags: {
            let mut tags = spec.service.tags.clone();
            tags.insert("standby:drill".into(), id.to_string());
            tags
        },
    };
    let mut x = Expander::new(naming.clone());
    x.network(target)?;
    for cluster in &spec.clusters {
        x.cluster(
            target,
            Role::Primary,
            cluster,
            super::expand::front(spec, cluster),
        );
    }
    let r = region;
    if !spec.databases.is_empty() {
        let group = x.db_subnet_group(target);
        for db in &spec.databases {
            let settings = db.settings_in(r);
            let slug = db.name.slug();
            let at = |region: &str| db.name.address(Some(region), "database");
            let source_id = super::expand::db_identifier(&production.regional(&slug, primary));
            let sg = x.db_security_group(spec, target, db);
            let mut refs = BTreeMap::from([
                ("subnet_group".to_string(), group.clone()),
                ("security_group".to_string(), sg),
            ]);
            let identifier = super::expand::db_identifier(&naming.regional(&slug, r));
            let mut a = json!({
                "identifier": identifier,
                "engine": settings.engine,
                "instance_class": settings.instance_class,
                "storage_gb": settings.storage_gb,
                "replica_of": null,
                "final_snapshot": false,
            });
            if from_backups {
                a["restore_backup"] = json!(at(r).child("backups").to_string());
                a["backup_of"] = json!(source_id);
            } else {
                let from = SnapshotFrom {
                    region: primary,
                    database: &source_id,
                    fresh_within: spec.service.rpo,
                };
                let snapshot = x.drill_snapshot(&naming, from, r, &slug, &at);
                a["restore_from"] = json!(snapshot.to_string());
                refs.insert("snapshot".to_string(), snapshot);
            }
            x.push(
                at(r),
                Kind::Database,
                Some(r),
                identifier,
                attrs(a),
                refs,
                vec![],
            );
        }
    }
    for bucket in &spec.buckets {
        let name = naming.bucket(&bucket.name.slug(), r);
        x.push(
            bucket.name.address(Some(r), "bucket"),
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
    for dns in &spec.dns {
        let base = dns.name.address(None, "dns");
        let zone = x.zone(&base, &dns.settings);
        let name = format!("drill-{id}.{}", dns.settings.name.trim_end_matches('.'));
        let lb = dns
            .settings
            .cluster
            .address(Some(r), "cluster")
            .child("load_balancer");
        x.alias_record(
            base.child("record").child("drill"),
            name.clone(),
            json!({ "name": name, "failover": null, "set_identifier": null }),
            &zone,
            lb,
        );
    }
    Ok(x.finish())
}

/// The production database a drill's snapshot is taken of.
struct SnapshotFrom<'a> {
    region: &'a str,
    database: &'a str,
    /// An automated snapshot at most this old is copied instead of taking a fresh one.
    fresh_within: std::time::Duration,
}

impl Expander {
    /// A fresh snapshot of production's primary database, copied into `r` unless it is
    /// there: the snapshot a drill's database is restored from.
    fn drill_snapshot(
        &mut self,
        naming: &Naming,
        from: SnapshotFrom,
        r: &str,
        slug: &str,
        at: &dyn Fn(&str) -> Address,
    ) -> Address {
        let SnapshotFrom {
            region: primary,
            database: source_id,
            fresh_within,
        } = from;
        let snapshot = at(primary).child("drill_snapshot");
        let snapshot_id =
            super::expand::db_identifier(&naming.regional(&format!("{slug}-snapshot"), primary));
        self.push(
            snapshot.clone(),
            Kind::DbSnapshot,
            Some(primary),
            snapshot_id.clone(),
            // A recent enough automated snapshot is copied instead of taking one that
            // suspends a Single-AZ primary's I/O: recent enough is within the RPO.
            attrs(json!({
                "identifier": snapshot_id,
                "db_instance": source_id,
                "fresh_within": fresh_within.as_secs(),
            })),
            BTreeMap::new(),
            vec![],
        );
        let restore_from = if primary == r {
            snapshot
        } else {
            let copy = at(r).child("drill_snapshot_copy");
            let copy_id =
                super::expand::db_identifier(&naming.regional(&format!("{slug}-snapshot"), r));
            self.push(
                copy.clone(),
                Kind::DbSnapshot,
                Some(r),
                copy_id.clone(),
                attrs(json!({ "identifier": copy_id, "copy_of": snapshot.to_string(), "source_region": primary })),
                BTreeMap::from([("source".to_string(), snapshot)]),
                vec![],
            );
            copy
        };
        restore_from
    }
}
