//! `Rds`: DB subnet groups, RDS instances (writable primaries, cross-region read replicas and
//! drills' instances restored from a snapshot) and drills' manual DB snapshots (fresh ones and
//! cross-region copies) in one region.
//!
//! Invariant: a database's master password is RDS-managed (`ManageMasterUserPassword`): no
//! password is ever sent, stored, logged or reported. Instances carry all their desired tags
//! from the creating call and are found again by identifier (deterministic) or by the
//! `standby:address` tag; subnet groups by their deterministic name. Refresh is one paginated
//! describe per type and region; a replica's `replica_of` is cross-checked against its
//! source across every region read (moto keeps a promoted replica's source set).

use super::ec2::{map, str_attr};
use super::error::{self, AwsResultExt, AwsSdkError};
use super::tags;
use crate::address::Address;
use crate::provider::{resolve_refs, ApplyContext, Observed, Scope};
use crate::topology::TAG_ADDRESS;
use crate::topology::{Desired, Kind, TAGS};
use anyhow::{anyhow, bail, Context as _};
use aws_sdk_rds::client::Waiters as _;
use aws_sdk_rds::types::{DbInstance, DbSnapshot, DbSubnetGroup, Tag};
use aws_sdk_rds::Client;
use futures::future::try_join_all;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long to wait for an instance to become available or to go away.
const DB_WAIT: Duration = Duration::from_secs(40 * 60);
/// The master user of every database; its password is RDS-managed (Secrets Manager).
const MASTER_USERNAME: &str = "standby";
/// Automated backups kept, in days (a source of read replicas needs them).
const BACKUP_RETENTION_DAYS: i32 = 7;
/// Set on an instance `promote_read_replica` promoted: moto (5.2.5) leaves the promoted
/// instance's source set and its source still lists it, so this tag is what says "no longer
/// a replica" there; real RDS clears the source as well.
pub(crate) const TAG_PROMOTED: &str = "standby:promoted";
/// Drills' marker tags, since RDS does not report these settings: the snapshot address an
/// instance was restored from and whether it takes a final snapshot, and, on a snapshot copy,
/// the address and region of its source (moto reports no `SourceDBSnapshotIdentifier`).
/// With them a refresh reports the attrs the desired resource has.
const TAG_RESTORED_FROM: &str = "standby:restored-from";
const TAG_FINAL_SNAPSHOT: &str = "standby:final-snapshot";
const TAG_COPY_OF: &str = "standby:copy-of";
const TAG_SOURCE_REGION: &str = "standby:source-region";
/// How long to wait for a snapshot (or a cross-region copy) to become available: the copy of
/// a large database takes long, but a drill must not hang forever.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(60 * 60);
/// How long to wait for a deleted snapshot to disappear, and how often to look.
const SNAPSHOT_GONE_WAIT: Duration = Duration::from_secs(5 * 60);
const SNAPSHOT_POLL: Duration = Duration::from_secs(5);
const NO_INSTANCE: &[&str] = &["DBInstanceNotFound", "DBInstanceNotFoundFault"];
const INSTANCE_EXISTS: &[&str] = &["DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault"];
const NO_SNAPSHOT: &[&str] = &["DBSnapshotNotFound", "DBSnapshotNotFoundFault"];
const SNAPSHOT_EXISTS: &[&str] = &["DBSnapshotAlreadyExists", "DBSnapshotAlreadyExistsFault"];
const NO_SUBNET_GROUP: &[&str] = &["DBSubnetGroupNotFoundFault", "DBSubnetGroupNotFound"];

/// The RDS API of one region.
pub(crate) struct Rds {
    pub(crate) client: Client,
    pub(crate) region: String,
    /// Bounds concurrent RDS reads (shared by every region's `Rds`).
    pub(crate) limit: Arc<Semaphore>,
}

impl Rds {
    pub(crate) async fn create(
        &self,
        d: &Desired,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let mut o = match d.kind {
            Kind::DbSubnetGroup => self.put_subnet_group(d, ctx).await?,
            Kind::Database => self.create_database(d, ctx).await?,
            Kind::DbSnapshot => self.create_snapshot(d, ctx).await?,
            other => bail!("kind {other:?} is not an RDS resource"),
        };
        o.depends_on = d.dependencies().cloned().collect();
        Ok(o)
    }

    pub(crate) async fn update(&self, d: &Desired, current: &Observed) -> anyhow::Result<Observed> {
        let mut o = match d.kind {
            Kind::DbSubnetGroup => self.retag_subnet_group(d, current).await?,
            Kind::Database => self.update_database(d, current).await?,
            // A snapshot is immutable but for its tags: any other change is a replacement.
            Kind::DbSnapshot => {
                let settings = |m: &Map<String, Value>| {
                    let mut m = m.clone();
                    m.remove(TAGS);
                    m
                };
                if settings(&d.attrs) != settings(&current.attrs) {
                    bail!(
                        "{}: a DB snapshot cannot change in place; replace it instead",
                        d.address
                    );
                }
                let arn = current.computed.get("arn").and_then(Value::as_str);
                if let Some(arn) = arn {
                    self.retag(
                        arn,
                        &snapshot_tags(d),
                        &tags::removed(d, current),
                        &d.address,
                    )
                    .await?;
                }
                current.clone()
            }
            other => bail!("kind {other:?} is not an RDS resource"),
        };
        o.depends_on = d.dependencies().cloned().collect();
        Ok(o)
    }

