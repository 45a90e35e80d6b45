//! One state object and its lock, held by this process: the primary's, or the replica's.

use super::lock::{acquire, delete_lock_if};
use super::{call_failed, check_bucket, lost_race, not_found, read, S3Location};
use crate::provider::aws::error::describe;
use crate::state::{LockHolder, State};
use anyhow::{anyhow, bail, Result};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use std::time::Duration;

/// How long the blocking fallback in `Drop` may take to remove the lock.
const DROP_RELEASE_TIMEOUT: Duration = Duration::from_secs(15);

/// A state object under its lock.
pub(super) struct ObjectStore {
    client: aws_sdk_s3::Client,
    pub(super) loc: S3Location,
    /// The ETag of the version this process last read or wrote; `None` before the first.
    etag: Option<String>,
    lock: Option<LockHolder>,
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore")
            .field("loc", &self.loc)
            .field("etag", &self.etag)
            .field("lock", &self.lock.as_ref().map(|h| &h.id))
            .finish()
    }
}

impl ObjectStore {
    /// Locks the object at `loc` as `holder` and reads it: `None` when there is no state
    /// yet.
    /// From now on, calls go through `client` (the backend's full retries once a brief
    /// first read found the region answering).
    pub(super) fn use_client(&mut self, client: aws_sdk_s3::Client) {
        self.client = client;
    }

    pub(super) async fn open(
        client: aws_sdk_s3::Client,
        loc: &S3Location,
        holder: &LockHolder,
        lock_timeout: Option<Duration>,
    ) -> Result<(ObjectStore, Option<State>)> {
        check_bucket(&client, loc).await?;
        acquire(&client, loc, holder, lock_timeout).await?;
        let mut store = ObjectStore {
            client,
            loc: loc.clone(),
            etag: None,
            lock: Some(holder.clone()),
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
        self.lock.as_ref()
    }

    /// Writes `state` if the object is still the version last read or written.
    pub(super) async fn save(&mut self, state: &State) -> Result<()> {
        let Some(holder) = &self.lock else {
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
            .body(ByteStream::from(super::file::write(state)));
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
                holder.operation,
                self.etag.as_deref().unwrap_or("none: the object did not exist")
            ),
            Err(e) => {
                return Err(call_failed(
                    format!(
                        "cannot write the state {loc} (PutObject in {} for {})",
                        loc.region, holder.operation
                    ),
                    loc,
                    &e,
                ))
            }
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
        let Some(holder) = self.lock.take() else {
            return Ok(());
        };
        if !delete_lock_if(&self.client, &self.loc, &holder.id).await? {
            tracing::warn!(
                "the lock of the state {} was no longer ours (removed or taken over): left as it is",
                self.loc
            );
        }
        Ok(())
    }
}

impl Drop for ObjectStore {
    /// The blocking fallback when `release()` was not called (an error, an early return, a
    /// panic). `Drop` cannot await, and the caller's runtime may be a current-thread one
    /// blocked right here, so the lock is removed from a thread of its own with its own
    /// runtime and its own client (no connection of the caller's pool), bounded in time.
    fn drop(&mut self) {
        let Some(holder) = self.lock.take() else {
            return;
        };
        let (loc, id) = (self.loc.clone(), holder.id);
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
                            let c = super::client(&thread_loc.region).await;
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
