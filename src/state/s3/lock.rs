//! The S3 lock: an object `<key>.lock` beside the state, written with `If-None-Match: *`
//! and naming its holder; removed only by its holder (or `state unlock` with its id).

use super::{call_failed, get, lost_race, S3Location};
use crate::state::LockHolder;
use anyhow::{anyhow, bail, Context, Result};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use std::time::{Duration, Instant};

/// Polling a held lock (`--lock-timeout`): first wait, and the cap of the doubling waits.
const FIRST_WAIT: Duration = Duration::from_millis(250);
const MAX_WAIT: Duration = Duration::from_secs(5);

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
pub(super) async fn delete_lock_if(
    client: &aws_sdk_s3::Client,
    loc: &S3Location,
    id: &str,
) -> Result<bool> {
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
            call_failed(
                format!(
                    "cannot remove the lock s3://{}/{} (DeleteObject in {})",
                    loc.bucket,
                    loc.lock_key(),
                    loc.region
                ),
                loc,
                &e,
            )
        })?;
    Ok(true)
}

/// Who holds the lock of the state at `loc`: the primary's holder, else the replica's (also
/// when the primary's region cannot be reached).
pub async fn holder_of(loc: &S3Location) -> Result<Option<LockHolder>> {
    let primary = lock_holder(&super::client(&loc.region).await, loc).await;
    let Some(replica) = loc.replica_location() else {
        return primary;
    };
    match primary {
        Ok(Some(h)) => Ok(Some(h)),
        Ok(None) => lock_holder(&super::client(&replica.region).await, &replica).await,
        Err(e) if super::is_unreachable(&e) => {
            tracing::warn!("{e:#}: the replica's lock is shown");
            lock_holder(&super::client(&replica.region).await, &replica).await
        }
        Err(e) => Err(e),
    }
}

/// Removes the lock `id` for `standby state unlock` from the state and from its replica (an
/// operation holds both under one id): refuses another id or no lock at all.
pub async fn force_unlock(loc: &S3Location, id: &str) -> Result<LockHolder> {
    let Some(replica) = loc.replica_location() else {
        return force_unlock_one(loc, id).await;
    };
    let on_primary = force_unlock_one(loc, id).await;
    let on_replica = force_unlock_one(&replica, id).await;
    match (on_primary, on_replica) {
        (Ok(h), other) | (other, Ok(h)) => {
            if let Err(e) = &other {
                if super::is_unreachable(e) {
                    tracing::warn!("{e:#}: unlock it again once its region answers");
                }
            }
            Ok(h)
        }
        (Err(p), Err(r)) if super::is_unreachable(&p) => Err(r),
        (Err(p), Err(_)) => Err(p),
    }
}

/// Removes the lock `id` of the one object at `loc`.
async fn force_unlock_one(loc: &S3Location, id: &str) -> Result<LockHolder> {
    let client = super::client(&loc.region).await;
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
        Err(e) => Err(call_failed(
            format!(
                "cannot lock the state: PutObject s3://{}/{} in {} for {} failed",
                loc.bucket,
                loc.lock_key(),
                loc.region,
                holder.operation
            ),
            loc,
            &e,
        )),
    }
}

/// Takes the lock as `holder`, failing at once when it is held, or polling with doubling
/// waits until `timeout` has passed.
pub(super) async fn acquire(
    client: &aws_sdk_s3::Client,
    loc: &S3Location,
    holder: &LockHolder,
    timeout: Option<Duration>,
) -> Result<()> {
    let deadline = Instant::now() + timeout.unwrap_or_default();
    let mut wait = FIRST_WAIT;
    loop {
        let other = match try_lock(client, loc, holder).await? {
            Ok(()) => return Ok(()),
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
