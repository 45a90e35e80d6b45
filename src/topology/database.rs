//! Expansion of databases by role: the master password's secret (once per database, in the
//! spec's primary region, replicated to every other region), a DB subnet group and a
//! security group per region holding a database, the writable primary and its read replicas.

use super::expand::{attrs, db_identifier, engine_port, network_address, subnet_address, Expander};
use super::Kind;
use crate::address::Address;
use crate::config::{Component, DatabaseSettings, Region, Role, Spec};
use serde_json::json;
use std::collections::BTreeMap;

impl Expander {
    /// Writable primary, read replicas of it in warm standbys, nothing in cold standbys; one
    /// DB subnet group per region that holds a database.
    pub(super) fn databases(&mut self, spec: &Spec, roles: &BTreeMap<String, Role>) {
        if spec.databases.is_empty() {
            return;
        }
        let role_of = |r: &Region| roles.get(&r.name).copied().unwrap_or(r.role);
        let Some(primary) = spec.regions.iter().find(|r| role_of(r) == Role::Primary) else {
            return;
        };
        let secrets: Vec<Option<Address>> = spec
            .databases
            .iter()
            .map(|db| self.db_secret(spec, db))
            .collect();
        for region in &spec.regions {
            let role = role_of(region);
            if !matches!(role, Role::Primary | Role::WarmStandby) {
                continue;
            }
            let r = region.name.as_str();
            let group = self.db_subnet_group(region);
            for (db, secret) in spec.databases.iter().zip(&secrets) {
                let settings = db.settings_in(r);
                let address = db.name.address(Some(r), "database");
                let identifier = db_identifier(&self.naming.regional(&db.name.slug(), r));
                let mut a = json!({
                    "identifier": identifier,
                    "engine": settings.engine,
                    "instance_class": settings.instance_class,
                    "storage_gb": settings.storage_gb,
                    "replica_of": null,
                });
                if !settings.engine_version.is_empty() {
                    a["engine_version"] = json!(settings.engine_version);
                }
                if role == Role::Primary {
                    a["backup_days"] = json!(settings.backup_days);
                }
                let sg = self.db_security_group(spec, region, db);
                let mut refs = BTreeMap::from([
                    ("subnet_group".to_string(), group.clone()),
                    ("security_group".to_string(), sg),
                ]);
                if role == Role::WarmStandby {
                    let source = db.name.address(Some(&primary.name), "database");
                    a["replica_of"] = json!(source.to_string());
                    refs.insert("source".into(), source);
                } else if let Some(secret) = secret {
                    // Its password, should the primary be created (a replica inherits it),
                    // or should RDS manage it (a database created so earlier: no replica
                    // could be made of it).
                    refs.insert("secret".into(), secret.clone());
                    a[super::reads::CREDENTIALS_MANAGED_BY_RDS] = json!(false);
                }
                let d = self.push(
                    address,
                    Kind::Database,
                    Some(r),
                    identifier,
                    attrs(a),
                    refs,
                    vec![],
                );
                d.prevent_destroy = settings.prevent_destroy;
            }
        }
    }

    /// The region's DB subnet group over all its subnets; returns its address.
    pub(super) fn db_subnet_group(&mut self, region: &Region) -> Address {
        let r = region.name.as_str();
        let group = network_address(r, "db_subnet_group");
        let group_name = db_identifier(&self.naming.regional("db", r));
        let refs = region
            .zones
            .iter()
            .map(|z| (format!("subnet.{z}"), subnet_address(r, z)))
            .collect();
        self.push(
            group.clone(),
            Kind::DbSubnetGroup,
            Some(r),
            group_name.clone(),
            attrs(json!({ "name": group_name })),
            refs,
            vec![],
        );
        group
    }

    /// The database's security group in `region`: its engine's port open to the security
    /// group of every cluster there, nothing else. Without one RDS puts the instance in the
    /// VPC's default group (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html,
    /// `VpcSecurityGroupIds`), which the clusters cannot reach.
    pub(super) fn db_security_group(
        &mut self,
        spec: &Spec,
        region: &Region,
        db: &Component<DatabaseSettings>,
    ) -> Address {
        let r = region.name.as_str();
        let address = db.name.address(Some(r), "database").child("security_group");
        let group_name = self.naming.regional(&format!("{}-db", db.name.slug()), r);
        let mut refs = BTreeMap::from([("vpc".to_string(), network_address(r, "vpc"))]);
        for cluster in &spec.clusters {
            let sg = cluster
                .name
                .address(Some(r), "cluster")
                .child("security_group");
            refs.insert(format!("ingress.{}", cluster.name.slug()), sg);
        }
        self.push(
            address.clone(),
            Kind::SecurityGroup,
            Some(r),
            group_name.clone(),
            attrs(json!({
                "group_name": group_name,
                "port": engine_port(&db.settings_in(r).engine),
                "ingress": "security_groups",
            })),
            refs,
            vec![],
        );
        address
    }

    /// The Secrets Manager secret holding `db`'s master password: at home in the region the
    /// spec names primary (roles change in the state, not in the spec, so a promote leaves it
    /// where it is), replicated to every other region so it stays readable when the primary
    /// region is down. RDS refuses a read replica of a source whose password it manages
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html,
    /// "Limitations"), so standby keeps the password itself.
    fn db_secret(&mut self, spec: &Spec, db: &Component<DatabaseSettings>) -> Option<Address> {
        let home = spec.regions.iter().find(|r| r.role == Role::Primary)?;
        let address = db
            .name
            .address(Some(&home.name), "database")
            .child("secret");
        // Not ending in a hyphen and six characters, which Secrets Manager's partial-ARN
        // lookup would take for its random suffix (CreateSecret, `Name`).
        let name = format!(
            "standby/{}/{}/{}/master",
            self.naming.service,
            self.naming.environment,
            db.name.slug()
        );
        let mut replicas: Vec<&str> = spec
            .regions
            .iter()
            .map(|r| r.name.as_str())
            .filter(|r| *r != home.name)
            .collect();
        replicas.sort();
        let d = self.push(
            address.clone(),
            Kind::DbSecret,
            Some(&home.name),
            name.clone(),
            attrs(json!({ "name": name, "replica_regions": replicas })),
            BTreeMap::new(),
            vec![],
        );
        // Deleting it loses the password of the database and of its final snapshot.
        d.prevent_destroy = db.settings.prevent_destroy;
        Some(address)
    }
}
