//! Drills' manual DB snapshots: fresh ones and cross-region copies.

use super::*;

impl Rds {
    // --- snapshots (drills) --------------------------------------------------------------

    /// A drill's manual snapshot: a fresh one of a database of this region (`db_instance`),
    /// or a copy into this region of another region's snapshot (`copy_of`, by its ARN). A
    /// snapshot of that identifier is adopted when it is ours (an interrupted apply).
    pub(super) async fn create_snapshot(
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
                (Some(db), None) => match self.recent_automated(d, db).await? {
                    Some(automated) => {
                        self.client
                            .copy_db_snapshot()
                            .source_db_snapshot_identifier(automated)
                            .target_db_snapshot_identifier(identifier)
                            .set_tags(Some(snapshot_tags(d)))
                            .send()
                            .await
                            .map(|_| ())
                            .absent_if(SNAPSHOT_EXISTS, "CopyDBSnapshot", r, a)?;
                    }
                    None => {
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
                },
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

    /// The latest automated snapshot of the Single-AZ instance `db` when it is at most
    /// `fresh_within` old: a manual snapshot of a Single-AZ instance suspends its I/O for
    /// seconds to minutes, a copy of an automated one does not
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_CreateSnapshot.html,
    /// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_CopySnapshot.html). A
    /// Multi-AZ instance is snapshotted from its standby, without suspension.
    async fn recent_automated(&self, d: &Desired, db: &str) -> anyhow::Result<Option<String>> {
        let (r, a) = (self.region.as_str(), &d.address);
        let Some(max_age) = d.attrs.get("fresh_within").and_then(Value::as_u64) else {
            return Ok(None);
        };
        let Some(instance) = self.describe_one(db, a).await? else {
            return Ok(None);
        };
        if instance.multi_az() == Some(true) {
            return Ok(None);
        }
        let out = self
            .client
            .describe_db_snapshots()
            .db_instance_identifier(db)
            .snapshot_type("automated")
            .send()
            .await
            .op("DescribeDBSnapshots", r, a)?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        Ok(latest_fresh(out.db_snapshots(), now, max_age))
    }

    /// Deletes a snapshot and waits until it is gone. The SDK's `db_snapshot_deleted` waiter
    /// only knows the `DBSnapshotNotFound` code (moto answers `DBSnapshotNotFoundFault`), so
    /// this polls with every code `NO_SNAPSHOT` lists.
    pub(super) async fn delete_snapshot(&self, current: &Observed) -> anyhow::Result<()> {
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

    pub(super) async fn describe_snapshot(
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
}

/// The identifier of the latest available snapshot of `snapshots` taken at most `max_age`
/// seconds before `now` (Unix seconds).
fn latest_fresh(snapshots: &[DbSnapshot], now: i64, max_age: u64) -> Option<String> {
    snapshots
        .iter()
        .filter(|s| s.status() == Some("available"))
        .filter_map(|s| {
            Some((
                s.snapshot_create_time()?.secs(),
                s.db_snapshot_identifier()?,
            ))
        })
        .filter(|(taken, _)| now.saturating_sub(*taken) <= max_age as i64)
        .max_by_key(|(taken, _)| *taken)
        .map(|(_, id)| id.to_string())
}

/// A snapshot as `Observed`: `copy_of` and `source_region` from its marker tags (a copy),
/// `db_instance` otherwise, and `fresh_within` from its tag.
pub(super) fn snapshot_observed(s: &DbSnapshot, address: Address, region: &str) -> Observed {
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
    if let Some(seconds) = tags
        .get(TAG_FRESH_WITHIN)
        .and_then(|t| t.parse::<u64>().ok())
    {
        attrs.insert("fresh_within".into(), json!(seconds));
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::DateTime;

    fn snapshot(id: &str, taken: i64, status: &str) -> DbSnapshot {
        DbSnapshot::builder()
            .db_snapshot_identifier(id)
            .snapshot_create_time(DateTime::from_secs(taken))
            .status(status)
            .build()
    }

    #[test]
    fn the_latest_available_snapshot_within_the_age_is_copied() {
        let now = 10_000;
        let all = [
            snapshot("rds:old", now - 900, "available"),
            snapshot("rds:recent", now - 200, "available"),
            snapshot("rds:running", now - 10, "creating"),
        ];
        assert_eq!(latest_fresh(&all, now, 300).as_deref(), Some("rds:recent"));
        assert_eq!(latest_fresh(&all, now, 100), None, "too old for the RPO");
        assert_eq!(latest_fresh(&[], now, 300), None);
    }
}
