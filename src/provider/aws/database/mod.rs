//! `Rds`: DB subnet groups, RDS instances (writable primaries, cross-region read replicas and
//! drills' instances restored from a snapshot) and drills' manual DB snapshots (fresh ones and
//! cross-region copies) in one region.
//!
//! Invariant: a primary's master password is standby's (generated into its `DbSecret`, read
//! from there only to create the primary, never stored, logged or reported); replicas and
//! restores inherit theirs, and `ManageMasterUserPassword` is never sent (RDS refuses a
//! replica of a source whose password it manages). Instances carry all their desired tags
//! from the creating call and are found again by identifier (deterministic) or by the
//! `standby:address` tag; subnet groups by their deterministic name. Refresh is one paginated
//! describe per type and region; a replica's `replica_of` is cross-checked against its
//! source across every region read (moto keeps a promoted replica's source set).

use super::attrs::{map, str_attr};
use super::emulator::{self, Emulator};
use super::error::{self, AwsResultExt};
use super::secrets::{self, Password};
use super::tags;
use super::{region_of, AwsProvider};
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

mod backup;
mod instance;
mod refresh;
mod restore;
mod snapshot;
mod subnet_group;
mod wait;
use backup::refresh_backups;
use instance::*;
pub(crate) use refresh::refresh;
use restore::TAG_KEPT;
use snapshot::*;
use subnet_group::*;

/// The master user of every database; its password is in the database's `DbSecret`.
const MASTER_USERNAME: &str = "standby";
/// Automated backups kept, in days, when the desired database does not say (a source of
/// read replicas needs them).
pub(crate) const BACKUP_RETENTION_DAYS: i32 = 7;
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
/// A drill snapshot's `fresh_within` (seconds), which RDS does not report.
const TAG_FRESH_WITHIN: &str = "standby:fresh-within";
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
    /// Whether the emulator workarounds apply (`emulator.rs`).
    pub(crate) emulator: Emulator,
    /// This region's waits, read together (`poll::Batch`).
    pub(crate) waits: Arc<super::poll::Batch<DbInstance>>,
}

impl Rds {
    /// `password`: a primary database's master password (nothing else takes one).
    pub(crate) async fn create(
        &self,
        d: &Desired,
        ctx: &dyn ApplyContext,
        password: Option<&Password>,
    ) -> anyhow::Result<Observed> {
        let mut o = match d.kind {
            Kind::DbSubnetGroup => self.put_subnet_group(d, ctx).await?,
            Kind::Database => self.create_database(d, ctx, password).await?,
            Kind::DbSnapshot => self.create_snapshot(d, ctx).await?,
            Kind::BackupReplication => self.create_backup_replication(d, ctx).await?,
            other => bail!("kind {other:?} is not an RDS resource"),
        };
        o.depends_on = d.dependencies().cloned().collect();
        Ok(o)
    }

    pub(crate) async fn update(
        &self,
        d: &Desired,
        current: &Observed,
        password: Option<&Password>,
    ) -> anyhow::Result<Observed> {
        let mut o = match d.kind {
            Kind::DbSubnetGroup => self.retag_subnet_group(d, current).await?,
            Kind::Database => self.update_database(d, current, password).await?,
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
            // Every setting forces a new replication (`Kind::replace_keys`).
            Kind::BackupReplication => current.clone(),
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
            Kind::BackupReplication => self.delete_backup_replication(current).await,
            other => bail!("kind {other:?} is not an RDS resource"),
        }
    }

