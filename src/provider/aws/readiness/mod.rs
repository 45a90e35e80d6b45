//! Reads for `standby check`: whether a standby region could run the stack at full size
//! (the image there, the instance type offered, the database class orderable; the vCPU
//! quota in `quota.rs`), the data and traffic signals (`signals.rs`) and the canary
//! (`canary.rs`); and for `plan`: each new launch template's image, and its instance type in
//! each zone.
//!
//! Invariant: read only; each read is one call in the standby's own region.

mod canary;
mod quota;
mod signals;

use super::error::AwsResultExt;
use super::AwsProvider;
use aws_sdk_ec2::types::{Filter, LocationType};

impl AwsProvider {
    /// Whether `image` exists and is `available` in `region`: a missing or deregistered
    /// image answers `InvalidAMIID.NotFound` or `InvalidAMIID.Unavailable`
    /// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImages.html).
    pub(super) async fn image_is_available(
        &self,
        region: &str,
        image: &str,
    ) -> anyhow::Result<bool> {
        let ec2 = self.ec2(region);
        let _permit = ec2.limit.acquire().await?;
        let out = ec2
            .client
            .describe_images()
            .image_ids(image)
            .send()
            .await
            .absent_if(
                &[
                    "InvalidAMIID.NotFound",
                    "InvalidAMIID.Unavailable",
                    "InvalidAMIID.Malformed",
                ],
                "DescribeImages",
                region,
                &format!("image {image}"),
            )?;
        Ok(out.is_some_and(|o| {
            o.images().iter().any(|i| {
                i.image_id() == Some(image) && i.state().is_some_and(|s| s.as_str() == "available")
            })
        }))
    }

    /// Whether `instance_type` is offered in `region`
    /// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypeOfferings.html).
    pub(super) async fn instance_type_is_offered(
        &self,
        region: &str,
        instance_type: &str,
    ) -> anyhow::Result<bool> {
        let ec2 = self.ec2(region);
        let _permit = ec2.limit.acquire().await?;
        let out = ec2
            .client
            .describe_instance_type_offerings()
            .location_type(LocationType::Region)
            .filters(
                Filter::builder()
                    .name("instance-type")
                    .values(instance_type)
                    .build(),
            )
            .send()
            .await
            .op(
                "DescribeInstanceTypeOfferings",
                region,
                &format!("instance type {instance_type}"),
            )?;
        Ok(out.instance_type_offerings().iter().any(|o| {
            o.instance_type()
                .is_some_and(|t| t.as_str() == instance_type)
        }))
    }

    /// Whether `instance_type` is offered in the availability zone `zone` of `region`: a
    /// type offered in the region may be missing from some of its zones (LocationType
    /// `availability-zone`,
    /// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypeOfferings.html).
    pub(super) async fn instance_type_is_offered_in(
        &self,
        region: &str,
        instance_type: &str,
        zone: &str,
    ) -> anyhow::Result<bool> {
        let ec2 = self.ec2(region);
        let _permit = ec2.limit.acquire().await?;
        let filter = |name: &str, value: &str| Filter::builder().name(name).values(value).build();
        let out = ec2
            .client
            .describe_instance_type_offerings()
            .location_type(LocationType::AvailabilityZone)
            .filters(filter("instance-type", instance_type))
            .filters(filter("location", zone))
            .send()
            .await
            .op(
                "DescribeInstanceTypeOfferings",
                region,
                &format!("instance type {instance_type} in {zone}"),
            )?;
        Ok(out.instance_type_offerings().iter().any(|o| {
            o.instance_type()
                .is_some_and(|t| t.as_str() == instance_type)
                && o.location() == Some(zone)
        }))
    }

    /// Whether RDS offers `class` for `engine` at `version` in `region`
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeOrderableDBInstanceOptions.html).
    pub(super) async fn db_class_is_orderable(
        &self,
        region: &str,
        engine: &str,
        version: &str,
        class: &str,
    ) -> anyhow::Result<bool> {
        let rds = self.rds(region);
        let _permit = rds.limit.acquire().await?;
        let out = rds
            .client
            .describe_orderable_db_instance_options()
            .engine(engine)
            .set_engine_version((!version.is_empty()).then(|| version.to_string()))
            .db_instance_class(class)
            .max_records(20)
            .send()
            .await
            .op(
                "DescribeOrderableDBInstanceOptions",
                region,
                &format!("{engine} {version} on {class}"),
            )?;
        Ok(!out.orderable_db_instance_options().is_empty())
    }
}
