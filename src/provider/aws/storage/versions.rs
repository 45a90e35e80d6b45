//! `standby restore --buckets`: a versioned bucket's objects listed version by version, and
//! each object brought back to its version of a time
//! (https://docs.aws.amazon.com/AmazonS3/latest/userguide/RestoringPreviousVersions.html:
//! copy the previous version onto the key, or delete the delete marker).

use super::S3;
use crate::address::Address;
use crate::provider::aws::error::AwsResultExt;
use crate::provider::{ObjectStep, ObjectVersion};
use aws_smithy_types::date_time::Format;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What CopySource leaves unencoded: the key's `/` and the unreserved characters.
const KEY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

impl S3 {
    /// ListObjectVersions, every page: versions and delete markers alike.
    pub(crate) async fn object_versions(&self, bucket: &str) -> anyhow::Result<Vec<ObjectVersion>> {
        let r = self.region.as_str();
        let subject = format!("bucket {bucket}");
        let time = |t: Option<&aws_smithy_types::DateTime>| {
            t.and_then(|t| t.fmt(Format::DateTime).ok())
                .unwrap_or_default()
        };
        let mut out = Vec::new();
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(bucket)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .op("ListObjectVersions", r, &subject)?;
            for v in page.versions() {
                out.push(ObjectVersion {
                    key: v.key().unwrap_or_default().to_string(),
                    version_id: v.version_id().unwrap_or_default().to_string(),
                    last_modified: time(v.last_modified()),
                    delete_marker: false,
                    is_latest: v.is_latest().unwrap_or(false),
                });
            }
            for m in page.delete_markers() {
                out.push(ObjectVersion {
                    key: m.key().unwrap_or_default().to_string(),
                    version_id: m.version_id().unwrap_or_default().to_string(),
                    last_modified: time(m.last_modified()),
                    delete_marker: true,
                    is_latest: m.is_latest().unwrap_or(false),
                });
            }
            if page.is_truncated() != Some(true) {
                return Ok(out);
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
        }
    }

    /// Carries out each step on `bucket`, in order.
    pub(crate) async fn restore_objects(
        &self,
        bucket: &str,
        steps: &[ObjectStep],
        a: &Address,
    ) -> anyhow::Result<()> {
        let r = self.region.as_str();
        for step in steps {
            match step {
                ObjectStep::Revert { key, version_id } => {
                    let source = format!(
                        "{bucket}/{}?versionId={version_id}",
                        utf8_percent_encode(key, KEY)
                    );
                    self.client
                        .copy_object()
                        .bucket(bucket)
                        .key(key)
                        .copy_source(source)
                        .send()
                        .await
                        .op("CopyObject", r, a)?;
                }
                ObjectStep::Undelete { key, markers } => {
                    for marker in markers {
                        self.client
                            .delete_object()
                            .bucket(bucket)
                            .key(key)
                            .version_id(marker)
                            .send()
                            .await
                            .op("DeleteObject", r, a)?;
                    }
                }
                ObjectStep::Remove { key } => {
                    self.client
                        .delete_object()
                        .bucket(bucket)
                        .key(key)
                        .send()
                        .await
                        .op("DeleteObject", r, a)?;
                }
            }
            tracing::info!(address = %a, key = step.key(), "object restored");
        }
        Ok(())
    }
}