    pub(crate) async fn delete(&self, current: &Observed) -> anyhow::Result<()> {
        match current.kind {
            Kind::DbSubnetGroup => {
                self.client
                    .delete_db_subnet_group()
                    .db_subnet_group_name(&current.id)
                    .send()
                    .await
                    .absent_if(
                        NO_SUBNET_GROUP,
                        "DeleteDBSubnetGroup",
                        &self.region,
                        &current.address,
                    )?;
                Ok(())
            }
            Kind::Database => self.delete_database(current).await,
            Kind::DbSnapshot => self.delete_snapshot(current).await,
            other => bail!("kind {other:?} is not an RDS resource"),
        }
    }

    /// Promotes the read replica `identifier` to a standalone, writable instance and waits
    /// until it is available again. Promoting an instance that is no longer a replica
    /// succeeds.
    pub(crate) async fn promote_read_replica(
        &self,
        identifier: &str,
        address: &Address,
    ) -> anyhow::Result<()> {
        let r = self.region.as_str();
        let promoted = self
            .client
            .promote_read_replica()
            .db_instance_identifier(identifier)
            .backup_retention_period(BACKUP_RETENTION_DAYS)
            .send()
            .await;
        match promoted {
            Ok(_) => {}
            Err(e)
                if error::code(&e) == Some("InvalidDBInstanceState")
                    && error::describe(&e).contains("not a read replica") =>
            {
                tracing::info!(%address, identifier, "already promoted");
            }
            Err(e) => return Err(error::failure("PromoteReadReplica", r, address, &e)),
        }
        self.wait_available(identifier, address).await?;
        let instance = self
            .describe_one(identifier, address)
            .await?
            .ok_or_else(|| anyhow!("{address}: {identifier} in {r} disappeared while promoted"))?;
        let arn = instance
            .db_instance_arn()
            .ok_or_else(|| anyhow!("{address}: {identifier} in {r} has no ARN"))?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
        self.client
            .add_tags_to_resource()
            .resource_name(arn)
            .tags(Tag::builder().key(TAG_PROMOTED).value(now).build())
            .send()
            .await
            .op("AddTagsToResource", r, address)?;
        tracing::info!(%address, identifier, region = r, "read replica promoted");
        Ok(())
    }

    // --- subnet groups -------------------------------------------------------------------

    /// Creates the subnet group over every `subnet*` reference, or adopts and modifies one of
    /// its deterministic name that is ours.
    async fn put_subnet_group(
        &self,
        d: &Desired,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let name = str_attr(d, "name")?;
        let refs = resolve_refs(d, ctx)?;
        let subnets: Vec<String> = refs
            .iter()
            .filter(|(k, _)| k.starts_with("subnet"))
            .map(|(_, o)| o.id.clone())
            .collect();
        if subnets.is_empty() {
            bail!("{a}: a DB subnet group needs at least one `subnet` reference");
        }
        let description = format!("standby: {a}");
        {
            let created = self
                .client
                .create_db_subnet_group()
                .db_subnet_group_name(name)
                .db_subnet_group_description(&description)
                .set_subnet_ids(Some(subnets.clone()))
                .set_tags(Some(rds_tags(d)))
                .send()
                .await
                .absent_if(
                    &[
                        "DBSubnetGroupAlreadyExists",
                        "DBSubnetGroupAlreadyExistsFault",
                    ],
                    "CreateDBSubnetGroup",
                    r,
                    a,
                )?;
            if let Some(out) = created {
                if let Some(g) = out.db_subnet_group() {
                    return Ok(subnet_group_observed(g, a.clone(), r, &BTreeMap::new()));
                }
            }
            // Deterministic name: ours from an interrupted apply. Adopt it below.
        }
        {
            let out = self
                .client
                .modify_db_subnet_group()
                .db_subnet_group_name(name)
                .db_subnet_group_description(&description)
                .set_subnet_ids(Some(subnets))
                .send()
                .await
                .op("ModifyDBSubnetGroup", r, a)?;
            let group = out.db_subnet_group().ok_or_else(|| {
                anyhow!("ModifyDBSubnetGroup in {r} failed for {a}: no group in the answer")
            })?;
            if let Some(arn) = group.db_subnet_group_arn() {
                self.ensure_group_ours(d, arn).await?;
                self.retag(arn, &rds_tags(d), &[], a).await?;
            }
            Ok(subnet_group_observed(group, a.clone(), r, &BTreeMap::new()))
        }
    }

