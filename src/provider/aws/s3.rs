//! `S3`: versioned, encrypted, private buckets and their cross-region replication.
//!
//! Invariant: a bucket is found by its deterministic global name (known to the caller, or
//! listed under the `<service>-<environment>-` prefix), is read and written only through its
//! own region's endpoint, and is never touched when that region is outside the scope; its
//! address comes from its `standby:address` tag, else from the caller's known resources.
//! Observed attrs hold exactly the managed keys, normalised so a fresh apply diffs clean.

use super::ec2::{map, str_attr};
use super::error::AwsResultExt;
use super::tags;
use crate::address::Address;
use crate::provider::{resolve_refs, ApplyContext, KnownResource, Observed, Scope};
use crate::topology::TAG_ADDRESS;
use crate::topology::{Desired, Kind};
use anyhow::{anyhow, bail, Context as _};
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete,
    DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, ObjectIdentifier,
    PublicAccessBlockConfiguration, ReplicationConfiguration, ReplicationRule,
    ReplicationRuleFilter, ReplicationRuleStatus, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    StorageClass, Tag, Tagging, VersioningConfiguration,
};
use aws_sdk_s3::Client;
use futures::future::try_join_all;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use tokio::sync::Semaphore;

const NO_BUCKET: &[&str] = &["NoSuchBucket"];

