//! RDS instances: writable primaries, cross-region read replicas and drills' instances
//! restored from a snapshot.

use super::*;

impl Rds {
    // --- databases -----------------------------------------------------------------------

    pub(super) async fn create_database(
        &self,
        d: &Desired,
        ctx: &dyn ApplyContext,
        password: Option<&Password>,
    ) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let identifier = str_attr(d, "identifier")?;
        if let Some(found) = self.describe_one(identifier, a).await? {
            // Deterministic identifier: adopt it if it is ours, refuse otherwise.
            ensure_ours(found.tag_list(), d, r, "an RDS instance", identifier)?;
        } else {
            let refs = resolve_refs(d, ctx)?;
            let net = Placement::of(d, &refs)?;
            match d.attrs.get("replica_of") {
                _ if restore_from(d)?.is_some() => {
                    self.restore_database(d, &refs, &net).await?;
                }
                _ if d.attrs.contains_key("backup_of") => {
                    self.restore_from_backups(d, &net).await?;
                }
                None | Some(Value::Null) => self.create_primary(d, &net, password).await?,
                Some(Value::String(_)) => self.create_replica(d, &refs, &net).await?,
                Some(other) => {
                    bail!("{a}: attribute `replica_of` must be an address or null, not {other}")
                }
            };
        }
        let instance = self.wait_available(identifier, a).await?;
        let mut o = instance_observed(&instance, a.clone(), r);
        align_to_desired(&mut o, d);
        Ok(o)
    }

    /// A writable, encrypted instance with the master password of its secret: never
    /// `ManageMasterUserPassword`, since RDS refuses read replicas of such a source
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html).
    async fn create_primary(
        &self,
        d: &Desired,
        net: &Placement,
        password: Option<&Password>,
    ) -> anyhow::Result<()> {
        let (r, a) = (self.region.as_str(), &d.address);
        let password = password.ok_or_else(|| {
            anyhow!("{a}: a primary database needs a `secret` reference for its master password")
        })?;
        let identifier = str_attr(d, "identifier")?;
        let instance_class = str_attr(d, "instance_class")?;
        let engine = str_attr(d, "engine")?;
        let version = d
            .attrs
            .get("engine_version")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty());
        let sent = self
            .client
            .create_db_instance()
            .db_instance_identifier(identifier)
            .engine(engine)
            .set_engine_version(version.map(str::to_owned))
            .db_instance_class(instance_class)
            .allocated_storage(storage_gb(d)?)
            .db_subnet_group_name(&net.subnet_group)
            .set_vpc_security_group_ids(net.security_group.clone().map(|g| vec![g]))
            .publicly_accessible(false)
            .storage_encrypted(true)
            .backup_retention_period(backup_days(d))
            .master_username(MASTER_USERNAME)
            .master_user_password(password.expose())
            .set_tags(Some(db_tags(d)))
            .send()
            .await;
        match sent {
            // Emulator workaround (`emulator.rs`): moto stored the instance and failed only
            // its automated snapshot's name.
            Err(e) if self.emulator.on() && emulator::automated_snapshot_clash(&e) => Ok(()),
            other => other
                .map(|_| ())
                .absent_if(INSTANCE_EXISTS, "CreateDBInstance", r, a)
                .map(|_| ()),
        }
    }

    /// A read replica of `refs["source"]`, in this region or another.
    async fn create_replica(
        &self,
        d: &Desired,
        refs: &BTreeMap<String, Observed>,
        net: &Placement,
    ) -> anyhow::Result<()> {
        let (r, a) = (self.region.as_str(), &d.address);
        let identifier = str_attr(d, "identifier")?;
        let instance_class = str_attr(d, "instance_class")?;
        let source = refs
            .get("source")
            .ok_or_else(|| anyhow!("{a}: a read replica needs a `source` reference"))?;
        let source_arn = source
            .computed
            .get("arn")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                anyhow!(
                    "{a}: the source database {} has no ARN in the state yet",
                    source.address
                )
            })?;
        let cross_region = source.region.as_deref() != Some(r);
        // An encrypted source needs a KMS key of this region for a replica elsewhere: RDS's
        // own default key.
        let kms = cross_region.then(|| "alias/aws/rds".to_string());
        let replica = |group: Option<String>| {
            self.client
                .create_db_instance_read_replica()
                .db_instance_identifier(identifier)
                .source_db_instance_identifier(source_arn)
                .db_instance_class(instance_class)
                .set_db_subnet_group_name(group)
                .set_vpc_security_group_ids(net.security_group.clone().map(|g| vec![g]))
                .publicly_accessible(false)
                .set_kms_key_id(kms.clone())
                .set_tags(Some(db_tags(d)))
                .send()
        };
        let (already, op) = (INSTANCE_EXISTS, "CreateDBInstanceReadReplica");
        let subnet_group = &net.subnet_group;
        match replica(Some(subnet_group.clone())).await {
            Ok(_) => {}
            Err(e) if error::code(&e).is_some_and(|c| already.contains(&c)) => {}
            // Emulator workaround (`emulator.rs`): moto looks the group up in the source's
            // region.
            Err(e)
                if self.emulator.on()
                    && cross_region
                    && error::code(&e).is_some_and(|c| NO_SUBNET_GROUP.contains(&c))
                    && self.subnet_group_exists(subnet_group, a).await? =>
            {
                replica(None)
                    .await
                    .map(|_| ())
                    .absent_if(already, op, r, a)?;
                self.join_subnet_group(identifier, subnet_group, a).await?;
            }
            Err(e) => return Err(error::failure(op, r, a, &e)),
        }
        Ok(())
    }

    /// `password`: the secret's, given when the live database's password is managed by RDS
    /// and must move to the secret.
    pub(super) async fn update_database(
        &self,
        d: &Desired,
        current: &Observed,
        password: Option<&Password>,
    ) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let identifier = str_attr(d, "identifier")?;
        let live = self
            .describe_one(identifier, a)
            .await?
            .ok_or_else(|| anyhow!("{a}: {identifier} no longer exists in {r}"))?;
        let mut req = self
            .client
            .modify_db_instance()
            .db_instance_identifier(identifier)
            .apply_immediately(true);
        let mut changed = false;
        let class = str_attr(d, "instance_class")?;
        if live.db_instance_class() != Some(class) {
            req = req.db_instance_class(class);
            changed = true;
        }
        let want = storage_gb(d)?;
        let have = live.allocated_storage().unwrap_or_default();
        if want < have {
            bail!(
                "{a}: storage cannot shrink in place ({have} GB allocated, {want} GB asked); \
                 keep storage_gb at {have} or more"
            );
        }
        if want > have {
            req = req.allocated_storage(want);
            changed = true;
        }
        let version = d
            .attrs
            .get("engine_version")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty());
        if let Some(v) = version {
            // A floor: never a ModifyDBInstance to a lower version than RDS upgraded to.
            let live_version = live.engine_version().map(|l| json!(l));
            if !Kind::Database.fulfils("engine_version", &json!(v), live_version.as_ref()) {
                let major = |s: &str| s.split('.').next().unwrap_or_default().to_string();
                if live.engine_version().map(major) != Some(major(v)) {
                    tracing::info!(%a, from = ?live.engine_version(), to = v, "major engine version upgrade");
                    req = req.allow_major_version_upgrade(true);
                }
                req = req.engine_version(v);
                changed = true;
            }
        }
        let days = d.attrs.get("backup_days").and_then(Value::as_i64);
        if let Some(days) = days.filter(|n| live.backup_retention_period() != Some(*n as i32)) {
            req = req.backup_retention_period(days as i32);
            changed = true;
        }
        let unmanage = d.attrs.get("credentials_managed_by_rds") == Some(&json!(false))
            && live.master_user_secret().is_some();
        if unmanage {
            // RDS deletes its managed secret and takes MasterUserPassword instead, in place
            // (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html,
            // `ManageMasterUserPassword`): then a read replica can be made of it.
            let password = password.ok_or_else(|| {
                anyhow!("{a}: RDS manages its master password; moving it to standby's secret needs the `secret` reference")
            })?;
            req = req
                .manage_master_user_password(false)
                .master_user_password(password.expose());
            changed = true;
        }
        if changed {
            req.send().await.op("ModifyDBInstance", r, a)?;
        }
        if let Some(arn) = live.db_instance_arn() {
            self.retag(arn, &db_tags(d), &tags::removed(d, current), a)
                .await?;
        }
        let instance = self.wait_available(identifier, a).await?;
        let mut o = instance_observed(&instance, a.clone(), r);
        // The source relation does not change in place; keep what the state knew.
        if let Some(v) = current.attrs.get("replica_of") {
            o.attrs.insert("replica_of".into(), v.clone());
        }
        align_to_desired(&mut o, d);
        Ok(o)
    }

    /// A primary leaves a final snapshot `<identifier>-final-<unix seconds>`; a replica
    /// cannot have one. Automated backups are kept.
    pub(super) async fn delete_database(&self, current: &Observed) -> anyhow::Result<()> {
        let (r, a, id) = (self.region.as_str(), &current.address, current.id.as_str());
        let Some(live) = self.describe_one(id, a).await? else {
            return Ok(());
        };
        if live.db_instance_status() != Some("deleting") {
            let live_replica = live.read_replica_source_db_instance_identifier().is_some()
                && !tag_map(live.tag_list()).contains_key(TAG_PROMOTED);
            let state_replica =
                !matches!(current.attrs.get("replica_of"), None | Some(Value::Null));
            // A drill's instance leaves nothing behind: the state says so, or (state lost)
            // its marker tag.
            let no_final = current.attrs.get("final_snapshot") == Some(&Value::Bool(false))
                || tag_map(live.tag_list())
                    .get(TAG_FINAL_SNAPSHOT)
                    .map(String::as_str)
                    == Some("false");
            let mut req = self
                .client
                .delete_db_instance()
                .db_instance_identifier(id)
                // A drill's database (no final snapshot) must leave nothing behind; any
                // other keeps its automated backups for a point-in-time restore.
                .delete_automated_backups(no_final);
            let mut snapshot = None;
            if (live_replica && state_replica) || no_final {
                req = req.skip_final_snapshot(true);
            } else {
                let secs = time::OffsetDateTime::now_utc().unix_timestamp();
                let name = format!("{id}-final-{secs}");
                req = req
                    .skip_final_snapshot(false)
                    .final_db_snapshot_identifier(&name);
                snapshot = Some(name);
            }
            match req.send().await {
                Ok(_) => {}
                Err(e) if error::code(&e).is_some_and(|c| NO_INSTANCE.contains(&c)) => {
                    return Ok(());
                }
                // Emulator workaround (`emulator.rs`): moto answers HTTP 500 to deleting a
                // cross-region replica it did delete.
                Err(e) if self.emulator.on() && emulator::server_error(&e) => {
                    if self.gone_after_server_error(id, a).await? {
                        return Ok(());
                    }
                    return Err(error::failure("DeleteDBInstance", r, a, &e));
                }
                Err(e) => return Err(error::failure("DeleteDBInstance", r, a, &e)),
            }
            if let Some(name) = snapshot {
                tracing::info!(address = %a, region = r, snapshot = %name, "final snapshot taken");
            }
        }
        self.wait_deleted(id, a).await
    }

    /// Restores a drill's instance from the snapshot `refs["snapshot"]` (one of this region)
    /// instead of creating an empty one: a standalone, writable instance, not a replica.
    pub(super) async fn restore_database(
        &self,
        d: &Desired,
        refs: &BTreeMap<String, Observed>,
        net: &Placement,
    ) -> anyhow::Result<()> {
        let (r, a) = (self.region.as_str(), &d.address);
        if !matches!(d.attrs.get("replica_of"), None | Some(Value::Null)) {
            bail!("{a}: a database restored from a snapshot cannot be a read replica; set `replica_of` to null");
        }
        let snapshot = refs
            .get("snapshot")
            .ok_or_else(|| anyhow!("{a}: a restored database needs a `snapshot` reference"))?;
        if snapshot.region.as_deref() != Some(r) {
            bail!(
                "{a}: the snapshot {} is in {}, not in {r}; restore from a copy made in {r}",
                snapshot.address,
                snapshot.region.as_deref().unwrap_or("no region")
            );
        }
        self.client
            .restore_db_instance_from_db_snapshot()
            .db_instance_identifier(str_attr(d, "identifier")?)
            .db_snapshot_identifier(&snapshot.id)
            .db_instance_class(str_attr(d, "instance_class")?)
            .db_subnet_group_name(&net.subnet_group)
            .set_vpc_security_group_ids(net.security_group.clone().map(|g| vec![g]))
            .publicly_accessible(false)
            // The snapshot's master password stays: `ManageMasterUserPassword` is for Oracle
            // only here (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBInstanceFromDBSnapshot.html).
            .set_tags(Some(db_tags(d)))
            .send()
            .await
            .map(|_| ())
            .absent_if(INSTANCE_EXISTS, "RestoreDBInstanceFromDBSnapshot", r, a)?;
        Ok(())
    }
}