    /// A subnet group's one in-place change: its tags (its name is replaced, its subnets
    /// follow the region's zones). ModifyDBSubnetGroup is not needed for that, and moto 5.2.5
    /// loses the group on it.
    async fn retag_subnet_group(
        &self,
        d: &Desired,
        current: &Observed,
    ) -> anyhow::Result<Observed> {
        let arn = current
            .computed
            .get("arn")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                anyhow!(
                    "{}: the subnet group {} has no ARN in the state",
                    d.address,
                    current.id
                )
            })?;
        self.ensure_group_ours(d, arn).await?;
        self.retag(arn, &rds_tags(d), &tags::removed(d, current), &d.address)
            .await?;
        Ok(current.clone())
    }

    /// Refuses a subnet group whose tags name another environment.
    async fn ensure_group_ours(&self, d: &Desired, arn: &str) -> anyhow::Result<()> {
        let live = self.resource_tags(arn, &d.address).await?;
        let ours = tags::owner(&d.tags).unwrap_or_default();
        match tags::owner(&live).filter(|o| *o != ours) {
            None => Ok(()),
            Some(owner) => {
                let what = format!("DB subnet group {} in {}", current_name(arn), self.region);
                let fix = "rename the environment (or the service) so the names differ";
                bail!("{}", tags::conflict(&d.address, &what, &owner, &ours, fix))
            }
        }
    }

    // --- databases -----------------------------------------------------------------------

    async fn create_database(
        &self,
        d: &Desired,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let identifier = str_attr(d, "identifier")?;
        if let Some(found) = self.describe_one(identifier, a).await? {
            // Deterministic identifier: adopt it if it is ours, refuse otherwise.
            ensure_ours(found.tag_list(), d, r, "an RDS instance", identifier)?;
        } else {
            let refs = resolve_refs(d, ctx)?;
            let subnet_group = refs
                .get("subnet_group")
                .map(|o| o.id.clone())
                .ok_or_else(|| anyhow!("{a}: reference `subnet_group` is missing from the spec"))?;
            let instance_class = str_attr(d, "instance_class")?;
            let restore = restore_from(d)?;
            match d.attrs.get("replica_of") {
                _ if restore.is_some() => {
                    self.restore_database(d, &refs, &subnet_group).await?;
                }
                None | Some(Value::Null) => {
                    let engine = str_attr(d, "engine")?;
                    let version = d
                        .attrs
                        .get("engine_version")
                        .and_then(Value::as_str)
                        .filter(|v| !v.is_empty());
                    self.client
                        .create_db_instance()
                        .db_instance_identifier(identifier)
                        .engine(engine)
                        .set_engine_version(version.map(str::to_owned))
                        .db_instance_class(instance_class)
                        .allocated_storage(storage_gb(d)?)
                        .db_subnet_group_name(subnet_group)
                        .storage_encrypted(true)
                        .backup_retention_period(BACKUP_RETENTION_DAYS)
                        .master_username(MASTER_USERNAME)
                        .manage_master_user_password(true)
                        .set_tags(Some(db_tags(d)))
                        .send()
                        .await
                        .map(|_| ())
                        .absent_if(
                            &["DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault"],
                            "CreateDBInstance",
                            r,
                            a,
                        )?;
                }
                Some(Value::String(_)) => {
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
                    // An encrypted source needs a KMS key of this region for a replica
                    // elsewhere: RDS's own default key.
                    let kms = cross_region.then(|| "alias/aws/rds".to_string());
                    let replica = |group: Option<String>| {
                        self.client
                            .create_db_instance_read_replica()
                            .db_instance_identifier(identifier)
                            .source_db_instance_identifier(source_arn)
                            .db_instance_class(instance_class)
                            .set_db_subnet_group_name(group)
                            .set_kms_key_id(kms.clone())
                            .set_tags(Some(db_tags(d)))
                            .send()
                    };
                    let already = &["DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault"];
                    let op = "CreateDBInstanceReadReplica";
                    match replica(Some(subnet_group.clone())).await {
                        Ok(_) => {}
                        Err(e) if error::code(&e).is_some_and(|c| already.contains(&c)) => {}
                        // moto 5.2.5 looks a cross-region replica's subnet group up in the
                        // source's region. When the group does exist here, create the replica
                        // without it and move it into the group: real RDS never gets here.
                        Err(e)
                            if cross_region
                                && error::code(&e)
                                    .is_some_and(|c| NO_SUBNET_GROUP.contains(&c))
                                && self.subnet_group_exists(&subnet_group, a).await? =>
                        {
                            replica(None)
                                .await
                                .map(|_| ())
                                .absent_if(already, op, r, a)?;
                            self.wait_available(identifier, a).await?;
                            self.client
                                .modify_db_instance()
                                .db_instance_identifier(identifier)
                                .db_subnet_group_name(&subnet_group)
                                .apply_immediately(true)
                                .send()
                                .await
                                .op("ModifyDBInstance", r, a)?;
                        }
                        Err(e) => return Err(error::failure(op, r, a, &e)),
                    }
                }
                Some(other) => {
                    bail!("{a}: attribute `replica_of` must be an address or null, not {other}")
                }
            };
        }
        self.wait_available(identifier, a).await?;
        let instance = self
            .describe_one(identifier, a)
            .await?
            .ok_or_else(|| anyhow!("{a}: {identifier} in {r} disappeared while created"))?;
        let mut o = instance_observed(&instance, a.clone(), r);
        align_to_desired(&mut o, d);
        Ok(o)
    }

    async fn update_database(&self, d: &Desired, current: &Observed) -> anyhow::Result<Observed> {
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
            if live.engine_version() != Some(v) {
                let major = |s: &str| s.split('.').next().unwrap_or_default().to_string();
                if live.engine_version().map(major) != Some(major(v)) {
                    tracing::info!(%a, from = ?live.engine_version(), to = v, "major engine version upgrade");
                    req = req.allow_major_version_upgrade(true);
                }
                req = req.engine_version(v);
                changed = true;
            }
        }
        if changed {
            req.send().await.op("ModifyDBInstance", r, a)?;
        }
        if let Some(arn) = live.db_instance_arn() {
            self.retag(arn, &db_tags(d), &tags::removed(d, current), a)
                .await?;
        }
        self.wait_available(identifier, a).await?;
        let instance = self
            .describe_one(identifier, a)
            .await?
            .ok_or_else(|| anyhow!("{a}: {identifier} in {r} disappeared while modified"))?;
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
    async fn delete_database(&self, current: &Observed) -> anyhow::Result<()> {
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
                // moto answers HTTP 500 to deleting a cross-region replica, although the
                // instance is gone: believe a following "not found".
                Err(e) if server_error(&e) => {
                    if self.describe_one(id, a).await?.is_none() {
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
        self.client
            .wait_until_db_instance_deleted()
            .db_instance_identifier(id)
            .wait(DB_WAIT)
            .await
            .map_err(|e| error::wait_failure("deleted", r, a, &e))?;
        Ok(())
    }

    /// Restores a drill's instance from the snapshot `refs["snapshot"]` (one of this region)
    /// instead of creating an empty one: a standalone, writable instance, not a replica.
    async fn restore_database(
        &self,
        d: &Desired,
        refs: &BTreeMap<String, Observed>,
        subnet_group: &str,
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
            .db_subnet_group_name(subnet_group)
            .manage_master_user_password(true)
            .set_tags(Some(db_tags(d)))
            .send()
            .await
            .map(|_| ())
            .absent_if(INSTANCE_EXISTS, "RestoreDBInstanceFromDBSnapshot", r, a)?;
        Ok(())
    }

    // --- snapshots (drills) --------------------------------------------------------------

    /// A drill's manual snapshot: a fresh one of a database of this region (`db_instance`),
    /// or a copy into this region of another region's snapshot (`copy_of`, by its ARN). A
    /// snapshot of that identifier is adopted when it is ours (an interrupted apply).
    async fn create_snapshot(
        &self,
        d: &Desired,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let identifier = str_attr(d, "identifier")?;
        if let Some(found) = self.describe_snapshot(identifier, a).await? {
            ensure_ours(found.tag_list(), d, r, "a DB snapshot", identifier)?;
        } else {
            let db_instance = d.attrs.get("db_instance").and_then(Value::as_str);
            let copy_of = d.attrs.get("copy_of").and_then(Value::as_str);
            match (db_instance, copy_of) {
                (Some(db), None) => {
                    self.client
                        .create_db_snapshot()
                        .db_snapshot_identifier(identifier)
                        .db_instance_identifier(db)
                        .set_tags(Some(snapshot_tags(d)))
                        .send()
                        .await
                        .map(|_| ())
                        .absent_if(SNAPSHOT_EXISTS, "CreateDBSnapshot", r, a)?;
                }
                (None, Some(_)) => {
                    let refs = resolve_refs(d, ctx)?;
                    let source = refs.get("source").ok_or_else(|| {
                        anyhow!("{a}: a snapshot copy needs a `source` reference")
                    })?;
                    let source_arn = source
                        .computed
                        .get("arn")
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            anyhow!(
                                "{a}: the source snapshot {} has no ARN in the state yet",
                                source.address
                            )
                        })?;
                    let source_region = str_attr(d, "source_region")?;
                    // The copy is encrypted with RDS's default key of this region, as
                    // replicas are. Real RDS wants a `PreSignedUrl` (signed in the source
                    // region) for a cross-region copy of an encrypted snapshot, which other
                    // SDKs compute from `SourceRegion`; the Rust SDK has no such
                    // customization and moto needs none. Against real AWS, pass one (or a
                    // `KmsKeyId` of a customer key) here.
                    let kms = (source_region != r).then(|| "alias/aws/rds".to_string());
                    self.client
                        .copy_db_snapshot()
                        .source_db_snapshot_identifier(source_arn)
                        .target_db_snapshot_identifier(identifier)
                        .set_kms_key_id(kms)
                        .set_tags(Some(snapshot_tags(d)))
                        .send()
                        .await
                        .map(|_| ())
                        .absent_if(SNAPSHOT_EXISTS, "CopyDBSnapshot", r, a)?;
                }
                _ => bail!("{a}: a DB snapshot needs exactly one of `db_instance` and `copy_of`"),
            }
        }
        self.client
            .wait_until_db_snapshot_available()
            .db_snapshot_identifier(identifier)
            .wait(SNAPSHOT_WAIT)
            .await
            .map_err(|e| error::wait_failure("the snapshot to be available", r, a, &e))?;
        let snapshot = self
            .describe_snapshot(identifier, a)
            .await?
            .ok_or_else(|| {
                anyhow!("{a}: snapshot {identifier} in {r} disappeared while created")
            })?;
        Ok(snapshot_observed(&snapshot, a.clone(), r))
    }

    /// Deletes a snapshot and waits until it is gone. The SDK's `db_snapshot_deleted` waiter
    /// only knows the `DBSnapshotNotFound` code (moto answers `DBSnapshotNotFoundFault`), so
    /// this polls with every code `NO_SNAPSHOT` lists.
    async fn delete_snapshot(&self, current: &Observed) -> anyhow::Result<()> {
        let (r, a, id) = (self.region.as_str(), &current.address, current.id.as_str());
        let deleted = self
            .client
            .delete_db_snapshot()
            .db_snapshot_identifier(id)
            .send()
            .await
            .absent_if(NO_SNAPSHOT, "DeleteDBSnapshot", r, a)?;
        if deleted.is_none() {
            return Ok(());
        }
        let started = tokio::time::Instant::now();
        loop {
            match self.describe_snapshot(id, a).await? {
                None => return Ok(()),
                Some(s) if s.status() == Some("deleted") => return Ok(()),
                Some(_) if started.elapsed() > SNAPSHOT_GONE_WAIT => bail!(
                    "{a}: snapshot {id} in {r} still exists {SNAPSHOT_GONE_WAIT:?} after its deletion"
                ),
                Some(_) => tokio::time::sleep(SNAPSHOT_POLL).await,
            }
        }
    }

    async fn describe_snapshot(
        &self,
        identifier: &str,
        address: &Address,
    ) -> anyhow::Result<Option<DbSnapshot>> {
        Ok(self
            .client
            .describe_db_snapshots()
            .db_snapshot_identifier(identifier)
            .send()
            .await
            .absent_if(NO_SNAPSHOT, "DescribeDBSnapshots", &self.region, address)?
            .and_then(|o| o.db_snapshots().first().cloned()))
    }

    /// Sets `add` on the resource `arn` and removes the keys `remove` (RDS AddTagsToResource
    /// and RemoveTagsFromResource).
    async fn retag(
        &self,
        arn: &str,
        add: &[Tag],
        remove: &[String],
        a: &Address,
    ) -> anyhow::Result<()> {
        let r = self.region.as_str();
        self.client
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(add.to_vec()))
            .send()
            .await
            .op("AddTagsToResource", r, a)?;
        if !remove.is_empty() {
            self.client
                .remove_tags_from_resource()
                .resource_name(arn)
                .set_tag_keys(Some(remove.to_vec()))
                .send()
                .await
                .op("RemoveTagsFromResource", r, a)?;
        }
        Ok(())
    }

    /// The tags of the resource `arn` (DescribeDBSubnetGroups returns none: RDS
    /// ListTagsForResource).
    async fn resource_tags(
        &self,
        arn: &str,
        subject: &(dyn std::fmt::Display + Sync),
    ) -> anyhow::Result<BTreeMap<String, String>> {
        let out = self
            .client
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .op("ListTagsForResource", &self.region, subject)?;
        Ok(tag_map(out.tag_list()))
    }

    async fn subnet_group_exists(&self, name: &str, address: &Address) -> anyhow::Result<bool> {
        Ok(self
            .client
            .describe_db_subnet_groups()
            .db_subnet_group_name(name)
            .send()
            .await
            .absent_if(
                NO_SUBNET_GROUP,
                "DescribeDBSubnetGroups",
                &self.region,
                address,
            )?
            .is_some())
    }

    async fn wait_available(&self, identifier: &str, address: &Address) -> anyhow::Result<()> {
        self.client
            .wait_until_db_instance_available()
            .db_instance_identifier(identifier)
            .wait(DB_WAIT)
            .await
            .map_err(|e| error::wait_failure("available", &self.region, address, &e))?;
        Ok(())
    }

    async fn describe_one(
        &self,
        identifier: &str,
        address: &Address,
    ) -> anyhow::Result<Option<DbInstance>> {
        Ok(self
            .client
            .describe_db_instances()
            .db_instance_identifier(identifier)
            .send()
            .await
            .absent_if(NO_INSTANCE, "DescribeDBInstances", &self.region, address)?
            .and_then(|o| o.db_instances().first().cloned()))
    }

    // --- paginated describes -------------------------------------------------------------

    async fn list_instances(&self, subject: &str) -> anyhow::Result<Vec<DbInstance>> {
        let _permit = self.limit.acquire().await?;
        let pages = self
            .client
            .describe_db_instances()
            .into_paginator()
            .items()
            .send();
        pages
            .try_collect()
            .await
            .op("DescribeDBInstances", &self.region, &subject)
    }

    /// Manual snapshots only: automated ones and final snapshots are never drills'.
    async fn list_snapshots(&self, subject: &str) -> anyhow::Result<Vec<DbSnapshot>> {
        let _permit = self.limit.acquire().await?;
        let pages = self
            .client
            .describe_db_snapshots()
            .snapshot_type("manual")
            .into_paginator()
            .items()
            .send();
        pages
            .try_collect()
            .await
            .op("DescribeDBSnapshots", &self.region, &subject)
    }

    async fn list_subnet_groups(&self, subject: &str) -> anyhow::Result<Vec<DbSubnetGroup>> {
        let _permit = self.limit.acquire().await?;
        let pages = self
            .client
            .describe_db_subnet_groups()
            .into_paginator()
            .items()
            .send();
        pages
            .try_collect()
            .await
            .op("DescribeDBSubnetGroups", &self.region, &subject)
    }
}

