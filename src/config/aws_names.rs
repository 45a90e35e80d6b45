//! Names AWS would refuse, caught offline: regions, availability zones, EC2 instance types
//! and RDS DB instance classes. Only the shape is checked here; whether a type is offered
//! in a region is for AWS to say, at plan time.
//!
//! Invariant: every region in `REGIONS` passes `check_region`, and the names used by the
//! repository's specs and examples pass every check.

use super::reporter::closest;

/// The regions of AWS's commercial partition (`aws`), the only partition standby's ARNs
/// (`arn:aws:...`) address. Source: the AWS Region list of the AWS documentation
/// (docs.aws.amazon.com/global-infrastructure/latest/regions/aws-region-billing-codes.html)
/// and botocore's `partitions.json`; add a region here when AWS opens one.
pub const REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// Region prefixes of the other partitions (same sources), for a precise message.
const OTHER_PARTITIONS: &[(&str, &str)] = &[
    ("us-gov-", "AWS GovCloud (US)"),
    ("cn-", "AWS China"),
    ("us-iso-", "AWS ISO"),
    ("us-isob-", "AWS ISO-B"),
    ("us-isof-", "AWS ISO-F"),
    ("eu-isoe-", "AWS ISO-E"),
];

/// `Err((message, help))` unless `name` is a commercial AWS region.
pub fn check_region(name: &str) -> Result<(), (String, String)> {
    if REGIONS.contains(&name) {
        return Ok(());
    }
    if let Some((_, partition)) = OTHER_PARTITIONS.iter().find(|(p, _)| name.starts_with(p)) {
        return Err((
            format!(
                "region `{name}` is in the {partition} partition, which standby does not manage"
            ),
            "standby manages the commercial AWS regions only, such as `us-east-1`".to_string(),
        ));
    }
    let help = match closest(name, REGIONS.iter().copied()) {
        Some(c) => format!("did you mean `{c}`? (the AWS regions standby knows are listed in the README)"),
        None => "write an AWS region such as `us-east-1` or `eu-west-1` (the regions standby knows are listed in the README)".to_string(),
    };
    Err((format!("unknown AWS region `{name}`"), help))
}

/// `Err((message, help))` unless `zone` is a zone of `region`: the region's name and one
/// letter, such as `us-east-1a`.
pub fn check_zone(zone: &str, region: &str) -> Result<(), (String, String)> {
    let letter = |s: &str| s.len() == 1 && s.chars().all(|c| c.is_ascii_lowercase());
    if zone.strip_prefix(region).is_some_and(letter) {
        return Ok(());
    }
    let owner = REGIONS
        .iter()
        .find(|r| zone.strip_prefix(*r).is_some_and(letter));
    let message = match owner {
        Some(owner) => format!("zone `{zone}` belongs to region `{owner}`, not `{region}`"),
        None => format!("invalid zone `{zone}` for region `{region}`"),
    };
    Err((
        message,
        format!("a zone of `{region}` is its name followed by a letter, such as `{region}a`"),
    ))
}

/// `Err((message, help))` unless `name` has the shape of an EC2 instance type.
pub fn check_instance_type(name: &str) -> Result<(), (String, String)> {
    if instance_type_shape(name) {
        return Ok(());
    }
    let help = match name.strip_prefix("db.") {
        Some(rest) if instance_type_shape(rest) => {
            format!("`db.` classes are for databases: did you mean `{rest}`?")
        }
        _ => "an EC2 instance type is a family and a size, such as `m6i.large` or `t3.micro`"
            .to_string(),
    };
    Err((format!("invalid instance type `{name}`"), help))
}

