//! Bucket names are global across AWS accounts (issue 14, point 9): a plan that creates
//! buckets names them and says how to choose others; a name another account holds stops the
//! apply with the fix; `bucket_name` gives the environment names of its own, and names in
//! the state are never changed by it (names are fixed at creation). Read back through the
//! SDK; the other account is moto's, chosen by its `x-moto-account-id` header.

use crate::support::specs::{replace_once, DR_WITHOUT_DATABASE};
use crate::support::workspace::Workspace;
use crate::support::Emulator;

const ENV: &str = "environments/prod";
const TAKEN: &str = "checkout-prod-receipts-us-west-2";

async fn own_buckets(emulator: &Emulator) -> Vec<String> {
    let out = emulator
        .s3("us-east-1")
        .await
        .list_buckets()
        .send()
        .await
        .unwrap();
    let mut names: Vec<String> = out
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_string))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_bucket_name_another_account_holds_stops_apply_and_bucket_name_chooses_another() {
    let emulator = Emulator::start();
    let ws = Workspace::new(emulator.env());
    emulator
        .s3("us-west-2")
        .await
        .create_bucket()
        .bucket(TAKEN)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                .build(),
        )
        .customize()
        .mutate_request(|r| {
            r.headers_mut().insert("x-moto-account-id", "111122223333");
        })
        .send()
        .await
        .unwrap();
    assert!(own_buckets(&emulator).await.is_empty(), "another account's");
    ws.write("environments/prod/main.hcl", DR_WITHOUT_DATABASE);

    let plan = ws.run(&["plan", ENV]).ok();
    assert!(
        plan.stdout.contains(
            "note: bucket names are global across AWS accounts: this plan creates checkout-prod-receipts-eu-west-1, checkout-prod-receipts-us-east-1, checkout-prod-receipts-us-west-2; if another account holds one, apply stops there: set `bucket_name` in the bucket block"
        ),
        "{}",
        plan.stdout
    );
    let taken = ws.run(&["apply", ENV, "--auto-approve"]);
    assert_eq!(taken.code, 1, "{}", taken.stderr);
    assert!(
        taken.stderr.contains(
            "region.us-west-2.bucket.receipts: bucket name checkout-prod-receipts-us-west-2 in us-west-2 is taken by another AWS account (CreateBucket: BucketAlreadyExists)"
        ) && taken.stderr.contains("set `bucket_name`"),
        "{}",
        taken.stderr
    );
    let before = own_buckets(&emulator).await;
    assert!(!before.contains(&TAKEN.to_string()), "{before:?}");

    let spec = replace_once(
        DR_WITHOUT_DATABASE,
        "bucket \"receipts\" {}",
        "bucket \"receipts\" {\n  bucket_name = \"acme-checkout-receipts\"\n}",
    );
    ws.write("environments/prod/main.hcl", &spec);
    ws.run(&["apply", ENV, "--auto-approve"]).ok();
    let after = own_buckets(&emulator).await;
    assert!(
        after.contains(&"acme-checkout-receipts-us-west-2".to_string()),
        "{after:?}"
    );
    // A bucket the first apply created keeps its name: names are fixed at creation.
    for kept in before.iter().filter(|b| b.contains("receipts")) {
        assert!(after.contains(kept), "{kept} renamed: {after:?}");
        assert!(
            !after.contains(&kept.replace("checkout-prod-receipts", "acme-checkout-receipts")),
            "{after:?}"
        );
    }
    assert_eq!(after.iter().filter(|b| b.contains("receipts")).count(), 3);
    let clean = ws.run(&["plan", ENV, "--detailed-exitcode"]);
    assert_eq!(clean.code, 0, "{}", clean.stdout);
}