/// Every subnet group the caller knows and every instance tagged for the scope, in every
/// region of the scope: one paginated describe per type and region, regions concurrently;
/// the known drill snapshots too, with one more describe in the regions that hold any (so a
/// refresh without drills costs what it did). `replica_of` is decided once all regions are
/// read (a source may live in another).
pub(crate) async fn refresh(
    scope: &Scope,
    rds_in: &(dyn Fn(&str) -> Rds + Send + Sync),
) -> anyhow::Result<Vec<Observed>> {
    let subject = format!("the refresh of {}/{}", scope.service, scope.environment);
    let snapshot_regions: HashSet<Option<&str>> = scope
        .known
        .iter()
        .filter(|k| k.kind == Kind::DbSnapshot)
        .map(|k| k.region.as_deref())
        .collect();
    let read = try_join_all(scope.regions.iter().map(|region| {
        let rds = rds_in(region);
        let subject = &subject;
        let snapshots =
            snapshot_regions.contains(&Some(region.as_str())) || snapshot_regions.contains(&None);
        async move {
            let snapshots = async {
                if snapshots {
                    rds.list_snapshots(subject).await
                } else {
                    Ok(Vec::new())
                }
            };
            let (groups, instances, snapshots) = tokio::try_join!(
                rds.list_subnet_groups(subject),
                rds.list_instances(subject),
                snapshots
            )?;
            Ok::<_, anyhow::Error>((region.clone(), groups, instances, snapshots))
        }
    }))
    .await?;

    let known_groups: HashMap<(Option<&str>, &str), &Address> = scope
        .known
        .iter()
        .filter(|k| k.kind == Kind::DbSubnetGroup)
        .map(|k| ((k.region.as_deref(), k.name.as_str()), &k.address))
        .collect();
    let known_dbs: HashMap<(Option<&str>, &str), &Address> = scope
        .known
        .iter()
        .filter(|k| k.kind == Kind::Database)
        .map(|k| ((k.region.as_deref(), k.name.as_str()), &k.address))
        .collect();
    let known_db_any: HashMap<&str, &Address> = scope
        .known
        .iter()
        .filter(|k| k.kind == Kind::Database)
        .map(|k| (k.name.as_str(), &k.address))
        .collect();

    // Every instance read, by ARN and by (region, identifier), tagged or not.
    let mut by_arn: HashMap<&str, (&str, &DbInstance)> = HashMap::new();
    let mut by_id: HashMap<(&str, &str), &DbInstance> = HashMap::new();
    for (region, _, instances, _) in &read {
        for i in instances {
            if let Some(arn) = i.db_instance_arn() {
                by_arn.insert(arn, (region.as_str(), i));
            }
            if let Some(id) = i.db_instance_identifier() {
                by_id.insert((region.as_str(), id), i);
            }
        }
    }

    let mut out = Vec::new();
    let mut conflicts = Vec::new();
    let ours = tags::ours(scope);
    let fix = "rename the environment (or the service) so the names differ";
    let mut group_address: HashMap<(&str, &str), Address> = HashMap::new();
    let known_groups = &known_groups;
    let groups = read.iter().flat_map(|(region, groups, _, _)| {
        groups.iter().filter_map(move |g| {
            let name = g.db_subnet_group_name()?;
            let address = known_groups
                .get(&(Some(region.as_str()), name))
                .or_else(|| known_groups.get(&(None, name)))?;
            Some((region, g, name, *address))
        })
    });
    let tagged = try_join_all(groups.map(|(region, g, name, address)| {
        let (rds, subject) = (rds_in(region), &subject);
        async move {
            let arn = g.db_subnet_group_arn().unwrap_or_default();
            let live = rds.resource_tags(arn, subject).await?;
            Ok::<_, anyhow::Error>((region, g, name, address, live))
        }
    }))
    .await?;
    for (region, g, name, address, live) in tagged {
        match tags::owner(&live) {
            Some(owner) if owner != ours => {
                let what = format!("DB subnet group {name} in {region}");
                conflicts.push(tags::conflict(address, &what, &owner, &ours, fix));
            }
            Some(_) => {
                group_address.insert((region.as_str(), name), address.clone());
                out.push(subnet_group_observed(g, address.clone(), region, &live));
            }
            // Untagged: an interrupted creation; the create that follows adopts it.
            None => {}
        }
    }
    let mut db_address: HashMap<(&str, &str), Address> = HashMap::new();
    for (region, _, instances, _) in &read {
        for i in instances {
            let tags = tag_map(i.tag_list());
            let id = i.db_instance_identifier().unwrap_or_default();
            let known = known_dbs.get(&(Some(region.as_str()), id));
            if let (Some(owner), Some(a)) = (tags::foreign(&tags, scope), known) {
                let what = format!("RDS instance {id} in {region}");
                conflicts.push(tags::conflict(a, &what, &owner, &ours, fix));
                continue;
            }
            if tags::owner(&tags).as_ref() != Some(&ours) {
                continue;
            }
            let address = match tags.get(TAG_ADDRESS) {
                Some(a) => Address::new(a.clone()),
                None => match known_dbs.get(&(Some(region.as_str()), id)) {
                    Some(a) => (*a).clone(),
                    None => continue,
                },
            };
            let mut o = instance_observed(i, address, region);
            let mut deps = Vec::new();
            if let Some(g) = i
                .db_subnet_group()
                .and_then(|g| g.db_subnet_group_name())
                .and_then(|n| group_address.get(&(region.as_str(), n)))
            {
                deps.push(g.clone());
            }
            let source = live_source(i, region, &tags, scope, &by_arn, &by_id, &known_db_any);
            if let Some(s) = &source {
                deps.push(s.clone());
            }
            o.attrs.insert(
                "replica_of".into(),
                source.map(|s| json!(s.as_str())).unwrap_or(Value::Null),
            );
            o.depends_on = deps;
            db_address.insert(
                (
                    region.as_str(),
                    i.db_instance_identifier().unwrap_or_default(),
                ),
                o.address.clone(),
            );
            out.push(o);
        }
    }

    // Snapshots: only those the caller knows as snapshots (by tag or by identifier), so a
    // final snapshot carrying its database's tags is never taken for one.
    let known_snapshots: HashMap<(Option<&str>, &str), &Address> = scope
        .known
        .iter()
        .filter(|k| k.kind == Kind::DbSnapshot)
        .map(|k| ((k.region.as_deref(), k.name.as_str()), &k.address))
        .collect();
    let snapshot_addresses: HashSet<&str> = known_snapshots.values().map(|a| a.as_str()).collect();
    for (region, _, _, snapshots) in &read {
        for s in snapshots {
            let tags = tag_map(s.tag_list());
            let id = s.db_snapshot_identifier().unwrap_or_default();
            if tags::foreign(&tags, scope).is_some() {
                continue;
            }
            let address = match tags.get(TAG_ADDRESS) {
                Some(a) if snapshot_addresses.contains(a.as_str()) => Address::new(a.clone()),
                Some(_) => continue,
                None => match known_snapshots
                    .get(&(Some(region.as_str()), id))
                    .or_else(|| known_snapshots.get(&(None, id)))
                {
                    Some(a) => (*a).clone(),
                    None => continue,
                },
            };
            let mut o = snapshot_observed(s, address, region);
            o.depends_on = match tags.get(TAG_COPY_OF) {
                Some(source) => vec![Address::new(source.clone())],
                None => s
                    .db_instance_identifier()
                    .and_then(|db| db_address.get(&(region.as_str(), db)))
                    .cloned()
                    .into_iter()
                    .collect(),
            };
            out.push(o);
        }
    }
    tags::refuse(conflicts)?;
    Ok(out)
}

