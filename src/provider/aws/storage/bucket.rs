//! Buckets: versioned, encrypted, private, created in their own region.

use super::*;

impl S3 {
    // --- buckets -------------------------------------------------------------------------

    pub(crate) async fn create_bucket(&self, d: &Desired) -> anyhow::Result<Observed> {
        let name = str_attr(d, "bucket")?;
        let mut req = self.client.create_bucket().bucket(name);
        if self.region != "us-east-1" {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        // Already in this account: ours from a retried or interrupted apply (adopted and
        // configured), unless its tags name another environment.
        let created = match req.send().await {
            // Names are global: another account holds this one (S3 CreateBucket,
            // `BucketAlreadyExists`: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html).
            Err(e) if error::code(&e) == Some("BucketAlreadyExists") => bail!(
                "{}: bucket name {name} in {} is taken by another AWS account (CreateBucket: BucketAlreadyExists): bucket names are global: set `bucket_name` in the bucket block (or in a region override) to a name of your own",
                d.address,
                self.region
            ),
            res => res,
        }
        .absent_if(
            &["BucketAlreadyOwnedByYou"],
            "CreateBucket",
            &self.region,
            &d.address,
        )?;
        if created.is_none() {
            let live = self.bucket_tags(name, &d.address).await?;
            if let Some(owner) = live.as_ref().and_then(|t| foreign_to(t, d)) {
                let ours = tags::owner(&d.tags).unwrap_or_default();
                let what = format!("bucket {name}");
                let fix = "bucket names are global: rename the component or the environment so the names differ";
                bail!("{}", tags::conflict(&d.address, &what, &owner, &ours, fix));
            }
        }
        self.configure_bucket(d, &[]).await
    }

    /// The bucket's tags; `None` when the bucket does not exist.
    pub(super) async fn bucket_tags(
        &self,
        name: &str,
        subject: &(dyn std::fmt::Display + Sync),
    ) -> anyhow::Result<Option<BTreeMap<String, String>>> {
        let res = self.client.get_bucket_tagging().bucket(name).send().await;
        match res {
            // A bucket without tags answers NoSuchTagSet (S3 GetBucketTagging).
            Err(e) if error::code(&e) == Some("NoSuchTagSet") => Ok(Some(BTreeMap::new())),
            res => Ok(res
                .absent_if(NO_BUCKET, "GetBucketTagging", &self.region, subject)?
                .map(|o| {
                    o.tag_set()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect()
                })),
        }
    }

    /// Versioning, default encryption, the public access block and tags, as desired; tags in
    /// `removed` go, tags others set stay (PutBucketTagging replaces the whole set, so the
    /// live set is read first).
    pub(crate) async fn configure_bucket(
        &self,
        d: &Desired,
        removed: &[String],
    ) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let name = str_attr(d, "bucket")?;
        let versioning = d
            .attrs
            .get("versioning")
            .and_then(Value::as_str)
            .unwrap_or("Enabled");
        let encryption = d
            .attrs
            .get("encryption")
            .and_then(Value::as_str)
            .unwrap_or("AES256");
        let blocked = d
            .attrs
            .get("public_access_blocked")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let mut merged = self.bucket_tags(name, a).await?.unwrap_or_default();
        merged.retain(|k, _| !removed.contains(k));
        merged.extend(d.tags.clone());
        let tags = merged
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()?;
        let put_versioning = async {
            self.client
                .put_bucket_versioning()
                .bucket(name)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::from(versioning))
                        .build(),
                )
                .send()
                .await
                .op("PutBucketVersioning", r, a)
        };
        let put_encryption = async {
            let rule = ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::from(encryption))
                        .build()?,
                )
                .build();
            self.client
                .put_bucket_encryption()
                .bucket(name)
                .server_side_encryption_configuration(
                    ServerSideEncryptionConfiguration::builder()
                        .rules(rule)
                        .build()?,
                )
                .send()
                .await
                .op("PutBucketEncryption", r, a)
        };
        let put_block = async {
            self.client
                .put_public_access_block()
                .bucket(name)
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(blocked)
                        .ignore_public_acls(blocked)
                        .block_public_policy(blocked)
                        .restrict_public_buckets(blocked)
                        .build(),
                )
                .send()
                .await
                .op("PutPublicAccessBlock", r, a)
        };
        let put_tags = async {
            self.client
                .put_bucket_tagging()
                .bucket(name)
                .tagging(Tagging::builder().set_tag_set(Some(tags)).build()?)
                .send()
                .await
                .op("PutBucketTagging", r, a)
        };
        tokio::try_join!(put_versioning, put_encryption, put_block, put_tags)?;
        Ok(Observed {
            address: a.clone(),
            kind: Kind::Bucket,
            region: Some(self.region.clone()),
            id: name.to_string(),
            attrs: bucket_attrs(
                name,
                Some(versioning.to_string()),
                Some(encryption.to_string()),
                blocked,
            ),
            computed: map([("arn", json!(format!("arn:aws:s3:::{name}")))]),
            depends_on: d.dependencies().cloned().collect(),
        })
    }

    /// Deletes every object version and delete marker, then the bucket.
    pub(crate) async fn delete_bucket(&self, current: &Observed) -> anyhow::Result<()> {
        let (r, a, name) = (self.region.as_str(), &current.address, current.id.as_str());
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        loop {
            let Some(page) = self
                .client
                .list_object_versions()
                .bucket(name)
                .set_key_marker(key_marker.clone())
                .set_version_id_marker(version_marker.clone())
                .send()
                .await
                .absent_if(NO_BUCKET, "ListObjectVersions", r, a)?
            else {
                return Ok(());
            };
            let ids = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(
                    page.delete_markers()
                        .iter()
                        .map(|m| (m.key(), m.version_id())),
                )
                .filter_map(|(k, v)| {
                    Some(
                        ObjectIdentifier::builder()
                            .key(k?)
                            .set_version_id(v.map(str::to_owned))
                            .build(),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            for chunk in ids.chunks(1000) {
                let out = self
                    .client
                    .delete_objects()
                    .bucket(name)
                    .delete(
                        Delete::builder()
                            .set_objects(Some(chunk.to_vec()))
                            .quiet(true)
                            .build()?,
                    )
                    .send()
                    .await
                    .op("DeleteObjects", r, a)?;
                if let Some(e) = out.errors().first() {
                    bail!(
                        "DeleteObjects in {r} failed for {a}: {} of {}: {}",
                        out.errors().len(),
                        chunk.len(),
                        e.message().unwrap_or("no message")
                    );
                }
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
        }
        self.client
            .delete_bucket()
            .bucket(name)
            .send()
            .await
            .absent_if(NO_BUCKET, "DeleteBucket", r, a)?;
        Ok(())
    }
}
