//! `standby restore`: a database restored to an earlier point into a new instance, then
//! swapped in under the managed identifier; the instance it replaces is renamed, kept and
//! later stopped with a snapshot. Each step looks at what exists first, so an interrupted
//! restore finishes when run again.
//! (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_RenameInstance.html:
//! "Renaming to replace an existing DB instance")

use super::*;
use crate::topology::derived_identifier;
use aws_smithy_types::DateTime;

/// On the instance being restored until it is swapped in: the address it will serve.
/// It carries no `standby:address` tag until then, so a refresh never sees two instances at
/// one address.
const TAG_RESTORING: &str = "standby:restoring";
/// On an instance a restore replaced: when; its `standby:address` is `<address>.replaced`.
pub(super) const TAG_KEPT: &str = "standby:kept-by-restore";

/// Where a restore takes the data from, as the desired `restore` attribute says it.
enum Point {
    Time(DateTime),
    Latest,
    Snapshot(String),
}

impl Point {
    fn of(d: &Desired) -> anyhow::Result<Point> {
        let r = d.attrs.get("restore").and_then(Value::as_object);
        let field = |k: &str| r.and_then(|r| r.get(k)).and_then(Value::as_str);
        if let Some(t) = field("to_time") {
            let t = DateTime::from_str(t, aws_smithy_types::date_time::Format::DateTime)
                .with_context(|| {
                    format!("{}: `restore.to_time` {t:?} is not RFC 3339", d.address)
                })?;
            return Ok(Point::Time(t));
        }
        if let Some(s) = field("snapshot") {
            return Ok(Point::Snapshot(s.to_string()));
        }
        if r.and_then(|r| r.get("latest")) == Some(&Value::Bool(true)) {
            return Ok(Point::Latest);
        }
        bail!(
            "{}: attribute `restore` names no point (to_time, latest or snapshot)",
            d.address
        )
    }
}