/// The address of a live replica's source, `None` for a standalone instance. A source in a
/// region that was read must still list the replica; one outside the scope (a region
/// assumed down) cannot be checked and is believed.
fn live_source(
    i: &DbInstance,
    region: &str,
    tags: &BTreeMap<String, String>,
    scope: &Scope,
    by_arn: &HashMap<&str, (&str, &DbInstance)>,
    by_id: &HashMap<(&str, &str), &DbInstance>,
    known: &HashMap<&str, &Address>,
) -> Option<Address> {
    let source = i.read_replica_source_db_instance_identifier()?;
    if tags.contains_key(TAG_PROMOTED) {
        return None;
    }
    let (source_region, source_id) = match source.strip_prefix("arn:") {
        // arn:aws:rds:<region>:<account>:db:<identifier>
        Some(_) => {
            let parts: Vec<&str> = source.split(':').collect();
            (*parts.get(3)?, *parts.last()?)
        }
        None => (region, source),
    };
    let found = by_arn
        .get(source)
        .map(|(_, s)| *s)
        .or_else(|| by_id.get(&(source_region, source_id)).copied());
    match found {
        Some(s) => {
            let me_id = i.db_instance_identifier().unwrap_or_default();
            let me_arn = i.db_instance_arn().unwrap_or_default();
            let listed = s
                .read_replica_db_instance_identifiers()
                .iter()
                .any(|r| r == me_id || r == me_arn);
            if !listed {
                return None;
            }
            tag_map(s.tag_list())
                .get(TAG_ADDRESS)
                .map(|a| Address::new(a.clone()))
                .or_else(|| known.get(source_id).map(|a| (*a).clone()))
        }
        None if !scope.regions.contains(source_region) => {
            known.get(source_id).map(|a| (*a).clone())
        }
        None => None,
    }
}

