//! Cross-region replication of a bucket.

use super::*;

impl S3 {
    // --- replication ---------------------------------------------------------------------

    pub(crate) async fn put_replication(
        &self,
        d: &Desired,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let source = str_attr(d, "bucket")?;
        let role_arn = match d.attrs.get("role_arn").and_then(Value::as_str) {
            Some(arn) => arn.to_string(),
            None => {
                let refs = resolve_refs(d, ctx)?;
                let role = refs.get("role").ok_or_else(|| {
                    anyhow!("{a}: neither `role_arn` nor a `role` reference is given")
                })?;
                role.computed
                    .get("arn")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        anyhow!("{a}: the role {} has no arn in the state", role.address)
                    })?
                    .to_string()
            }
        };
        let destinations = destinations_attr(d)?;
        let rules = destinations
            .iter()
            .enumerate()
            .map(|(i, dest)| {
                ReplicationRule::builder()
                    .id(dest.bucket.clone())
                    .priority(i as i32 + 1)
                    .status(ReplicationRuleStatus::Enabled)
                    .filter(ReplicationRuleFilter::builder().prefix("").build())
                    .delete_marker_replication(
                        DeleteMarkerReplication::builder()
                            .status(DeleteMarkerReplicationStatus::Disabled)
                            .build(),
                    )
                    .destination(
                        Destination::builder()
                            .bucket(format!("arn:aws:s3:::{}", dest.bucket))
                            .storage_class(StorageClass::from(dest.storage_class.as_str()))
                            .build()?,
                    )
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.client
            .put_bucket_replication()
            .bucket(source)
            .replication_configuration(
                ReplicationConfiguration::builder()
                    .role(&role_arn)
                    .set_rules(Some(rules))
                    .build()?,
            )
            .send()
            .await
            .op("PutBucketReplication", r, a)?;
        let mut attrs = map([
            ("bucket", json!(source)),
            (
                "destinations",
                crate::topology::reads::destinations_value(&destinations),
            ),
        ]);
        if d.attrs.contains_key("role_arn") {
            attrs.insert("role_arn".into(), json!(role_arn));
        }
        Ok(Observed {
            address: a.clone(),
            kind: Kind::BucketReplication,
            region: Some(self.region.clone()),
            id: source.to_string(),
            attrs,
            computed: map([("role_arn", json!(role_arn))]),
            depends_on: d.dependencies().cloned().collect(),
        })
    }

    pub(crate) async fn delete_replication(&self, current: &Observed) -> anyhow::Result<()> {
        self.client
            .delete_bucket_replication()
            .bucket(&current.id)
            .send()
            .await
            .absent_if(
                NO_BUCKET,
                "DeleteBucketReplication",
                &self.region,
                &current.address,
            )?;
        Ok(())
    }
}

/// `bucket`, `destinations`, and `role_arn` when the role is not one standby manages (not
/// under the `/standby/` path): the spec gives `role_arn` exactly when it brings its own role,
/// and a refresh cannot see the spec, so the role's path tells the two cases apart.
pub(super) fn replication_attrs(
    bucket: &str,
    dests: &[Dest],
    role_arn: &str,
) -> Map<String, Value> {
    let mut attrs = map([
        ("bucket", json!(bucket)),
        (
            "destinations",
            crate::topology::reads::destinations_value(dests),
        ),
    ]);
    if !role_arn.contains(":role/standby/") {
        attrs.insert("role_arn".into(), json!(role_arn));
    }
    attrs
}
