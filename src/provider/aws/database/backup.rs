//! Cross-Region automated backups replication: the primary's automated backups kept in a
//! cold standby (made, read and stopped in the destination region, as
//! terraform-provider-aws's `aws_db_instance_automated_backups_replication` does), and a
//! database restored from them at their latest restorable time.
//! (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReplicateBackups.html)

use super::super::poll::{self, Pace, Reading};
use super::*;
use aws_sdk_rds::types::DbInstanceAutomatedBackup;
use aws_smithy_types::date_time::Format;

/// The RDS default key of the destination region: replicated backups of an encrypted source
/// need a key there (API_StartDBInstanceAutomatedBackupsReplication.html, `KmsKeyId`).
const DEFAULT_KMS: &str = "alias/aws/rds";
const NO_BACKUP: &[&str] = &[
    "DBInstanceAutomatedBackupNotFound",
    "DBInstanceAutomatedBackupNotFoundFault",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
];

impl Rds {
    /// Every automated backup this region holds, its own and those replicated into it.
    pub(super) async fn list_automated_backups(
        &self,
        subject: &(dyn std::fmt::Display + Sync),
    ) -> anyhow::Result<Vec<DbInstanceAutomatedBackup>> {
        let _permit = self.limit.acquire().await?;
        let pages = self
            .client
            .describe_db_instance_automated_backups()
            .into_paginator()
            .items()
            .send();
        pages
            .try_collect()
            .await
            .op("DescribeDBInstanceAutomatedBackups", &self.region, subject)
    }

    /// The backups of `source_arn` replicated into this region, if replicating.
    async fn replicated_from(
        &self,
        source_arn: &str,
        a: &Address,
    ) -> anyhow::Result<Option<DbInstanceAutomatedBackup>> {
        let all = self.list_automated_backups(a).await?;
        Ok(all
            .into_iter()
            .find(|b| b.db_instance_arn() == Some(source_arn) && replicating(b)))
    }

    /// StartDBInstanceAutomatedBackupsReplication in this (the destination) region, then waits
    /// for `replicating`; a replication already running is adopted.
    pub(super) async fn create_backup_replication(
        &self,
        d: &Desired,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let refs = resolve_refs(d, ctx)?;
        let source = refs
            .get("source")
            .ok_or_else(|| anyhow!("{a}: a backup replication needs a `source` reference"))?;
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
        let retention = retention_days(d)?;
        if self.replicated_from(source_arn, a).await?.is_none() {
            let started = self
                .client
                .start_db_instance_automated_backups_replication()
                .source_db_instance_arn(source_arn)
                .backup_retention_period(retention)
                .kms_key_id(DEFAULT_KMS)
                .customize()
                .config_override(self.emulator.no_retries())
                .send()
                .await;
            match started {
                Ok(_) => {}
                // Emulator workaround (`emulator.rs`): moto lacks the operation.
                Err(e) if self.emulator.on() && emulator::not_implemented(&e) => {
                    return Ok(emulator::backup_replication(d, &source.id, retention, r));
                }
                Err(e) => {
                    return Err(error::failure(
                        "StartDBInstanceAutomatedBackupsReplication",
                        r,
                        a,
                        &e,
                    ))
                }
            }
        }
        let backup = self.wait_replicating(source_arn, a).await?;
        let mut o = backup_observed(&backup, a.clone(), r, Some(&source.address));
        o.attrs
            .insert("source".into(), json!(source.address.to_string()));
        Ok(o)
    }