fn subnet_group_observed(
    g: &DbSubnetGroup,
    address: Address,
    region: &str,
    live: &BTreeMap<String, String>,
) -> Observed {
    let mut computed = Map::new();
    if let Some(arn) = g.db_subnet_group_arn() {
        computed.insert("arn".into(), json!(arn));
    }
    if let Some(vpc) = g.vpc_id() {
        computed.insert("vpc_id".into(), json!(vpc));
    }
    let mut o = Observed {
        address,
        kind: Kind::DbSubnetGroup,
        region: Some(region.to_string()),
        id: g.db_subnet_group_name().unwrap_or_default().to_string(),
        attrs: map([("name", json!(g.db_subnet_group_name()))]),
        computed,
        depends_on: Vec::new(),
    };
    tags::observe(&mut o, live.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    o
}

/// An instance as `Observed`; `replica_of` is `null` here (the caller decides it).
fn instance_observed(i: &DbInstance, address: Address, region: &str) -> Observed {
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
            ("replica_of", Value::Null),
        ]),
        computed,
        depends_on: Vec::new(),
    };
    let tags = tag_map(i.tag_list());
    if let Some(from) = tags.get(TAG_RESTORED_FROM) {
        o.attrs.insert("restore_from".into(), json!(from));
    }
    if let Some(keep) = tags.get(TAG_FINAL_SNAPSHOT) {
        o.attrs
            .insert("final_snapshot".into(), json!(keep != "false"));
    }
    tags::observe(&mut o, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    o
}

