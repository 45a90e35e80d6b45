//! Backups by role: the primary keeps `backup` days of automated backups, and each cold
//! standby holds a replica of them (RDS cross-Region automated backups replication), so a
//! cold region can be restored to any point of the window with every other region down.

use super::expand::{attrs, db_identifier, Expander};
use super::Kind;
use crate::config::{Region, Role, Spec};
use serde_json::json;
use std::collections::BTreeMap;

impl Expander {
    /// One backup replication per database into each cold standby, from the primary's
    /// database; none without a primary (nothing to replicate from).
    pub(super) fn backup_replications(&mut self, spec: &Spec, roles: &BTreeMap<String, Role>) {
        let role_of = |r: &Region| roles.get(&r.name).copied().unwrap_or(r.role);
        let Some(primary) = spec.regions.iter().find(|r| role_of(r) == Role::Primary) else {
            return;
        };
        let colds = spec
            .regions
            .iter()
            .filter(|r| role_of(r) == Role::ColdStandby);
        for region in colds {
            let r = region.name.as_str();
            for db in &spec.databases {
                let source = db.name.address(Some(&primary.name), "database");
                let source_id =
                    db_identifier(&self.naming.regional(&db.name.slug(), &primary.name));
                let retention = db.settings_in(&primary.name).backup_days;
                self.push(
                    db.name.address(Some(r), "database").child("backups"),
                    Kind::BackupReplication,
                    Some(r),
                    source_id,
                    attrs(json!({
                        "source": source.to_string(),
                        "retention_days": retention,
                    })),
                    BTreeMap::from([("source".to_string(), source)]),
                    vec![],
                );
            }
        }
    }
}
