//! Reading every bucket of the scope in batch: one listing, then each bucket's tags and
//! settings through its own region's endpoint.

use super::*;

impl S3 {
    // --- reads ---------------------------------------------------------------------------

    /// Everything managed about one bucket; `None` when it no longer exists.
    pub(super) async fn read_bucket(
        &self,
        name: &str,
        subject: &str,
    ) -> anyhow::Result<Option<BucketRead>> {
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
            // Emulator workaround (`emulator.rs`): moto's answer fails the SDK's parser.
            let quirk = res.as_ref().err().and_then(emulator::versioning_status);
            if let Some(status) = quirk.filter(|_| self.emulator.on()) {
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
                    if error::code(&e)
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
                Err(e) if error::code(&e) == Some("NoSuchPublicAccessBlockConfiguration") => {
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
                        error::code(&e),
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
    pub(super) async fn bucket_region(
        &self,
        name: &str,
        subject: &str,
    ) -> anyhow::Result<Option<String>> {
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

/// A bucket refresh looks at, with what is known of it before reading.
#[derive(Default)]
pub(super) struct Candidate {
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
    let prefix = bucket_prefix(scope);
    let (mut candidates, mut known_regions) = known_candidates(scope);
    if scope.global.contains(&GlobalRead::Buckets) {
        keep_listed(&home, &subject, &prefix, &mut candidates).await?;
    }
    resolve_regions(&home, &subject, scope, &mut candidates).await?;
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
        let dests = replication_dests(&config, &known_regions);
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

/// `<service>-<environment>-` as bucket names spell it: lower-case, with anything but
/// letters, digits and '-' turned to '-'.
fn bucket_prefix(scope: &Scope) -> String {
    format!("{}-{}-", scope.service, scope.environment)
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The buckets the caller knows (by the bucket's name, replications by their source's),
/// and the region of every one that has one, in scope or not (for destinations).
fn known_candidates(scope: &Scope) -> (BTreeMap<String, Candidate>, HashMap<String, String>) {
    let mut candidates: BTreeMap<String, Candidate> = BTreeMap::new();
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
    (candidates, known_regions)
}

/// Known buckets that are not listed are gone; listed ones under the prefix are candidates
/// even when the state lost them.
async fn keep_listed(
    home: &S3,
    subject: &str,
    prefix: &str,
    candidates: &mut BTreeMap<String, Candidate>,
) -> anyhow::Result<()> {
    let _p = home.limit.acquire().await?;
    let items = home.client.list_buckets().into_paginator().items().send();
    let buckets: Vec<_> = items
        .try_collect()
        .await
        .op("ListBuckets", &home.region, &subject)?;
    let listed: HashMap<String, Option<String>> = buckets
        .into_iter()
        .filter_map(|b| Some((b.name?, b.bucket_region)))
        .collect();
    candidates.retain(|name, _| listed.contains_key(name));
    for (name, region) in listed {
        if name.starts_with(prefix) || candidates.contains_key(&name) {
            let c = candidates.entry(name).or_default();
            if c.region.is_none() {
                c.region = region;
            }
        }
    }
    Ok(())
}

/// Resolves unknown regions, then keeps only the buckets in the scope's regions.
async fn resolve_regions(
    home: &S3,
    subject: &str,
    scope: &Scope,
    candidates: &mut BTreeMap<String, Candidate>,
) -> anyhow::Result<()> {
    let unresolved: Vec<String> = candidates
        .iter()
        .filter(|(_, c)| c.region.is_none())
        .map(|(n, _)| n.clone())
        .collect();
    let resolved = try_join_all(unresolved.iter().map(|n| home.bucket_region(n, subject))).await?;
    for (name, region) in unresolved.into_iter().zip(resolved) {
        match region {
            Some(r) => candidates.get_mut(&name).expect("candidate").region = Some(r),
            None => {
                candidates.remove(&name);
            }
        }
    }
    candidates.retain(|_, c| c.region.as_ref().is_some_and(|r| scope.regions.contains(r)));
    Ok(())
}

/// The enabled rules' destinations, sorted by bucket.
fn replication_dests(
    config: &ReplicationConfiguration,
    known_regions: &HashMap<String, String>,
) -> Vec<Dest> {
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
    dests
}
