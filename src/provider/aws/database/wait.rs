//! Waiting for an instance to become available or to go away (`poll.rs`), and reading one
//! instance back.

use super::super::poll::{self, Pace, Reading};
use super::*;
use aws_sdk_rds::types::Filter;

/// Statuses an instance does not leave by itself: waiting for `available` stops there.
/// AWS's waiter definition for `DBInstanceAvailable` fails on these
/// (aws-sdk rds 2014-10-31 waiters-1.json).
const STUCK: &[&str] = &[
    "deleted",
    "deleting",
    "failed",
    "incompatible-restore",
    "incompatible-parameters",
];

impl Rds {
    /// Waits for `available` through `creating`, `backing-up`, `modifying`, `rebooting` ...
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html,
    /// "Viewing Amazon RDS DB instance status") and answers the instance as last read; not
    /// listed right after a create is read again.
    pub(crate) async fn wait_available(
        &self,
        identifier: &str,
        address: &Address,
    ) -> anyhow::Result<DbInstance> {
        self.wait_status(identifier, address, "available").await
    }

    /// Waits for the status `want` (`available`, or `stopped` through `stopping`) and
    /// returns the instance as last read.
    pub(crate) async fn wait_status(
        &self,
        identifier: &str,
        address: &Address,
        want: &str,
    ) -> anyhow::Result<DbInstance> {
        let r = self.region.as_str();
        poll::until(Pace::database(self.emulator), want, r, address, || async {
            let found = match self.read_batched(identifier).await? {
                Reading::Ready(found) => found,
                Reading::NotYet(why) => return Ok(Reading::NotYet(why)),
            };
            let status = found
                .as_ref()
                .and_then(|i| i.db_instance_status())
                .unwrap_or("not listed")
                .to_string();
            if STUCK.contains(&status.as_str()) {
                bail!("{address}: {identifier} in {r} is {status} while standby waits for it to be {want}: look at it in the RDS console");
            }
            Ok(match found {
                Some(instance) if status == want => Reading::Ready(instance),
                _ => Reading::NotYet(status),
            })
        })
        .await
    }

    /// Waits until `DescribeDBInstances` lists it no more (through `deleting`).
    pub(crate) async fn wait_deleted(
        &self,
        identifier: &str,
        address: &Address,
    ) -> anyhow::Result<()> {
        let r = self.region.as_str();
        poll::until(
            Pace::database(self.emulator),
            "deleted",
            r,
            address,
            || async {
                Ok(match self.read_batched(identifier).await? {
                    Reading::Ready(None) => Reading::Ready(()),
                    Reading::Ready(Some(i)) => {
                        Reading::NotYet(i.db_instance_status().unwrap_or("listed").to_string())
                    }
                    Reading::NotYet(why) => Reading::NotYet(why),
                })
            },
        )
        .await
    }

    /// `identifier` as one `DescribeDBInstances` of every instance of the region waited for
    /// at this time read it (filter `db-instance-id`, which lists no missing identifier where
    /// `DBInstanceIdentifier` fails:
    /// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBInstances.html).
    async fn read_batched(&self, identifier: &str) -> anyhow::Result<Reading<Option<DbInstance>>> {
        let (client, region) = (self.client.clone(), self.region.clone());
        // RDS stores identifiers in lower case and matches them so
        // (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html).
        self.waits
            .read(&identifier.to_ascii_lowercase(), move |ids| async move {
                let subject = format!("the instances {} waited for", ids.join(", "));
                let filter = Filter::builder()
                    .name("db-instance-id")
                    .set_values(Some(ids))
                    .build();
                let listed: Result<Vec<DbInstance>, _> = client
                    .describe_db_instances()
                    .filters(filter)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await;
                match listed {
                    Ok(listed) => Ok(Reading::Ready(
                        listed
                            .into_iter()
                            .filter_map(|i| {
                                Some((i.db_instance_identifier()?.to_ascii_lowercase(), i))
                            })
                            .collect(),
                    )),
                    Err(e) => poll::soft(e, &[], "DescribeDBInstances", &region, &subject),
                }
            })
            .await
    }

    /// The instance `identifier`, if RDS lists it: read with whatever other reads of the
    /// region are due now (the adoption checks of creates issued together are one read).
    pub(crate) async fn describe_one(
        &self,
        identifier: &str,
        address: &Address,
    ) -> anyhow::Result<Option<DbInstance>> {
        match self.read_batched(identifier).await? {
            Reading::Ready(found) => Ok(found),
            Reading::NotYet(why) => bail!(
                "DescribeDBInstances in {} failed for {address}: {why}; run the command again",
                self.region
            ),
        }
    }
}
