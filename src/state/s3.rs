//! The S3 backend: the state as one object in a versioned bucket, locked by a second object
//! `<key>.lock` written with `If-None-Match: *`, as Terraform 1.11 does (no lock table).
//!
//! Invariant: every write of the state object is conditional: `If-Match` on the ETag this
//! process last read or wrote, or `If-None-Match: *` for the first version, so a lost update
//! is impossible even without the lock. The lock object exists exactly while an operation
//! holds it and is removed on every exit path this process controls: an explicit async
//! `release()`, a blocking fallback in `Drop` (errors, early returns, panics), and a Ctrl-C
//! guard outside the scopes that handle Ctrl-C themselves (`defer_interrupts`).

use super::{LockHolder, State, FORMAT_VERSION};
use crate::provider::aws::error::describe;
use anyhow::{anyhow, bail, Context, Result};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Where the state object is: `standby { backend "s3" { bucket, key, region, kms_key_id } }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
    pub region: String,
    /// SSE-KMS on every write when set; S3's default encryption otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

impl S3Location {
    pub fn lock_key(&self) -> String {
        format!("{}.lock", self.key)
    }

    /// The same object (the KMS key may change without moving the state).
    pub fn same_object(&self, other: &S3Location) -> bool {
        self.bucket == other.bucket && self.key == other.key && self.region == other.region
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
        }
    }
}

/// Polling a held lock (`--lock-timeout`): first wait, and the cap of the doubling waits.
const FIRST_WAIT: Duration = Duration::from_millis(250);
const MAX_WAIT: Duration = Duration::from_secs(5);
/// How long the blocking fallback in `Drop` may take to remove the lock.
const DROP_RELEASE_TIMEOUT: Duration = Duration::from_secs(15);

static DEFERRED_INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

/// While the returned scope lives, Ctrl-C belongs to the caller (apply stops scheduling,
/// lets in-flight actions finish, saves and returns; the lock is released afterwards).
/// Outside such a scope, Ctrl-C while an S3 lock is held removes the lock and exits 130.
pub fn defer_interrupts() -> InterruptScope {
    DEFERRED_INTERRUPTS.fetch_add(1, Ordering::SeqCst);
    InterruptScope(())
}

pub struct InterruptScope(());

impl Drop for InterruptScope {
    fn drop(&mut self) {
        DEFERRED_INTERRUPTS.fetch_sub(1, Ordering::SeqCst);
    }
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

/// The HTTP status of a service answer, if the service answered.
fn status<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// 412 Precondition Failed, or 409 ConditionalRequestConflict (a concurrent conditional
/// write on real S3): either way another writer got there first.
fn lost_race<E: ProvideErrorMetadata>(
    err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    matches!(status(err), Some(412) | Some(409))
        || matches!(
            err.code(),
            Some("PreconditionFailed") | Some("ConditionalRequestConflict")
        )
}

fn not_found<E: ProvideErrorMetadata>(
    err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    status(err) == Some(404) || matches!(err.code(), Some("NoSuchKey") | Some("NotFound"))
}

/// Reads `key`: its bytes and ETag, `None` when there is no such object.
async fn get(
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
        Err(e) => bail!(
            "cannot read s3://{}/{key} (GetObject in {}): {}",
            loc.bucket,
            loc.region,
            describe(&e)
        ),
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
    let state: State = serde_json::from_slice(&bytes).with_context(|| {
        format!("the state {loc} is not valid: restore an earlier version of the object (the bucket is versioned)")
    })?;
    if state.format_version > FORMAT_VERSION {
        bail!(
            "the state {loc} has format version {}, newer than this standby understands ({}): upgrade standby",
            state.format_version,
            FORMAT_VERSION
        );
    }
    Ok(Some((state, etag)))
}

/// The current lock's holder, `None` when the state is not locked.
pub async fn lock_holder(
    client: &aws_sdk_s3::Client,
    loc: &S3Location,
) -> Result<Option<LockHolder>> {
    let Some((bytes, _)) = get(client, loc, &loc.lock_key()).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).with_context(|| {
        format!(
            "the lock s3://{}/{} does not name its holder: delete it by hand once nobody runs standby",
            loc.bucket,
            loc.lock_key()
        )
    })
}

/// Removes the lock when it is still the one with `id`; `Ok(false)` when it is not.
async fn delete_lock_if(client: &aws_sdk_s3::Client, loc: &S3Location, id: &str) -> Result<bool> {
    match lock_holder(client, loc).await {
        Ok(Some(h)) if h.id == id => {}
        Ok(_) => return Ok(false),
        // An unreadable lock object is not ours to judge: leave it for `state unlock`.
        Err(e) => return Err(e),
    }
    client
        .delete_object()
        .bucket(&loc.bucket)
        .key(loc.lock_key())
        .send()
        .await
        .map_err(|e| {
            anyhow!(
                "cannot remove the lock s3://{}/{} (DeleteObject in {}): {}",
                loc.bucket,
                loc.lock_key(),
                loc.region,
                describe(&e)
            )
        })?;
    Ok(true)
}

/// Removes the lock `id` for `standby state unlock`: refuses another id or no lock at all.
pub async fn force_unlock(loc: &S3Location, id: &str) -> Result<LockHolder> {
    let client = client(&loc.region).await;
    let holder = lock_holder(&client, loc)
        .await?
        .ok_or_else(|| anyhow!("the state {loc} is not locked: there is nothing to unlock"))?;
    if holder.id != id {
        bail!("lock id {id} is not the current lock of {loc}: it is held by {holder}");
    }
    if !delete_lock_if(&client, loc, id).await? {
        bail!("the lock of {loc} changed while unlocking it: run `standby state unlock` again with the current id");
    }
    Ok(holder)
}

/// Warns when the bucket keeps no versions; refuses a bucket that does not exist. The
/// bucket is the platform's: standby neither creates it nor changes its versioning.
async fn check_bucket(client: &aws_sdk_s3::Client, loc: &S3Location) -> Result<()> {
    let status = match client
        .get_bucket_versioning()
        .bucket(&loc.bucket)
        .send()
        .await
    {
        Ok(v) => v.status().map(|s| s.as_str().to_string()),
        // moto 5.2.5 answers with a root element the SDK's strict parser refuses: read the
        // status from the raw answer.
        Err(e) if status(&e) == Some(200) => e
            .raw_response()
            .and_then(|r| r.body().bytes())
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| t.split_once("<Status>"))
            .and_then(|(_, r)| r.split_once("</Status>"))
            .map(|(s, _)| s.to_string()),
        Err(e) if e.code() == Some("NoSuchBucket") => bail!(
            "the state bucket {} does not exist in {}: create it with versioning enabled (standby does not create its own state bucket)",
            loc.bucket,
            loc.region
        ),
        Err(e) => {
            tracing::debug!(
                "cannot read the versioning of the state bucket {}: {}",
                loc.bucket,
                describe(&e)
            );
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

/// The error for a state held by someone else.
fn locked(loc: &S3Location, holder: Option<&LockHolder>) -> anyhow::Error {
    match holder {
        Some(h) => anyhow!(
            "the state is locked by {h}: wait for that operation to finish (or pass --lock-timeout), or, if it died, run `standby state unlock {}`",
            h.id
        ),
        None => anyhow!("the state {loc} is locked by another process: run the operation again"),
    }
}

/// Writes the lock object once; `Err(holder)` when somebody else holds it.
async fn try_lock(
    client: &aws_sdk_s3::Client,
    loc: &S3Location,
    holder: &LockHolder,
) -> Result<Result<(), Option<LockHolder>>> {
    let mut put = client
        .put_object()
        .bucket(&loc.bucket)
        .key(loc.lock_key())
        .content_type("application/json")
        .if_none_match("*")
        .body(ByteStream::from(serde_json::to_vec_pretty(holder)?));
    if let Some(kms) = &loc.kms_key_id {
        put = put
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(kms);
    }
    match put.send().await {
        Ok(_) => Ok(Ok(())),
        Err(e) if lost_race(&e) => Ok(Err(lock_holder(client, loc).await.ok().flatten())),
        Err(e) => bail!(
            "cannot lock the state: PutObject s3://{}/{} in {} for {} failed: {}",
            loc.bucket,
            loc.lock_key(),
            loc.region,
            holder.operation,
            describe(&e)
        ),
    }
}

/// Takes the lock for `operation`, failing at once when it is held, or polling with
/// doubling waits until `timeout` has passed.
async fn acquire(
    client: &aws_sdk_s3::Client,
    loc: &S3Location,
    operation: &str,
    timeout: Option<Duration>,
) -> Result<LockHolder> {
    let holder = LockHolder::current(operation);
    let deadline = Instant::now() + timeout.unwrap_or_default();
    let mut wait = FIRST_WAIT;
    loop {
        let other = match try_lock(client, loc, &holder).await? {
            Ok(()) => return Ok(holder),
            Err(other) => other,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(locked(loc, other.as_ref()));
        }
        tracing::info!(
            "the state is locked by {}: waiting",
            other
                .map(|h| h.to_string())
                .unwrap_or_else(|| "another process".into())
        );
        tokio::time::sleep(wait.min(left)).await;
        wait = (wait * 2).min(MAX_WAIT);
    }
}

/// Removes the lock and exits 130 on Ctrl-C, unless a `defer_interrupts` scope is open.
fn interrupt_guard(
    client: aws_sdk_s3::Client,
    loc: S3Location,
    id: String,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            if DEFERRED_INTERRUPTS.load(Ordering::SeqCst) > 0 {
                continue;
            }
            match delete_lock_if(&client, &loc, &id).await {
                Ok(_) => tracing::warn!("interrupted: released the lock of the state {loc}"),
                Err(e) => tracing::warn!(
                    "interrupted: {e:#}: remove the lock with `standby state unlock {id}`"
                ),
            }
            std::process::exit(130);
        }
    })
}

struct HeldLock {
    holder: LockHolder,
    guard: tokio::task::JoinHandle<()>,
}

/// The open state object, under the lock.
pub(super) struct S3Store {
    client: aws_sdk_s3::Client,
    pub(super) loc: S3Location,
    /// The ETag of the version this process last read or wrote; `None` before the first.
    etag: Option<String>,
    lock: Option<HeldLock>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("loc", &self.loc)
            .field("etag", &self.etag)
            .field("lock", &self.lock.as_ref().map(|l| &l.holder.id))
            .finish()
    }
}

/// Locks the state object at `loc` for `operation` through `client` and loads it (a new
/// empty state for `environment` when there is none). `Backend::open` uses the default
/// client; tests pass one of their own.
pub async fn open_with(
    client: aws_sdk_s3::Client,
    loc: &S3Location,
    environment: &str,
    operation: &str,
    lock_timeout: Option<Duration>,
) -> Result<super::StateStore> {
    let (store, state) = S3Store::open(client, loc, operation, lock_timeout).await?;
    Ok(super::StateStore::remote(
        super::Backend::S3(loc.clone()),
        state.unwrap_or_else(|| State::new(environment)),
        store,
    ))
}

impl S3Store {
    /// Locks the state for `operation` and reads it: `None` when there is no state yet.
    async fn open(
        client: aws_sdk_s3::Client,
        loc: &S3Location,
        operation: &str,
        lock_timeout: Option<Duration>,
    ) -> Result<(S3Store, Option<State>)> {
        check_bucket(&client, loc).await?;
        let holder = acquire(&client, loc, operation, lock_timeout).await?;
        let guard = interrupt_guard(client.clone(), loc.clone(), holder.id.clone());
        let mut store = S3Store {
            client,
            loc: loc.clone(),
            etag: None,
            lock: Some(HeldLock { holder, guard }),
        };
        match read(&store.client, loc).await {
            Ok(found) => {
                let state = found.map(|(s, etag)| {
                    store.etag = Some(etag);
                    s
                });
                Ok((store, state))
            }
            Err(e) => {
                let _ = store.release().await;
                Err(e)
            }
        }
    }

    pub(super) fn exists(&self) -> bool {
        self.etag.is_some()
    }

    pub(super) fn holder(&self) -> Option<&LockHolder> {
        self.lock.as_ref().map(|l| &l.holder)
    }

    /// Writes `state` if the object is still the version last read or written.
    pub(super) async fn save(&mut self, state: &State) -> Result<()> {
        let Some(lock) = &self.lock else {
            bail!(
                "the lock of the state {} was released: open the state again to write it",
                self.loc
            );
        };
        let loc = &self.loc;
        let mut put = self
            .client
            .put_object()
            .bucket(&loc.bucket)
            .key(&loc.key)
            .content_type("application/json")
            .body(ByteStream::from(serde_json::to_vec_pretty(state)?));
        put = match &self.etag {
            // moto 5.2.5 honours If-Match on PutObject (412 on a mismatch, 404 when the
            // object is gone), as S3 does since 2024: no HEAD-then-PUT emulation is needed.
            Some(etag) => put.if_match(etag),
            None => put.if_none_match("*"),
        };
        if let Some(kms) = &loc.kms_key_id {
            put = put
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(kms);
        }
        let out = match put.send().await {
            Ok(out) => out,
            Err(e) if lost_race(&e) || not_found(&e) => bail!(
                "the state {loc} changed since {} read it (etag {}): another writer saved it without holding the lock, \
                 and nothing was overwritten; run the operation again to start from the current state",
                lock.holder.operation,
                self.etag.as_deref().unwrap_or("none: the object did not exist")
            ),
            Err(e) => bail!(
                "cannot write the state {loc} (PutObject in {} for {}): {}",
                loc.region,
                lock.holder.operation,
                describe(&e)
            ),
        };
        self.etag = match out.e_tag() {
            Some(etag) => Some(etag.to_string()),
            None => Some(
                self.client
                    .head_object()
                    .bucket(&loc.bucket)
                    .key(&loc.key)
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow!(
                            "cannot read the ETag of {loc} (HeadObject): {}",
                            describe(&e)
                        )
                    })?
                    .e_tag()
                    .unwrap_or_default()
                    .to_string(),
            ),
        };
        Ok(())
    }

    /// Removes the lock object (when it is still ours); idempotent.
    pub(super) async fn release(&mut self) -> Result<()> {
        let Some(lock) = self.lock.take() else {
            return Ok(());
        };
        lock.guard.abort();
        if !delete_lock_if(&self.client, &self.loc, &lock.holder.id).await? {
            tracing::warn!(
                "the lock of the state {} was no longer ours (removed or taken over): left as it is",
                self.loc
            );
        }
        Ok(())
    }
}

impl Drop for S3Store {
    /// The blocking fallback when `release()` was not called (an error, an early return, a
    /// panic). `Drop` cannot await, and the caller's runtime may be a current-thread one
    /// blocked right here, so the lock is removed from a thread of its own with its own
    /// runtime and its own client (no connection of the caller's pool), bounded in time.
    fn drop(&mut self) {
        let Some(lock) = self.lock.take() else {
            return;
        };
        lock.guard.abort();
        let (loc, id) = (self.loc.clone(), lock.holder.id.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        let thread_loc = loc.clone();
        let thread_id = id.clone();
        let spawned = std::thread::Builder::new()
            .name("standby-unlock".into())
            .spawn(move || {
                let result = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(anyhow::Error::from)
                    .and_then(|rt| {
                        rt.block_on(async {
                            let c = client(&thread_loc.region).await;
                            delete_lock_if(&c, &thread_loc, &thread_id).await
                        })
                    });
                let _ = tx.send(result);
            });
        let outcome = match spawned {
            Ok(_) => rx
                .recv_timeout(DROP_RELEASE_TIMEOUT)
                .map_err(|_| anyhow!("timed out after {DROP_RELEASE_TIMEOUT:?}"))
                .and_then(|r| r),
            Err(e) => Err(anyhow!("cannot start a thread: {e}")),
        };
        if let Err(e) = outcome {
            tracing::warn!(
                "cannot release the lock of the state {loc}: {e:#}: remove it with `standby state unlock {id}`"
            );
        }
    }
}
