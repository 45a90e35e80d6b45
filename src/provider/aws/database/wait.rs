//! Waiting for an instance to become available, and reading one instance back.

use super::*;

impl Rds {
    pub(crate) async fn wait_available(
        &self,
        identifier: &str,
        address: &Address,
    ) -> anyhow::Result<()> {
        self.client
            .wait_until_db_instance_available()
            .db_instance_identifier(identifier)
            .wait(DB_WAIT)
            .await
            .map_err(|e| error::wait_failure("available", &self.region, address, &e))?;
        Ok(())
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
