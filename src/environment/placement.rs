//! What a plan checks before it creates or changes a launch template: AMI ids are regional
//! and an instance type is not offered in every zone, so each region's image must exist
//! there and be `available` (DescribeImages), and the instance type must be offered in each
//! zone the cluster's subnets are in (DescribeInstanceTypeOfferings, LocationType
//! `availability-zone`). Without it the plan would apply and fail at the launch.
//!
//! Invariant: read only; a provider that cannot tell (`None`) passes, and a region assumed
//! down is not asked.

use crate::plan::{Action, Plan};
use crate::provider::{CapacityNeed, Provider};
use crate::topology::{reads, Desired, Kind};
use anyhow::{bail, Result};
use std::collections::{BTreeMap, BTreeSet};

/// Fails naming every region, image or instance type that would not launch, with the fix.
pub async fn check_placement(
    provider: &dyn Provider,
    plan: &Plan,
    desired: &[Desired],
    assume_down: &BTreeSet<String>,
) -> Result<()> {
    let mut problems = Vec::new();
    for (region, need) in needs(plan, desired) {
        if assume_down.contains(&region) {
            continue;
        }
        if provider.capacity(&region, &need).await? == Some(false) {
            problems.push(problem(&region, &need));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    bail!(
        "the plan's launch templates would not launch:\n  {}",
        problems.join("\n  ")
    )
}

/// Per region, the image and the instance type in each subnet's zone of every launch
/// template the plan creates, replaces or changes.
fn needs(plan: &Plan, desired: &[Desired]) -> BTreeSet<(String, CapacityNeed)> {
    let mut zones: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for d in desired.iter().filter(|d| d.kind == Kind::Subnet) {
        if let (Some(region), Some(zone)) = (d.region.as_deref(), reads::subnet_zone(&d.attrs)) {
            zones.entry(region).or_default().push(zone.to_string());
        }
    }
    let mut needs = BTreeSet::new();
    for a in &plan.actions {
        let (Action::Create { desired: d }
        | Action::Replace { desired: d, .. }
        | Action::Update { desired: d, .. }) = a
        else {
            continue;
        };
        let Some(region) = d
            .region
            .as_deref()
            .filter(|_| d.kind == Kind::LaunchTemplate)
        else {
            continue;
        };
        let image = reads::image(&d.attrs).to_string();
        needs.insert((region.to_string(), CapacityNeed::Image { image }));
        for zone in zones.get(region).into_iter().flatten() {
            let need = CapacityNeed::InstanceTypeInZone {
                instance_type: reads::instance_type(&d.attrs).to_string(),
                zone: zone.clone(),
            };
            needs.insert((region.to_string(), need));
        }
    }
    needs
}

fn problem(region: &str, need: &CapacityNeed) -> String {
    match need {
        CapacityNeed::Image { image } => format!(
            "region {region}: image {image} does not exist there or is not available (DescribeImages): AMI ids are regional: copy the image to {region} (`aws ec2 copy-image`) and set its id for {region} in a region override (`region \"{region}\" {{ cluster \"NAME\" {{ image = \"ami-...\" }} }}`)"
        ),
        CapacityNeed::InstanceTypeInZone { instance_type, zone } => format!(
            "region {region}: instance type {instance_type} is not offered in {zone} (DescribeInstanceTypeOfferings): set the region's `zones` to zones that offer it, or another instance_type for {region} in a region override"
        ),
        CapacityNeed::InstanceType { instance_type } => format!(
            "region {region}: instance type {instance_type} is not offered there (DescribeInstanceTypeOfferings): set another instance_type for {region} in a region override"
        ),
        CapacityNeed::DbClass { class, .. } => format!(
            "region {region}: RDS does not offer {class} there: set an orderable instance_class in a region override"
        ),
    }
}