/// Where an instance lives: its DB subnet group and its security group. Sent on every create,
/// replica and restore: without `VpcSecurityGroupIds` RDS uses the VPC's default group, and
/// without `PubliclyAccessible=false` an instance in a VPC with an internet gateway is public
/// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html).
pub(super) struct Placement {
    pub(super) subnet_group: String,
    /// Always given by the topology; a hand-built desired without it gets the VPC's default.
    pub(super) security_group: Option<String>,
}

impl Placement {
    fn of(d: &Desired, refs: &BTreeMap<String, Observed>) -> anyhow::Result<Placement> {
        let id = |name: &str| {
            refs.get(name).map(|o| o.id.clone()).ok_or_else(|| {
                anyhow!("{}: reference `{name}` is missing from the spec", d.address)
            })
        };
        Ok(Placement {
            subnet_group: id("subnet_group")?,
            security_group: refs.get("security_group").map(|o| o.id.clone()),
        })
    }
}

/// An instance as `Observed`; `replica_of` is `null` here (the caller decides it).
pub(super) fn instance_observed(i: &DbInstance, address: Address, region: &str) -> Observed {
    let mut computed = Map::new();
    if let Some(arn) = i.db_instance_arn() {
        computed.insert("arn".into(), json!(arn));
    }
    if let Some(e) = i.endpoint() {
        if let (Some(host), Some(port)) = (e.address(), e.port()) {
            computed.insert("endpoint".into(), json!(format!("{host}:{port}")));
        }
    }
    if let Some(s) = i.db_instance_status() {
        computed.insert("status".into(), json!(s));
    }
    // What a point-in-time restore can reach (`standby restore` checks its time against them).
    let time = |t: Option<&aws_smithy_types::DateTime>| {
        t.and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
    };
    if let Some(t) = time(i.latest_restorable_time()) {
        computed.insert("latest_restorable".into(), json!(t));
    }
    if let Some(t) = time(i.instance_create_time()) {
        computed.insert("created".into(), json!(t));
    }
    let mut o = Observed {
        address,
        kind: Kind::Database,
        region: Some(region.to_string()),
        id: i.db_instance_identifier().unwrap_or_default().to_string(),
        attrs: map([
            ("identifier", json!(i.db_instance_identifier())),
            ("engine", json!(i.engine())),
            ("engine_version", json!(i.engine_version())),
            ("instance_class", json!(i.db_instance_class())),
            ("storage_gb", json!(i.allocated_storage())),
            ("backup_days", json!(i.backup_retention_period())),
            ("replica_of", Value::Null),
            (
                "credentials_managed_by_rds",
                json!(i.master_user_secret().is_some()),
            ),
        ]),
        computed,
        depends_on: Vec::new(),
    };
    let tags = tag_map(i.tag_list());
    if let Some(from) = tags.get(TAG_RESTORED_FROM) {
        o.attrs.insert("restore_from".into(), json!(from));
    }
    if tags.contains_key(TAG_KEPT) {
        o.attrs.insert("kept".into(), json!(true));
    }
    if let Some(keep) = tags.get(TAG_FINAL_SNAPSHOT) {
        o.attrs
            .insert("final_snapshot".into(), json!(keep != "false"));
    }
    tags::observe(&mut o, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    o
}

/// After a create or update: `replica_of` as asked (the call succeeded), and
/// `engine_version` left out or `""` when the desired leaves the version to the engine.
pub(super) fn align_to_desired(o: &mut Observed, d: &Desired) {
    if let Some(v) = d.attrs.get("replica_of") {
        o.attrs.insert("replica_of".into(), v.clone());
    }
    // Creation-only settings, never read back.
    o.attrs.remove("restore_backup");
    o.attrs.remove("backup_of");
    o.attrs.remove("restore");
    // Drills' settings RDS does not report: as asked (the call carried them).
    for key in ["restore_from", "final_snapshot"] {
        match d.attrs.get(key) {
            Some(v) => o.attrs.insert(key.into(), v.clone()),
            None => o.attrs.remove(key),
        };
    }
    match d.attrs.get("engine_version") {
        None => {
            o.attrs.remove("engine_version");
        }
        Some(Value::String(s)) if s.is_empty() => {
            o.attrs.insert("engine_version".into(), json!(""));
        }
        Some(_) => {}
    }
}