/// A snapshot as `Observed`: `copy_of` and `source_region` from its marker tags (a copy),
/// `db_instance` otherwise.
fn snapshot_observed(s: &DbSnapshot, address: Address, region: &str) -> Observed {
    let tags = tag_map(s.tag_list());
    let mut attrs = map([("identifier", json!(s.db_snapshot_identifier()))]);
    match tags.get(TAG_COPY_OF) {
        Some(source) => {
            let source_region = tags
                .get(TAG_SOURCE_REGION)
                .map(String::as_str)
                .or(s.source_region());
            attrs.insert("copy_of".into(), json!(source));
            attrs.insert("source_region".into(), json!(source_region));
        }
        None => {
            attrs.insert("db_instance".into(), json!(s.db_instance_identifier()));
        }
    }
    let mut computed = Map::new();
    if let Some(arn) = s.db_snapshot_arn() {
        computed.insert("arn".into(), json!(arn));
    }
    if let Some(status) = s.status() {
        computed.insert("status".into(), json!(status));
    }
    let mut o = Observed {
        address,
        kind: Kind::DbSnapshot,
        region: Some(region.to_string()),
        id: s.db_snapshot_identifier().unwrap_or_default().to_string(),
        attrs,
        computed,
        depends_on: Vec::new(),
    };
    tags::observe(&mut o, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    o
}

/// After a create or update: `replica_of` as asked (the call succeeded), and
/// `engine_version` left out or `""` when the desired leaves the version to the engine.
fn align_to_desired(o: &mut Observed, d: &Desired) {
    if let Some(v) = d.attrs.get("replica_of") {
        o.attrs.insert("replica_of".into(), v.clone());
    }
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

fn storage_gb(d: &Desired) -> anyhow::Result<i32> {
    d.attrs
        .get("storage_gb")
        .and_then(Value::as_i64)
        .filter(|g| (1..=65536).contains(g))
        .map(|g| g as i32)
        .with_context(|| {
            format!(
                "{}: attribute `storage_gb` must be a number of GB from 1 to 65536",
                d.address
            )
        })
}

/// The name at the end of an RDS ARN (`arn:aws:rds:<region>:<account>:subgrp:<name>`).
fn current_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

fn server_error<E>(e: &AwsSdkError<E>) -> bool {
    e.raw_response().is_some_and(|r| r.status().as_u16() >= 500)
}

fn rds_tags(d: &Desired) -> Vec<Tag> {
    d.tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// A database's tags: the desired ones and the drill marker tags its attrs call for.
fn db_tags(d: &Desired) -> Vec<Tag> {
    let mut tags = rds_tags(d);
    if let Some(from) = d.attrs.get("restore_from").and_then(Value::as_str) {
        tags.push(Tag::builder().key(TAG_RESTORED_FROM).value(from).build());
    }
    if let Some(keep) = d.attrs.get("final_snapshot").and_then(Value::as_bool) {
        let keep = if keep { "true" } else { "false" };
        tags.push(Tag::builder().key(TAG_FINAL_SNAPSHOT).value(keep).build());
    }
    tags
}

/// A snapshot's tags: the desired ones and, on a copy, where it was copied from.
fn snapshot_tags(d: &Desired) -> Vec<Tag> {
    let mut tags = rds_tags(d);
    if let Some(source) = d.attrs.get("copy_of").and_then(Value::as_str) {
        tags.push(Tag::builder().key(TAG_COPY_OF).value(source).build());
        if let Some(region) = d.attrs.get("source_region").and_then(Value::as_str) {
            tags.push(Tag::builder().key(TAG_SOURCE_REGION).value(region).build());
        }
    }
    tags
}

/// The snapshot address a database is restored from; `None` for one created empty or
/// replicated.
fn restore_from(d: &Desired) -> anyhow::Result<Option<&str>> {
    match d.attrs.get("restore_from") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => bail!(
            "{}: attribute `restore_from` must be a snapshot address or null, not {other}",
            d.address
        ),
    }
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// An object with a deterministic name is adopted only when its tags say it is this resource
/// of this environment; anything else of that name is somebody else's.
fn ensure_ours(
    live: &[Tag],
    d: &Desired,
    region: &str,
    what: &str,
    name: &str,
) -> anyhow::Result<()> {
    let a = &d.address;
    let live = tag_map(live);
    let ours = tags::owner(&d.tags).unwrap_or_default();
    if let Some(owner) = tags::owner(&live).filter(|o| *o != ours) {
        let what = format!("{what} named {name} in {region}");
        let fix = "rename the environment (or the service) so the names differ";
        bail!("{}", tags::conflict(a, &what, &owner, &ours, fix));
    }
    match live.get(TAG_ADDRESS) {
        Some(owner) if owner == a.as_str() => Ok(()),
        owner => bail!(
            "{a}: {what} named {name} already exists in {region} and belongs to {}; rename it in the spec or delete that one",
            owner.map(String::as_str).unwrap_or("nothing standby manages")
        ),
    }
}