/// The S3 API through one region's endpoint.
#[derive(Clone)]
pub(crate) struct S3 {
    pub(crate) client: Client,
    pub(crate) region: String,
    /// Bounds concurrent S3 reads (shared by every region's `S3`).
    pub(crate) limit: Arc<Semaphore>,
}

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
        let created = req.send().await.absent_if(
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
    async fn bucket_tags(
        &self,
        name: &str,
        subject: &(dyn std::fmt::Display + Sync),
    ) -> anyhow::Result<Option<BTreeMap<String, String>>> {
        let res = self.client.get_bucket_tagging().bucket(name).send().await;
        match res {
            // A bucket without tags answers NoSuchTagSet (S3 GetBucketTagging).
            Err(e) if super::error::code(&e) == Some("NoSuchTagSet") => Ok(Some(BTreeMap::new())),
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
            ("destinations", destinations_json(&destinations)),
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

    // --- reads ---------------------------------------------------------------------------

    /// Everything managed about one bucket; `None` when it no longer exists.
    async fn read_bucket(&self, name: &str, subject: &str) -> anyhow::Result<Option<BucketRead>> {
        let r = self.region.as_str();
        let tags = async {
            let _p = self.limit.acquire().await?;
            self.bucket_tags(name, &subject).await
        };
        let versioning = async {
            let _p = self.limit.acquire().await?;
            let res = self
                .client
                .get_bucket_versioning()
                .bucket(name)
                .send()
                .await;
            if let Some(status) = res.as_ref().err().and_then(emulator_versioning) {
                return Ok(Some(status));
            }
            Ok::<_, anyhow::Error>(
                res.absent_if(NO_BUCKET, "GetBucketVersioning", r, &subject)?
                    .map(|o| o.status().map(|s| s.as_str().to_string())),
            )
        };
        let encryption = async {
            let _p = self.limit.acquire().await?;
            let res = self
                .client
                .get_bucket_encryption()
                .bucket(name)
                .send()
                .await;
            match res {
                Err(e)
                    if super::error::code(&e)
                        == Some("ServerSideEncryptionConfigurationNotFoundError") =>
                {
                    Ok(Some(None))
                }
                res => Ok::<_, anyhow::Error>(
                    res.absent_if(NO_BUCKET, "GetBucketEncryption", r, &subject)?
                        .map(|o| {
                            o.server_side_encryption_configuration()
                                .and_then(|c| c.rules().first())
                                .and_then(|rule| rule.apply_server_side_encryption_by_default())
                                .map(|d| d.sse_algorithm().as_str().to_string())
                        }),
                ),
            }
        };
        let block = async {
            let _p = self.limit.acquire().await?;
            let res = self
                .client
                .get_public_access_block()
                .bucket(name)
                .send()
                .await;
            match res {
                Err(e)
                    if super::error::code(&e) == Some("NoSuchPublicAccessBlockConfiguration") =>
                {
                    Ok(Some(false))
                }
                res => Ok::<_, anyhow::Error>(
                    res.absent_if(NO_BUCKET, "GetPublicAccessBlock", r, &subject)?
                        .map(|o| {
                            o.public_access_block_configuration().is_some_and(|c| {
                                c.block_public_acls() == Some(true)
                                    && c.ignore_public_acls() == Some(true)
                                    && c.block_public_policy() == Some(true)
                                    && c.restrict_public_buckets() == Some(true)
                            })
                        }),
                ),
            }
        };
        let replication = async {
            let _p = self.limit.acquire().await?;
            let res = self
                .client
                .get_bucket_replication()
                .bucket(name)
                .send()
                .await;
            match res {
                Err(e)
                    if matches!(
                        super::error::code(&e),
                        Some(
                            "ReplicationConfigurationNotFoundError"
                                | "NoSuchReplicationConfiguration"
                        )
                    ) =>
                {
                    Ok(Some(None))
                }
                res => Ok::<_, anyhow::Error>(
                    res.absent_if(NO_BUCKET, "GetBucketReplication", r, &subject)?
                        .map(|o| o.replication_configuration().cloned()),
                ),
            }
        };
        let (tags, versioning, encryption, block, replication) =
            tokio::try_join!(tags, versioning, encryption, block, replication)?;
        Ok(match (tags, versioning, encryption, block, replication) {
            (Some(tags), Some(versioning), Some(encryption), Some(blocked), Some(replication)) => {
                Some(BucketRead {
                    tags,
                    versioning,
                    encryption,
                    blocked,
                    replication,
                })
            }
            _ => None,
        })
    }

    /// The region a bucket lives in.
    async fn bucket_region(&self, name: &str, subject: &str) -> anyhow::Result<Option<String>> {
        let _p = self.limit.acquire().await?;
        let out = self
            .client
            .get_bucket_location()
            .bucket(name)
            .send()
            .await
            .absent_if(NO_BUCKET, "GetBucketLocation", &self.region, &subject)?;
        Ok(
            out.map(|o| match o.location_constraint().map(|c| c.as_str()) {
                None | Some("") => "us-east-1".to_string(),
                Some("EU") => "eu-west-1".to_string(),
                Some(other) => other.to_string(),
            }),
        )
    }
}

struct BucketRead {
    tags: BTreeMap<String, String>,
    versioning: Option<String>,
    encryption: Option<String>,
    blocked: bool,
    replication: Option<ReplicationConfiguration>,
}

/// One replication destination, as the `destinations` attribute lists them.
struct Dest {
    bucket: String,
    region: String,
    storage_class: String,
}

fn destinations_attr(d: &Desired) -> anyhow::Result<Vec<Dest>> {
    let list = d
        .attrs
        .get("destinations")
        .and_then(Value::as_array)
        .with_context(|| {
            format!(
                "{}: attribute `destinations` is missing or not a list",
                d.address
            )
        })?;
    let mut out = list
        .iter()
        .map(|v| {
            let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
            Ok(Dest {
                bucket: field("bucket")
                    .with_context(|| format!("{}: a destination has no `bucket`", d.address))?,
                region: field("region").unwrap_or_default(),
                storage_class: field("storage_class").unwrap_or_else(|| "STANDARD".into()),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    out.sort_by(|a, b| a.bucket.cmp(&b.bucket));
    Ok(out)
}

fn destinations_json(dests: &[Dest]) -> Value {
    Value::Array(
        dests
            .iter()
            .map(|d| {
                json!({"bucket": d.bucket, "region": d.region, "storage_class": d.storage_class})
            })
            .collect(),
    )
}

fn bucket_attrs(
    name: &str,
    versioning: Option<String>,
    encryption: Option<String>,
    blocked: bool,
) -> Map<String, Value> {
    map([
        ("bucket", json!(name)),
        ("versioning", json!(versioning)),
        ("encryption", json!(encryption)),
        ("public_access_blocked", json!(blocked)),
    ])
}

/// A bucket refresh looks at, with what is known of it before reading.
#[derive(Default)]
struct Candidate {
    region: Option<String>,
    bucket_address: Option<Address>,
    replication_address: Option<Address>,
}

/// Every bucket (and bucket replication) of the scope: one listing when global services are
/// read, then, per bucket in a region of the scope, its tags and settings (concurrently,
/// bounded by the S3 semaphore).
pub(crate) async fn refresh(
    scope: &Scope,
    s3_in: &(dyn Fn(&str) -> S3 + Send + Sync),
) -> anyhow::Result<Vec<Observed>> {
    let Some(home) = scope.regions.iter().next() else {
        return Ok(Vec::new());
    };
    let home = s3_in(home);
    let subject = format!("the refresh of {}/{}", scope.service, scope.environment);
    // Bucket names are lower-case, with anything but letters, digits and '-' turned to '-'.
    let prefix: String = format!("{}-{}-", scope.service, scope.environment)
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();

    let mut candidates: BTreeMap<String, Candidate> = BTreeMap::new();
    // Regions of every bucket the caller knows, in scope or not (for destinations).
    let mut known_regions: HashMap<String, String> = HashMap::new();
    for k in &scope.known {
        let KnownResource {
            kind,
            name,
            region,
            address,
        } = k;
        // A replication is known by its source bucket: its deterministic name is
        // `<bucket>-replication`, its id in the state the bucket name itself.
        let bucket = match kind {
            Kind::Bucket => name.as_str(),
            Kind::BucketReplication => name.strip_suffix("-replication").unwrap_or(name),
            _ => continue,
        };
        if let Some(r) = region {
            known_regions
                .entry(bucket.to_string())
                .or_insert_with(|| r.clone());
        }
        let c = candidates.entry(bucket.to_string()).or_default();
        c.region = c.region.take().or_else(|| region.clone());
        match kind {
            Kind::Bucket => c.bucket_address = Some(address.clone()),
            _ => c.replication_address = Some(address.clone()),
        }
    }

    if scope.global {
        let _p = home.limit.acquire().await?;
        let items = home.client.list_buckets().into_paginator().items().send();
        let buckets: Vec<_> =
            items
                .try_collect()
                .await
                .op("ListBuckets", &home.region, &subject)?;
        let listed: HashMap<String, Option<String>> = buckets
            .into_iter()
            .filter_map(|b| Some((b.name?, b.bucket_region)))
            .collect();
        // Known buckets that are not listed are gone; listed ones under the prefix are
        // candidates even when the state lost them.
        candidates.retain(|name, _| listed.contains_key(name));
        for (name, region) in listed {
            if name.starts_with(&prefix) || candidates.contains_key(&name) {
                let c = candidates.entry(name).or_default();
                if c.region.is_none() {
                    c.region = region;
                }
            }
        }
    }

    // Resolve unknown regions, then keep only buckets in the scope's regions.
    let unresolved: Vec<String> = candidates
        .iter()
        .filter(|(_, c)| c.region.is_none())
        .map(|(n, _)| n.clone())
        .collect();
    let resolved = try_join_all(unresolved.iter().map(|n| home.bucket_region(n, &subject))).await?;
    for (name, region) in unresolved.into_iter().zip(resolved) {
        match region {
            Some(r) => candidates.get_mut(&name).expect("candidate").region = Some(r),
            None => {
                candidates.remove(&name);
            }
        }
    }
    candidates.retain(|_, c| c.region.as_ref().is_some_and(|r| scope.regions.contains(r)));
    for (name, c) in &candidates {
        known_regions.insert(name.clone(), c.region.clone().unwrap_or_default());
    }

    let reads = try_join_all(candidates.iter().map(|(name, c)| {
        let s3 = s3_in(c.region.as_deref().unwrap_or_default());
        let subject = subject.clone();
        async move {
            s3.read_bucket(name, &subject)
                .await
                .map(|r| (name, c, s3, r))
        }
    }))
    .await?;

    let mut out = Vec::new();
    let mut unknown_dests = BTreeSet::new();
    let mut pending = Vec::new();
    let mut conflicts = Vec::new();
    for (name, c, s3, read) in reads {
        let Some(read) = read else { continue };
        // Only a bucket tagged for this environment is adopted; one whose name this
        // environment needs but whose tags name another refuses the plan. An untagged one
        // (an interrupted creation) is adopted by the create that follows.
        let known = c.bucket_address.as_ref().or(c.replication_address.as_ref());
        if let (Some(owner), Some(a)) = (tags::foreign(&read.tags, scope), known) {
            let what = format!("bucket {name}");
            let fix = "bucket names are global: rename the component or the environment so the names differ";
            conflicts.push(tags::conflict(a, &what, &owner, &tags::ours(scope), fix));
            continue;
        }
        let tagged_ours = tags::owner(&read.tags) == Some(tags::ours(scope));
        let address = match (tagged_ours, read.tags.get(TAG_ADDRESS), &c.bucket_address) {
            (true, Some(a), _) => Address::new(a.clone()),
            (true, None, Some(a)) => a.clone(),
            _ => {
                tracing::debug!(bucket = %name, "bucket without this environment's tags; not adopted");
                continue;
            }
        };
        let mut observed = Observed {
            address: address.clone(),
            kind: Kind::Bucket,
            region: Some(s3.region.clone()),
            id: name.clone(),
            attrs: bucket_attrs(
                name,
                read.versioning.clone(),
                read.encryption.clone(),
                read.blocked,
            ),
            computed: map([("arn", json!(format!("arn:aws:s3:::{name}")))]),
            depends_on: Vec::new(),
        };
        tags::observe(
            &mut observed,
            read.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        out.push(observed);
        if let Some(config) = &read.replication {
            for rule in config.rules() {
                if let Some(dest) = rule.destination().map(|d| dest_name(d.bucket())) {
                    if !known_regions.contains_key(&dest) {
                        unknown_dests.insert(dest);
                    }
                }
            }
            let repl_address = c
                .replication_address
                .clone()
                .unwrap_or_else(|| address.child("replication"));
            pending.push((
                name.clone(),
                s3.region.clone(),
                address,
                repl_address,
                config.clone(),
            ));
        }
    }

    tags::refuse(conflicts)?;
    let unknown_dests: Vec<String> = unknown_dests.into_iter().collect();
    let regions = try_join_all(
        unknown_dests
            .iter()
            .map(|n| home.bucket_region(n, &subject)),
    )
    .await?;
    for (name, region) in unknown_dests.into_iter().zip(regions) {
        known_regions.insert(name, region.unwrap_or_default());
    }

    for (name, region, bucket_address, address, config) in pending {
        let mut dests: Vec<Dest> = config
            .rules()
            .iter()
            .filter(|r| *r.status() == ReplicationRuleStatus::Enabled)
            .filter_map(|r| r.destination())
            .map(|d| {
                let bucket = dest_name(d.bucket());
                Dest {
                    region: known_regions.get(&bucket).cloned().unwrap_or_default(),
                    storage_class: d
                        .storage_class()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "STANDARD".into()),
                    bucket,
                }
            })
            .collect();
        dests.sort_by(|a, b| a.bucket.cmp(&b.bucket));
        out.push(Observed {
            address,
            kind: Kind::BucketReplication,
            region: Some(region),
            id: name.clone(),
            attrs: replication_attrs(&name, &dests, config.role()),
            computed: map([("role_arn", json!(config.role()))]),
            depends_on: vec![bucket_address],
        });
    }
    Ok(out)
}

/// `bucket`, `destinations`, and `role_arn` when the role is not one standby manages (not
/// under the `/standby/` path): the spec gives `role_arn` exactly when it brings its own role,
/// and a refresh cannot see the spec, so the role's path tells the two cases apart.
fn replication_attrs(bucket: &str, dests: &[Dest], role_arn: &str) -> Map<String, Value> {
    let mut attrs = map([
        ("bucket", json!(bucket)),
        ("destinations", destinations_json(dests)),
    ]);
    if !role_arn.contains(":role/standby/") {
        attrs.insert("role_arn".into(), json!(role_arn));
    }
    attrs
}

/// The owner the live `tags` name when it is not the environment `d` belongs to.
fn foreign_to(tags: &BTreeMap<String, String>, d: &Desired) -> Option<String> {
    let ours = tags::owner(&d.tags);
    tags::owner(tags).filter(|o| Some(o) != ours.as_ref())
}

/// moto 5.2.5 answers GetBucketVersioning with a `<GetBucketVersioningResponse>` root where
/// S3 (and the SDK's strict parser) use `<VersioningConfiguration>`; the SDK then fails to
/// decode a successful answer. Reads the status from such a raw 200 answer: `Some(status)`
/// when the error is that quirk, `None` for any real error.
fn emulator_versioning(
    err: &super::error::AwsSdkError<
        aws_sdk_s3::operation::get_bucket_versioning::GetBucketVersioningError,
    >,
) -> Option<Option<String>> {
    let raw = err.raw_response()?;
    if raw.status().as_u16() != 200 {
        return None;
    }
    let body = std::str::from_utf8(raw.body().bytes()?).ok()?;
    if !body.contains("<GetBucketVersioningResponse") {
        return None;
    }
    let status = body
        .split_once("<Status>")
        .and_then(|(_, rest)| rest.split_once("</Status>"))
        .map(|(status, _)| status.trim().to_string());
    Some(status)
}

/// `arn:aws:s3:::name` (or a bare name) to the bucket name.
fn dest_name(arn: &str) -> String {
    arn.rsplit(":::").next().unwrap_or(arn).to_string()
}