impl Rds {
    /// Restores `current`'s data at the desired point into `<identifier>-restored`, waits for
    /// it, renames `current` to `restore.kept_as` and the restored instance to the managed
    /// identifier (a name is free only once its instance is renamed: "You cannot use an
    /// existing DB instance name when renaming an instance", USER_RenameInstance.html).
    pub(super) async fn restore_and_swap(
        &self,
        d: &Desired,
        current: &Observed,
    ) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let managed = str_attr(d, "identifier")?;
        let restored = derived_identifier(managed, "restored");
        let kept = d
            .attrs
            .get("restore")
            .and_then(|v| v.get("kept_as"))
            .and_then(Value::as_str)
            .with_context(|| format!("{a}: attribute `restore.kept_as` is missing"))?;
        let restoring = |i: &DbInstance| tag_map(i.tag_list()).contains_key(TAG_RESTORING);
        let managed_now = self.describe_one(managed, a).await?;
        if managed_now.as_ref().is_some_and(restoring) {
            // Swapped in already; only its tags were left to set.
        } else {
            if self.describe_one(&restored, a).await?.is_none() {
                self.start_restore(d, current, &restored).await?;
            }
            self.wait_available(&restored, a).await?;
            if managed_now.is_some() {
                let kept_address = a.child("replaced");
                self.rename(managed, kept, a).await?;
                self.mark_kept(kept, &kept_address).await?;
            }
            self.rename(&restored, managed, a).await?;
        }
        let instance = self
            .describe_one(managed, a)
            .await?
            .ok_or_else(|| anyhow!("{a}: {managed} in {r} disappeared while swapped in"))?;
        if let Some(arn) = instance.db_instance_arn() {
            let remove = vec![TAG_RESTORING.to_string()];
            self.retag(arn, &db_tags(d), &remove, a).await?;
        }
        let mut o = instance_observed(&instance, a.clone(), r);
        if let Some(v) = current.attrs.get("replica_of") {
            o.attrs.insert("replica_of".into(), v.clone());
        }
        align_to_desired(&mut o, d);
        Ok(o)
    }

    /// RestoreDBInstanceToPointInTime (`RestoreTime` or `UseLatestRestorableTime`) of the
    /// managed instance, or RestoreDBInstanceFromDBSnapshot, into `target`, placed as the
    /// instance it replaces (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBInstanceToPointInTime.html).
    async fn start_restore(
        &self,
        d: &Desired,
        current: &Observed,
        target: &str,
    ) -> anyhow::Result<()> {
        let (r, a) = (self.region.as_str(), &d.address);
        let source = self
            .describe_one(&current.id, a)
            .await?
            .ok_or_else(|| anyhow!("{a}: {} no longer exists in {r}", current.id))?;
        let group = source
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_name())
            .map(str::to_string);
        let security: Vec<String> = source
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect();
        let security = (!security.is_empty()).then_some(security);
        let mut tags: Vec<Tag> = rds_tags(d)
            .into_iter()
            .filter(|t| t.key() != Some(TAG_ADDRESS))
            .collect();
        tags.push(Tag::builder().key(TAG_RESTORING).value(a.as_str()).build());
        let class = str_attr(d, "instance_class")?;
        match Point::of(d)? {
            Point::Snapshot(id) => self
                .client
                .restore_db_instance_from_db_snapshot()
                .db_instance_identifier(target)
                .db_snapshot_identifier(id)
                .db_instance_class(class)
                .set_db_subnet_group_name(group)
                .set_vpc_security_group_ids(security)
                .publicly_accessible(false)
                .set_tags(Some(tags))
                .send()
                .await
                .map(|_| ())
                .absent_if(INSTANCE_EXISTS, "RestoreDBInstanceFromDBSnapshot", r, a)?,
            point => {
                let (time, latest) = match point {
                    Point::Time(t) => (Some(t), None),
                    _ => (None, Some(true)),
                };
                self.client
                    .restore_db_instance_to_point_in_time()
                    .source_db_instance_identifier(&current.id)
                    .target_db_instance_identifier(target)
                    .set_restore_time(time)
                    .set_use_latest_restorable_time(latest)
                    .db_instance_class(class)
                    .set_db_subnet_group_name(group)
                    .set_vpc_security_group_ids(security)
                    .publicly_accessible(false)
                    .backup_retention_period(backup_days(d))
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map(|_| ())
                    .absent_if(INSTANCE_EXISTS, "RestoreDBInstanceToPointInTime", r, a)?
            }
        };
        Ok(())
    }

    /// ModifyDBInstance `NewDBInstanceIdentifier` with `ApplyImmediately`, then waits until
    /// the old name is gone and the new one available: RDS deletes the old DNS name at once
    /// and the instance is not available until the new one takes effect, about 10 minutes
    /// (USER_RenameInstance.html). A rename already made is not made again.
    async fn rename(&self, from: &str, to: &str, a: &Address) -> anyhow::Result<()> {
        if self.describe_one(from, a).await?.is_some() {
            self.client
                .modify_db_instance()
                .db_instance_identifier(from)
                .new_db_instance_identifier(to)
                .apply_immediately(true)
                .send()
                .await
                .op("ModifyDBInstance", &self.region, a)?;
            tracing::info!(address = %a, region = %self.region, from, to, "instance renamed");
        }
        self.wait_deleted(from, a).await?;
        self.wait_available(to, a).await.map(|_| ())
    }

    /// The replaced instance answers at `<address>.replaced` from now on, marked kept.
    async fn mark_kept(&self, kept: &str, kept_address: &Address) -> anyhow::Result<()> {
        let instance = self
            .describe_one(kept, kept_address)
            .await?
            .ok_or_else(|| anyhow!("{kept_address}: {kept} in {} is gone", self.region))?;
        let arn = instance.db_instance_arn().unwrap_or_default();
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let tags = [
            Tag::builder()
                .key(TAG_ADDRESS)
                .value(kept_address.as_str())
                .build(),
            Tag::builder().key(TAG_KEPT).value(now).build(),
        ];
        self.retag(arn, &tags, &[], kept_address).await
    }

    /// StopDBInstance with `DBSnapshotIdentifier`: the instance stops and leaves a snapshot,
    /// named by the desired `snapshot` (a fence's) or `<identifier>-final` (an instance a
    /// restore kept) (API_StopDBInstance.html). An instance that still has read replicas
    /// cannot stop, so a restore runs this once they are re-created elsewhere. One that is
    /// not available yet (starting: AWS starts a stopped instance after 7 days) is stopped
    /// once it is; one stopping or stopped is only waited for, so a second run stops nothing.
    pub(super) async fn stop_with_snapshot(&self, d: &Desired) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let kept = str_attr(d, "identifier")?;
        let live = self
            .describe_one(kept, a)
            .await?
            .ok_or_else(|| anyhow!("{a}: {kept} no longer exists in {r}"))?;
        let status = live.db_instance_status().unwrap_or_default();
        if !matches!(status, "stopped" | "stopping") {
            if status != "available" {
                self.wait_available(kept, a).await?;
            }
            let snapshot = match d.attrs.get("snapshot").and_then(Value::as_str) {
                Some(name) => name.to_string(),
                None => derived_identifier(kept, "final"),
            };
            self.client
                .stop_db_instance()
                .db_instance_identifier(kept)
                .db_snapshot_identifier(&snapshot)
                .send()
                .await
                .op("StopDBInstance", r, a)?;
            tracing::info!(address = %a, region = r, %snapshot, "instance stopped after a snapshot");
        }
        self.wait_status(kept, a, "stopped").await?;
        let instance = self
            .describe_one(kept, a)
            .await?
            .ok_or_else(|| anyhow!("{a}: {kept} in {r} disappeared while stopped"))?;
        Ok(instance_observed(&instance, a.clone(), r))
    }
}