    /// Waits until the replicated backups read `replicating` (through `pending`; AWS has
    /// written the status in either case: terraform-provider-aws compares upper-cased).
    async fn wait_replicating(
        &self,
        source_arn: &str,
        a: &Address,
    ) -> anyhow::Result<DbInstanceAutomatedBackup> {
        let r = self.region.as_str();
        poll::until(
            Pace::database(self.emulator),
            "replicating",
            r,
            a,
            || async {
                let read = self
                    .client
                    .describe_db_instance_automated_backups()
                    .send()
                    .await;
                let out = match read {
                    Ok(o) => o,
                    Err(e) => {
                        return poll::soft(e, NO_BACKUP, "DescribeDBInstanceAutomatedBackups", r, a)
                    }
                };
                let found = out
                    .db_instance_automated_backups()
                    .iter()
                    .find(|b| b.db_instance_arn() == Some(source_arn) && b.region() != Some(r));
                Ok(match found {
                    Some(b) if replicating(b) => Reading::Ready(b.clone()),
                    Some(b) => Reading::NotYet(b.status().unwrap_or("pending").to_lowercase()),
                    None => Reading::NotYet("not listed".into()),
                })
            },
        )
        .await
    }

    /// StopDBInstanceAutomatedBackupsReplication in the destination region; what is no longer
    /// replicating is done. The backups already replicated stay until their retention ends.
    pub(super) async fn delete_backup_replication(&self, current: &Observed) -> anyhow::Result<()> {
        let (r, a) = (self.region.as_str(), &current.address);
        let Some(source_arn) = current.computed.get("source_arn").and_then(Value::as_str) else {
            return Ok(());
        };
        if emulator::is_emulated_backup_replication(current) {
            return Ok(());
        }
        self.client
            .stop_db_instance_automated_backups_replication()
            .source_db_instance_arn(source_arn)
            .send()
            .await
            .map(|_| ())
            .absent_if(NO_BACKUP, "StopDBInstanceAutomatedBackupsReplication", r, a)?;
        Ok(())
    }

    /// Restores `d` from the backups of the database `backup_of` replicated into this region,
    /// at their latest restorable time: a standalone, writable instance
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBInstanceToPointInTime.html,
    /// `SourceDBInstanceAutomatedBackupsArn`, `UseLatestRestorableTime`).
    pub(super) async fn restore_from_backups(
        &self,
        d: &Desired,
        net: &Placement,
    ) -> anyhow::Result<()> {
        let (r, a) = (self.region.as_str(), &d.address);
        let source = str_attr(d, "backup_of")?;
        let all = self.list_automated_backups(a).await?;
        let backup = all
            .iter()
            .filter(|b| b.region() != Some(r) && replicating(b))
            .find(|b| b.db_instance_identifier() == Some(source))
            .and_then(|b| b.db_instance_automated_backups_arn())
            .ok_or_else(|| {
                anyhow!("{a}: no backups of {source} are replicated into {r} (DescribeDBInstanceAutomatedBackups): restore from a snapshot instead")
            })?;
        let retention = d
            .attrs
            .get("backup_days")
            .and_then(Value::as_i64)
            .map(|n| n as i32);
        self.client
            .restore_db_instance_to_point_in_time()
            .target_db_instance_identifier(str_attr(d, "identifier")?)
            .source_db_instance_automated_backups_arn(backup)
            .use_latest_restorable_time(true)
            .db_instance_class(str_attr(d, "instance_class")?)
            .db_subnet_group_name(&net.subnet_group)
            .set_vpc_security_group_ids(net.security_group.clone().map(|g| vec![g]))
            .publicly_accessible(false)
            .manage_master_user_password(true)
            .set_backup_retention_period(retention)
            .set_tags(Some(db_tags(d)))
            .send()
            .await
            .map(|_| ())
            .absent_if(INSTANCE_EXISTS, "RestoreDBInstanceToPointInTime", r, a)?;
        Ok(())
    }
}

/// `retention_days` as RDS takes it: 1 to 35.
fn retention_days(d: &Desired) -> anyhow::Result<i32> {
    d.attrs
        .get("retention_days")
        .and_then(Value::as_i64)
        .filter(|n| (1..=35).contains(n))
        .map(|n| n as i32)
        .with_context(|| {
            format!(
                "{}: attribute `retention_days` must be a number of days from 1 to 35",
                d.address
            )
        })
}

/// Whether replicated backups are being kept up to date (`replicating`; AWS has answered
/// in either case, so compared without case, as terraform-provider-aws does).
fn replicating(b: &DbInstanceAutomatedBackup) -> bool {
    b.status()
        .is_some_and(|s| s.eq_ignore_ascii_case("replicating"))
}