    /// Promotes the read replica `identifier` to a standalone, writable instance and waits
    /// until it is available again. Promoting an instance that is no longer a replica
    /// succeeds.
    pub(crate) async fn promote_read_replica(
        &self,
        identifier: &str,
        backup_days: i32,
        address: &Address,
    ) -> anyhow::Result<()> {
        let r = self.region.as_str();
        let promoted = self
            .client
            .promote_read_replica()
            .db_instance_identifier(identifier)
            .backup_retention_period(backup_days)
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
        let instance = self.wait_available(identifier, address).await?;
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

/// Days of automated backups a primary keeps: its `backup_days`, else RDS's default 7.
fn backup_days(d: &Desired) -> i32 {
    d.attrs
        .get("backup_days")
        .and_then(Value::as_i64)
        .map_or(BACKUP_RETENTION_DAYS, |n| n as i32)
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
    if let Some(seconds) = d.attrs.get("fresh_within").and_then(Value::as_u64) {
        let seconds = seconds.to_string();
        tags.push(Tag::builder().key(TAG_FRESH_WITHIN).value(seconds).build());
    }
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

/// The secret a writable primary created empty takes its master password from; `None` for
/// anything else (replicas and restores keep their source's password).
fn primary_secret(d: &Desired, ctx: &dyn ApplyContext) -> anyhow::Result<Option<Observed>> {
    let primary = d.kind == Kind::Database
        && matches!(d.attrs.get("replica_of"), None | Some(Value::Null))
        && restore_from(d)?.is_none();
    if !primary || !d.refs.contains_key("secret") {
        return Ok(None);
    }
    Ok(resolve_refs(d, ctx)?.remove("secret"))
}

/// The database family's handler: DB subnet groups, instances and drills' snapshots, each in
/// its region.
pub(super) struct Databases;

#[async_trait::async_trait]
impl super::handler::KindHandler for Databases {
    async fn refresh(&self, p: &AwsProvider, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        let rds_in = |r: &str| p.rds(r);
        let (mut dbs, backups) =
            tokio::try_join!(refresh(scope, &rds_in), refresh_backups(scope, &rds_in))?;
        dbs.extend(backups);
        Ok(dbs)
    }

    async fn create(
        &self,
        p: &AwsProvider,
        d: &Desired,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let region = region_of(&d.address, d.region.as_deref())?;
        let password = match primary_secret(d, ctx)? {
            Some(secret) => Some(
                p.secrets(secrets::read_region(&secret, region))
                    .password(&secret.id, &d.address)
                    .await?,
            ),
            None => None,
        };
        p.rds(region).create(d, ctx, password.as_ref()).await
    }

    /// A replica becoming standalone is promoted first, then any other change applies.
    async fn update(
        &self,
        p: &AwsProvider,
        d: &Desired,
        current: &Observed,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let region = region_of(&d.address, d.region.as_deref())?;
        let rds = p.rds(region);
        // A database whose password RDS manages moves to the secret's password.
        let unmanage = d.attrs.get("credentials_managed_by_rds") == Some(&Value::Bool(false))
            && current.attrs.get("credentials_managed_by_rds") == Some(&Value::Bool(true));
        let password = match primary_secret(d, ctx)?.filter(|_| unmanage) {
            Some(secret) => Some(
                p.secrets(secrets::read_region(&secret, region))
                    .password(&secret.id, &d.address)
                    .await?,
            ),
            None => None,
        };
        // `standby restore`: the swap, then the replaced instance stopped; a fence's stop.
        if d.attrs.contains_key("restore") || d.attrs.contains_key("stopped") {
            let mut o = match d.attrs.contains_key("restore") {
                true => rds.restore_and_swap(d, current).await?,
                false => rds.stop_with_snapshot(d).await?,
            };
            o.depends_on = d.dependencies().cloned().collect();
            return Ok(o);
        }
        let is_replica = |o: &Map<String, Value>| o.get("replica_of").map(|v| !v.is_null());
        let promoting = d.kind == Kind::Database
            && is_replica(&d.attrs) == Some(false)
            && is_replica(&current.attrs) == Some(true);
        if !promoting {
            return rds.update(d, current, password.as_ref()).await;
        }
        rds.promote_read_replica(&current.id, backup_days(d), &d.address)
            .await?;
        let mut promoted = current.clone();
        promoted.attrs.insert("replica_of".into(), Value::Null);
        rds.update(d, &promoted, password.as_ref()).await
    }

    async fn delete(&self, p: &AwsProvider, current: &Observed) -> anyhow::Result<()> {
        p.rds(region_of(&current.address, current.region.as_deref())?)
            .delete(current)
            .await
    }
}
