//! `plan` checks what a launch template needs before it creates or changes one (issue 14,
//! point 9): each region's image exists there and is available (AMI ids are regional), and
//! the instance type is offered in each zone of the region's subnets. A failure names the
//! region, the image or type and the fix; a per-region image override passes and is what
//! the region's launch template runs, read back through the SDK.

use crate::support::specs::{replace_once, DR_WITHOUT_DATABASE};
use crate::support::workspace::Workspace;
use crate::support::Emulator;

const ENV: &str = "environments/prod";
const IMAGE: &str = "ami-12c6146b";
/// Another image moto knows in every region.
const WEST_IMAGE: &str = "ami-1812c061";

/// The image of the default version of the launch template `name` in `region`.
async fn template_image(emulator: &Emulator, region: &str, name: &str) -> String {
    let out = emulator
        .ec2(region)
        .await
        .describe_launch_template_versions()
        .launch_template_name(name)
        .versions("$Default")
        .send()
        .await
        .unwrap();
    let data = out.launch_template_versions()[0]
        .launch_template_data()
        .unwrap();
    data.image_id().unwrap().to_string()
}

#[tokio::test]
async fn plan_fails_naming_the_region_whose_image_is_missing_and_a_region_override_fixes_it() {
    let emulator = Emulator::start();
    let ws = Workspace::new(emulator.env());
    emulator
        .ec2("us-west-2")
        .await
        .deregister_image()
        .image_id(IMAGE)
        .send()
        .await
        .unwrap();
    ws.write("environments/prod/main.hcl", DR_WITHOUT_DATABASE);

    let plan = ws.run(&["plan", ENV]);
    assert_eq!(plan.code, 1, "{}", plan.stderr);
    assert!(
        plan.stderr.contains(
            "region us-west-2: image ami-12c6146b does not exist there or is not available (DescribeImages)"
        ) && plan.stderr.contains("aws ec2 copy-image"),
        "{}",
        plan.stderr
    );
    for other in ["region us-east-1:", "region eu-west-1:"] {
        assert!(!plan.stderr.contains(other), "{other}: {}", plan.stderr);
    }

    let spec = replace_once(
        DR_WITHOUT_DATABASE,
        "capacity = 0.5\n",
        &format!("capacity = 0.5\n  cluster \"web\" {{ image = \"{WEST_IMAGE}\" }}\n"),
    );
    ws.write("environments/prod/main.hcl", &spec);
    ws.run(&["apply", ENV, "--auto-approve"]).ok();
    let name = |r: &str| format!("checkout-prod-web-{r}");
    assert_eq!(
        template_image(&emulator, "us-west-2", &name("us-west-2")).await,
        WEST_IMAGE
    );
    assert_eq!(
        template_image(&emulator, "us-east-1", &name("us-east-1")).await,
        IMAGE
    );
}

#[tokio::test]
async fn plan_fails_naming_a_zone_that_does_not_offer_the_instance_type() {
    let emulator = Emulator::start();
    let ws = Workspace::new(emulator.env());
    // us-east-1e offers no t3 instances (moto's offerings follow AWS's).
    let spec = replace_once(
        DR_WITHOUT_DATABASE,
        "cidr = \"10.0.0.0/16\"",
        "cidr = \"10.0.0.0/16\"\n  zones = [\"us-east-1a\", \"us-east-1e\"]",
    );
    ws.write("environments/prod/main.hcl", &spec);

    // apply plans first: it stops before any change.
    let plan = ws.run(&["apply", ENV, "--auto-approve"]);
    assert_eq!(plan.code, 1, "{}", plan.stderr);
    assert!(
        plan.stderr.contains(
            "region us-east-1: instance type t3.micro is not offered in us-east-1e (DescribeInstanceTypeOfferings)"
        ),
        "{}",
        plan.stderr
    );
    assert!(!plan.stderr.contains("us-east-1a"), "{}", plan.stderr);
    let vpcs = emulator
        .ec2("us-east-1")
        .await
        .describe_vpcs()
        .send()
        .await
        .unwrap();
    assert!(
        vpcs.vpcs().iter().all(|v| v.is_default() == Some(true)),
        "nothing was created"
    );
}
