//! Waiting for an instance to become available or to go away (`poll.rs`), and reading one
//! instance back.

use super::super::poll::{self, Pace, Reading};
use super::*;

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
    /// "Viewing Amazon RDS DB instance status"); NotFound right after a create is read again.
    pub(crate) async fn wait_available(
        &self,
        identifier: &str,
        address: &Address,
    ) -> anyhow::Result<()> {
        self.wait_status(identifier, address, "available").await
    }

    /// Waits for the status `want` (`available`, or `stopped` through `stopping`).
    pub(crate) async fn wait_status(
        &self,
        identifier: &str,
        address: &Address,
        want: &str,
    ) -> anyhow::Result<()> {
        let r = self.region.as_str();
        poll::until(Pace::database(self.emulator), want, r, address, || async {
            let read = self
                .client
                .describe_db_instances()
                .db_instance_identifier(identifier)
                .send()
                .await;
            let out = match read {
                Ok(o) => o,
                Err(e) => return poll::soft(e, NO_INSTANCE, "DescribeDBInstances", r, address),
            };
            let status = out
                .db_instances()
                .first()
                .and_then(|i| i.db_instance_status())
                .unwrap_or("not listed")
                .to_string();
            if STUCK.contains(&status.as_str()) {
                bail!("{address}: {identifier} in {r} is {status} while standby waits for it to be {want}: look at it in the RDS console");
            }
            Ok(if status == want {
                Reading::Ready(())
            } else {
                Reading::NotYet(status)
            })
        })
        .await
    }

    /// Waits until `DescribeDBInstances` answers NotFound (through `deleting`).
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
                let read = self
                    .client
                    .describe_db_instances()
                    .db_instance_identifier(identifier)
                    .send()
                    .await;
                match read {
                    Ok(o) => Ok(Reading::NotYet(
                        o.db_instances()
                            .first()
                            .and_then(|i| i.db_instance_status())
                            .unwrap_or("listed")
                            .to_string(),
                    )),
                    Err(e) if error::code(&e).is_some_and(|c| NO_INSTANCE.contains(&c)) => {
                        Ok(Reading::Ready(()))
                    }
                    Err(e) => poll::soft(e, &[], "DescribeDBInstances", r, address),
                }
            },
        )
        .await
    }

    pub(crate) async fn describe_one(
        &self,
        identifier: &str,
        address: &Address,
    ) -> anyhow::Result<Option<DbInstance>> {
        Ok(self
            .client
            .describe_db_instances()
            .db_instance_identifier(identifier)
            .send()
            .await
            .absent_if(NO_INSTANCE, "DescribeDBInstances", &self.region, address)?
            .and_then(|o| o.db_instances().first().cloned()))
    }
}
