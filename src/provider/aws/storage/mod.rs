//! `S3`: versioned, encrypted, private buckets and their cross-region replication.
//!
//! Invariant: a bucket is found by its deterministic global name (known to the caller, or
//! listed under the `<service>-<environment>-` prefix), is read and written only through its
//! own region's endpoint, and is never touched when that region is outside the scope; its
//! address comes from its `standby:address` tag, else from the caller's known resources.
//! Observed attrs hold exactly the managed keys, normalised so a fresh apply diffs clean.

use super::attrs::{map, str_attr};
use super::emulator::{self, Emulator};
use super::error::{self, AwsResultExt};
use super::tags;
use super::{region_of, AwsProvider};
use crate::address::Address;
use crate::provider::{resolve_refs, ApplyContext, GlobalRead, KnownResource, Observed, Scope};
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

mod bucket;
mod refresh;
mod replication;
pub(crate) use refresh::refresh;
use replication::*;

const NO_BUCKET: &[&str] = &["NoSuchBucket"];

/// The S3 API through one region's endpoint.
#[derive(Clone)]
pub(crate) struct S3 {
    pub(crate) client: Client,
    pub(crate) region: String,
    /// Bounds concurrent S3 reads (shared by every region's `S3`).
    pub(crate) limit: Arc<Semaphore>,
    /// Whether the emulator workarounds apply (`emulator.rs`).
    pub(crate) emulator: Emulator,
}

impl S3 {}

struct BucketRead {
    tags: BTreeMap<String, String>,
    versioning: Option<String>,
    encryption: Option<String>,
    blocked: bool,
    replication: Option<ReplicationConfiguration>,
}

/// One replication destination, as the `destinations` attribute lists them.
type Dest = crate::topology::reads::Destination;

fn destinations_attr(d: &Desired) -> anyhow::Result<Vec<Dest>> {
    crate::topology::reads::destinations(&d.attrs).with_context(|| d.address.to_string())
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

/// The owner the live `tags` name when it is not the environment `d` belongs to.
fn foreign_to(tags: &BTreeMap<String, String>, d: &Desired) -> Option<String> {
    let ours = tags::owner(&d.tags);
    tags::owner(tags).filter(|o| Some(o) != ours.as_ref())
}

/// `arn:aws:s3:::name` (or a bare name) to the bucket name.
fn dest_name(arn: &str) -> String {
    arn.rsplit(":::").next().unwrap_or(arn).to_string()
}

/// The storage family's handler: buckets and their replication, each through its bucket's
/// region.
pub(super) struct Storage;

#[async_trait::async_trait]
impl super::handler::KindHandler for Storage {
    async fn refresh(&self, p: &AwsProvider, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        refresh(scope, &|r: &str| p.s3(r)).await
    }

    async fn create(
        &self,
        p: &AwsProvider,
        d: &Desired,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let s3 = p.s3(region_of(&d.address, d.region.as_deref())?);
        match d.kind {
            Kind::Bucket => s3.create_bucket(d).await,
            Kind::BucketReplication => s3.put_replication(d, ctx).await,
            other => bail!("kind {other:?} is not an S3 resource"),
        }
    }

    async fn update(
        &self,
        p: &AwsProvider,
        d: &Desired,
        current: &Observed,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let s3 = p.s3(region_of(&d.address, d.region.as_deref())?);
        match d.kind {
            Kind::Bucket => s3.configure_bucket(d, &tags::removed(d, current)).await,
            Kind::BucketReplication => s3.put_replication(d, ctx).await,
            other => bail!("kind {other:?} is not an S3 resource"),
        }
    }

    async fn delete(&self, p: &AwsProvider, current: &Observed) -> anyhow::Result<()> {
        let s3 = p.s3(region_of(&current.address, current.region.as_deref())?);
        match current.kind {
            Kind::Bucket => s3.delete_bucket(current).await,
            Kind::BucketReplication => s3.delete_replication(current).await,
            other => bail!("kind {other:?} is not an S3 resource"),
        }
    }
}
