//! `standby check --canary`: an object written to the primary's bucket, waited for in a
//! standby's replica, then deleted from both, version by version (a delete with a version
//! id is not replicated, so each side is deleted on its own:
//! https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-what-is-isnot-replicated.html).

use super::super::error::AwsResultExt;
use super::super::poll::{self, Pace, Reading};
use super::super::AwsProvider;
use crate::provider::{BucketAt, Canary};
use aws_sdk_s3::primitives::ByteStream;
use std::time::{Duration, Instant};

/// Where canaries are written: one object per check, under this prefix.
pub(crate) const CANARY_PREFIX: &str = "standby-canary/";
/// Between two looks at the replica.
const LOOK_EVERY: Duration = Duration::from_secs(2);
const NOT_THERE: &[&str] = &["NotFound", "NoSuchKey", "404"];

impl AwsProvider {
    pub(in super::super) async fn run_canary(
        &self,
        source: &BucketAt,
        replica: &BucketAt,
        within: Duration,
    ) -> anyhow::Result<Option<Canary>> {
        let key = canary_key()?;
        let from = self.s3(&source.region);
        let to = self.s3(&replica.region);
        let put = from
            .client
            .put_object()
            .bucket(&source.bucket)
            .key(&key)
            .body(ByteStream::from_static(b"standby check canary"))
            .send()
            .await
            .op(
                "PutObject",
                &source.region,
                &format!("the canary s3://{}/{key}", source.bucket),
            )?;
        let started = Instant::now();
        let arrived = if self.emulator.on() {
            // Emulator workaround (`emulator.rs`, 16): moto does not replicate objects.
            None
        } else {
            Some(self.wait_for(replica, &key, within).await?)
        };
        let mut cleanup = vec![(from, source.bucket.clone(), put.version_id)];
        if let Some(Some(version)) = &arrived {
            cleanup.push((to, replica.bucket.clone(), version.clone()));
        }
        for (s3, bucket, version) in cleanup {
            s3.client
                .delete_object()
                .bucket(&bucket)
                .key(&key)
                .set_version_id(version)
                .send()
                .await
                .op(
                    "DeleteObject",
                    &s3.region,
                    &format!("the canary s3://{bucket}/{key}"),
                )?;
        }
        Ok(arrived.map(|a| match a {
            Some(_) => Canary::Arrived(started.elapsed()),
            None => Canary::NotArrived,
        }))
    }

    /// The replica's version of the canary once it is there; `None` when `within` ends first.
    async fn wait_for(
        &self,
        replica: &BucketAt,
        key: &str,
        within: Duration,
    ) -> anyhow::Result<Option<Option<String>>> {
        let s3 = self.s3(&replica.region);
        let pace = Pace {
            delay: Duration::ZERO,
            interval: LOOK_EVERY,
            ready_run: 1,
            max: within + LOOK_EVERY,
        };
        let subject = &replica.address;
        let look = poll::until(
            pace,
            "the canary's replica",
            &replica.region,
            subject,
            || async {
                let head = s3
                    .client
                    .head_object()
                    .bucket(&replica.bucket)
                    .key(key)
                    .send()
                    .await
                    .absent_if(NOT_THERE, "HeadObject", &replica.region, subject)?;
                Ok(match head {
                    Some(h) => Reading::Ready(h.version_id),
                    None => Reading::NotYet("not replicated yet".into()),
                })
            },
        );
        match tokio::time::timeout(within, look).await {
            Ok(found) => found.map(Some),
            Err(_) => Ok(None),
        }
    }
}

/// `standby-canary/<16 hex digits>`: unique per check.
fn canary_key() -> anyhow::Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness for a canary name: {e}"))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{CANARY_PREFIX}{hex}"))
}