/// `Err((message, help))` unless `name` has the shape of an RDS DB instance class.
pub fn check_db_instance_class(name: &str) -> Result<(), (String, String)> {
    if name.strip_prefix("db.").is_some_and(instance_type_shape) {
        return Ok(());
    }
    let help = if instance_type_shape(name) {
        format!("a DB instance class starts with `db.`: did you mean `db.{name}`?")
    } else {
        "a DB instance class is `db.`, a family and a size, such as `db.r6g.large` or `db.t3.micro`"
            .to_string()
    };
    Err((format!("invalid DB instance class `{name}`"), help))
}

/// `m6i.large`, `c7gn.16xlarge`, `u-6tb1.metal`, `m7i-flex.large`, `r7i.metal-24xl`: a
/// family (a letter, then lower-case letters, digits and `-`, with a digit in it) and a
/// size (`nano` ... `xlarge`, `Nxlarge`, `metal`, `metal-Nxl`).
fn instance_type_shape(name: &str) -> bool {
    let Some((family, size)) = name.split_once('.') else {
        return false;
    };
    let family_ok = family.starts_with(|c: char| c.is_ascii_lowercase())
        && !family.ends_with('-')
        && family.chars().any(|c| c.is_ascii_digit())
        && family
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let size_ok = [
        "nano", "micro", "small", "medium", "large", "xlarge", "metal",
    ]
    .contains(&size)
        || size.strip_suffix("xlarge").is_some_and(digits)
        || size
            .strip_prefix("metal-")
            .and_then(|s| s.strip_suffix("xl"))
            .is_some_and(digits);
    family_ok && size_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        for r in REGIONS {
            assert!(check_region(r).is_ok(), "{r}");
        }
        let (message, help) = check_region("eu-west-9").unwrap_err();
        assert_eq!(message, "unknown AWS region `eu-west-9`");
        assert!(help.starts_with("did you mean `eu-west-"), "{help}");
        let (message, _) = check_region("us-gov-west-1").unwrap_err();
        assert!(message.contains("GovCloud"), "{message}");
        assert!(check_region("mars-north-1").is_err());
    }

    #[test]
    fn zones() {
        assert!(check_zone("us-east-1a", "us-east-1").is_ok());
        let (message, _) = check_zone("us-east-1b", "eu-west-1").unwrap_err();
        assert_eq!(
            message,
            "zone `us-east-1b` belongs to region `us-east-1`, not `eu-west-1`"
        );
        for bad in ["us-east-1", "us-east-1ab", "us-east-1A", "us-east-11a", "a"] {
            assert!(check_zone(bad, "us-east-1").is_err(), "{bad}");
        }
    }

    #[test]
    fn instance_types() {
        for ok in [
            "m6i.large",
            "t3.micro",
            "t3.small",
            "c7gn.16xlarge",
            "u-6tb1.metal",
            "m7i-flex.large",
            "mac2-m2pro.metal",
            "r7i.metal-24xl",
            "t4g.nano",
        ] {
            assert!(check_instance_type(ok).is_ok(), "{ok}");
        }
        for bad in [
            "large",
            "m6i",
            "m6i.",
            ".large",
            "m6i.huge",
            "M6i.large",
            "mi.large",
            "m6i.large.x",
        ] {
            assert!(check_instance_type(bad).is_err(), "{bad}");
        }
        let (_, help) = check_instance_type("db.r6g.large").unwrap_err();
        assert_eq!(
            help,
            "`db.` classes are for databases: did you mean `r6g.large`?"
        );
    }

    #[test]
    fn db_instance_classes() {
        for ok in [
            "db.r6g.large",
            "db.t3.micro",
            "db.m5d.24xlarge",
            "db.x2iedn.metal",
        ] {
            assert!(check_db_instance_class(ok).is_ok(), "{ok}");
        }
        for bad in ["large", "m6i", "r6g.large", "db.large", "db.r6g"] {
            assert!(check_db_instance_class(bad).is_err(), "{bad}");
        }
        let (_, help) = check_db_instance_class("r6g.large").unwrap_err();
        assert_eq!(
            help,
            "a DB instance class starts with `db.`: did you mean `db.r6g.large`?"
        );
    }
}
