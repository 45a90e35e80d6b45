//! The S3 backend: the state as one object in a versioned bucket, locked by a second object
//! `<key>.lock` written with `If-None-Match: *`, as Terraform 1.11 does (no lock table), and
//! optionally kept in a replica bucket in another region (`replica.rs`).
//!
//! Invariant: every write of the state object is conditional: `If-Match` on the ETag this
//! process last read or wrote, or `If-None-Match: *` for the first version, so a lost update
//! is impossible even without the lock. The lock object exists exactly while an operation
//! holds it and is removed on every exit path this process controls: an explicit async
//! `release()` and a blocking fallback in `Drop` (errors, early returns, panics, and a
//! command cancelled by Ctrl-C, see `state::interrupt`).

mod lock;
mod object;
mod replica;

pub(super) use lock::force_unlock;
pub use lock::{holder_of, lock_holder};
pub(super) use replica::open;
pub(super) use replica::S3Store;
pub use replica::{open_with, read_pair, Copies};

use super::{file, State};
use crate::provider::aws::emulator::versioning_status;
use crate::provider::aws::error::describe;
use anyhow::{anyhow, bail, Context, Result};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};

/// Where the state object is: `standby { backend "s3" { bucket, key, region, kms_key_id } }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
    pub region: String,
    /// SSE-KMS on every write when set; S3's default encryption otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// `replica { bucket, region }`: where every write lands too, under the same key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<Replica>,
}

/// The bucket and region of the state's replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replica {
    pub bucket: String,
    pub region: String,
}

impl S3Location {
    pub fn lock_key(&self) -> String {
        format!("{}.lock", self.key)
    }

    /// The same object (the KMS key may change, or a replica be added, without moving the
    /// state).
    pub fn same_object(&self, other: &S3Location) -> bool {
        self.bucket == other.bucket && self.key == other.key && self.region == other.region
    }

    /// The replica's object: the same key in the replica's bucket, written with that
    /// bucket's default encryption (a KMS key belongs to one region).
    pub fn replica_location(&self) -> Option<S3Location> {
        self.replica.as_ref().map(|r| S3Location {
            bucket: r.bucket.clone(),
            key: self.key.clone(),
            region: r.region.clone(),
            kms_key_id: None,
            replica: None,
        })
    }

    /// `s3://bucket/key in us-east-1`, for messages that name two copies.
    pub fn placed(&self) -> String {
        format!("{self} in {}", self.region)
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

impl From<&crate::config::Backend> for S3Location {
    fn from(b: &crate::config::Backend) -> Self {
        S3Location {
            bucket: b.bucket.clone(),
            key: b.key.clone(),
            region: b.region.clone(),
            kms_key_id: b.kms_key_id.clone(),
            replica: b.replica.as_ref().map(|r| Replica {
                bucket: r.bucket.clone(),
                region: r.region.clone(),
            }),
        }
    }
}

/// A call to the state's region that got no answer: no connection, no answer in time, or
/// a server error the SDK's retries did not get past. A promote or rebuild goes on with the
/// replica then.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Unreachable {
    pub region: String,
    message: String,
}

/// The error for the failed call `what` to `loc`: an `Unreachable` when the region did not
/// answer, a plain error otherwise.
fn call_failed<E>(what: String, loc: &S3Location, err: &SdkError<E, HttpResponse>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = format!("{what}: {}", describe(err));
    let no_answer = match err {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(d) => d.is_io() || d.is_timeout(),
        _ => status(err).is_some_and(|s| s >= 500),
    };
    if no_answer {
        Unreachable {
            region: loc.region.clone(),
            message,
        }
        .into()
    } else {
        anyhow!(message)
    }
}

/// Whether `err` says the region could not be reached.
pub fn is_unreachable(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|c| c.downcast_ref::<Unreachable>().is_some())
}