/// Replicated backups as `Observed`; `source` is the source database's address when known,
/// else its identifier (which differs from any address: a replacement).
fn backup_observed(
    b: &DbInstanceAutomatedBackup,
    address: Address,
    region: &str,
    source: Option<&Address>,
) -> Observed {
    let mut computed = Map::new();
    let time =
        |t: Option<&aws_smithy_types::DateTime>| t.and_then(|t| t.fmt(Format::DateTime).ok());
    if let Some(arn) = b.db_instance_automated_backups_arn() {
        computed.insert("arn".into(), json!(arn));
    }
    if let Some(arn) = b.db_instance_arn() {
        computed.insert("source_arn".into(), json!(arn));
    }
    if let Some(w) = b.restore_window() {
        if let Some(t) = time(w.latest_time()) {
            computed.insert("latest_restorable".into(), json!(t));
        }
        if let Some(t) = time(w.earliest_time()) {
            computed.insert("earliest_restorable".into(), json!(t));
        }
    }
    let source = source
        .map(ToString::to_string)
        .or_else(|| b.db_instance_identifier().map(str::to_string));
    Observed {
        address,
        kind: Kind::BackupReplication,
        region: Some(region.to_string()),
        id: b
            .db_instance_automated_backups_arn()
            .unwrap_or_default()
            .to_string(),
        attrs: map([
            ("source", json!(source)),
            ("retention_days", json!(b.backup_retention_period())),
        ]),
        computed,
        depends_on: Vec::new(),
    }
}

/// The backup replications in every region of the scope that is known to hold one: one
/// paginated describe per such region. Found by the state's id (the replicated backups'
/// ARN) or by the source database's identifier (the desired resource's name).
pub(crate) async fn refresh_backups(
    scope: &Scope,
    rds_in: &(dyn Fn(&str) -> Rds + Send + Sync),
) -> anyhow::Result<Vec<Observed>> {
    let known: Vec<&crate::provider::KnownResource> = scope
        .known
        .iter()
        .filter(|k| k.kind == Kind::BackupReplication)
        .collect();
    let source_of: HashMap<&str, &Address> = scope
        .known
        .iter()
        .filter(|k| k.kind == Kind::Database)
        .map(|k| (k.name.as_str(), &k.address))
        .collect();
    let regions: Vec<&String> = scope
        .regions
        .iter()
        .filter(|r| {
            known
                .iter()
                .any(|k| k.region.as_deref() == Some(r.as_str()))
        })
        .collect();
    let subject = format!("the refresh of {}/{}", scope.service, scope.environment);
    let read = try_join_all(regions.iter().map(|region| {
        let (rds, subject) = (rds_in(region), &subject);
        async move {
            Ok::<_, anyhow::Error>((region.as_str(), rds.list_automated_backups(subject).await?))
        }
    }))
    .await?;
    let mut out = Vec::new();
    for (region, backups) in &read {
        let here: Vec<&&crate::provider::KnownResource> = known
            .iter()
            .filter(|k| k.region.as_deref() == Some(*region))
            .collect();
        for b in backups
            .iter()
            .filter(|b| replicating(b) && b.region() != Some(*region))
        {
            let arn = b.db_instance_automated_backups_arn().unwrap_or_default();
            let identifier = b.db_instance_identifier().unwrap_or_default();
            let by_arn = here.iter().find(|k| k.name == arn);
            let by_name = || here.iter().find(|k| k.name == identifier);
            let Some(k) = by_arn.or_else(by_name) else {
                continue;
            };
            let source = source_of.get(identifier).copied();
            out.push(backup_observed(b, k.address.clone(), region, source));
        }
        let listed: HashSet<&Address> = out.iter().map(|o| &o.address).collect();
        let emulated = here
            .iter()
            .filter(|k| !listed.contains(&k.address))
            .filter_map(|k| emulator::emulated_backup_replication(k, &source_of));
        out.extend(emulated.collect::<Vec<_>>());
    }
    Ok(out)
}