/// An S3 client for the backend's region, from the default credential chain with the
/// process's retries and timeouts; path-style
/// addressing when an endpoint is configured (`AWS_ENDPOINT_URL`, the emulator).
pub async fn client(region: &str) -> aws_sdk_s3::Client {
    let sdk = crate::provider::aws::settings::load(Some(region)).await;
    let conf = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .retry_classifier(crate::provider::aws::settings::NothingListens)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// The same with brief retries (`AwsSettings::brief_retry_config`), for the first reads of
/// a backend whose caller falls back to its replica: a region that refuses is given up on
/// within seconds, not after `--operation-timeout`.
pub async fn brief_client(region: &str) -> aws_sdk_s3::Client {
    let brief = crate::provider::aws::settings::settings().brief_retry_config();
    let conf = client(region)
        .await
        .config()
        .to_builder()
        .retry_config(brief)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// The HTTP status of a service answer, if the service answered.
fn status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// 412 Precondition Failed, or 409 ConditionalRequestConflict (a concurrent conditional
/// write on real S3): either way another writer got there first.
pub(super) fn lost_race<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    matches!(status(err), Some(412) | Some(409))
        || matches!(
            err.code(),
            Some("PreconditionFailed") | Some("ConditionalRequestConflict")
        )
}

pub(super) fn not_found<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    status(err) == Some(404) || matches!(err.code(), Some("NoSuchKey") | Some("NotFound"))
}

/// Reads `key`: its bytes and ETag, `None` when there is no such object.
pub(super) async fn get(
    client: &aws_sdk_s3::Client,
    loc: &S3Location,
    key: &str,
) -> Result<Option<(Vec<u8>, String)>> {
    let out = match client
        .get_object()
        .bucket(&loc.bucket)
        .key(key)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) if not_found(&e) && e.code() != Some("NoSuchBucket") => return Ok(None),
        Err(e) => {
            return Err(call_failed(
                format!(
                    "cannot read s3://{}/{key} (GetObject in {})",
                    loc.bucket, loc.region
                ),
                loc,
                &e,
            ))
        }
    };
    let etag = out.e_tag().unwrap_or_default().to_string();
    let bytes = out
        .body
        .collect()
        .await
        .with_context(|| format!("cannot read s3://{}/{key} (GetObject body)", loc.bucket))?
        .into_bytes()
        .to_vec();
    Ok(Some((bytes, etag)))
}

/// Reads and checks the state object: the state and its ETag, `None` when there is none.
pub async fn read(
    client: &aws_sdk_s3::Client,
    loc: &S3Location,
) -> Result<Option<(State, String)>> {
    let Some((bytes, etag)) = get(client, loc, &loc.key).await? else {
        return Ok(None);
    };
    let state = file::read(&bytes).map_err(|e| {
        e.at(
            loc,
            "restore an earlier version of the object (the bucket is versioned)",
        )
    })?;
    Ok(Some((state, etag)))
}

/// Warns when the bucket keeps no versions; refuses a bucket that does not exist. The
/// bucket is the platform's: standby neither creates it nor changes its versioning.
pub(super) async fn check_bucket(client: &aws_sdk_s3::Client, loc: &S3Location) -> Result<()> {
    let status = match client
        .get_bucket_versioning()
        .bucket(&loc.bucket)
        .send()
        .await
    {
        Ok(v) => v.status().map(|s| s.as_str().to_string()),
        // Emulator workaround (`provider/aws/emulator.rs`, quirk 1): moto's answer fails the
        // SDK's parser.
        Err(e) if versioning_status(&e).is_some() => versioning_status(&e).flatten(),
        Err(e) if e.code() == Some("NoSuchBucket") => bail!(
            "the state bucket {} does not exist in {}: create it with versioning enabled (standby does not create its own state bucket)",
            loc.bucket,
            loc.region
        ),
        Err(e) => {
            let err = call_failed(
                format!("cannot read the versioning of the state bucket {} (GetBucketVersioning in {})", loc.bucket, loc.region),
                loc,
                &e,
            );
            if is_unreachable(&err) {
                return Err(err);
            }
            tracing::debug!("{err:#}");
            return Ok(());
        }
    };
    if status.as_deref() != Some("Enabled") {
        tracing::warn!(
            "the state bucket {} does not have versioning enabled, so earlier versions of the state cannot be recovered: \
             aws s3api put-bucket-versioning --bucket {} --versioning-configuration Status=Enabled",
            loc.bucket,
            loc.bucket
        );
    }
    Ok(())
}
