//! `standby check`'s rows read from live signals, against the emulator through the test
//! proxy (which answers Service Quotas for EC2, unknown to moto): after apply the vCPU quota,
//! the primary's latest restorable time, the secret's replica and the target health are
//! ready; then a vCPU quota below full size, a secret no longer replicated and stopped
//! instances each make check exit 2 naming the region, the check and the fix. `--canary`
//! writes and deletes its object (moto does not replicate it: unknown).

use crate::check_emulator::assert_well_formed;
use crate::support::aws;
use crate::support::proxy::Proxy;
use crate::support::specs::{replace_once, DR};
use crate::support::workspace::{Run, Workspace};
use crate::support::Emulator;
use serde_json::Value;

const QUOTA: &str = "L-1216C47A";

fn check(ws: &Workspace, extra: &[&str]) -> Run {
    let mut args = vec!["check", "environments/prod", "--region", "us-west-2"];
    args.extend_from_slice(extra);
    ws.run(&args)
}

/// The us-west-2 row of `check` (its `check` field) in a JSON report.
fn row<'a>(doc: &'a Value, check: &str) -> &'a Value {
    doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "us-west-2" && r["check"] == check)
        .unwrap_or_else(|| panic!("no {check} row: {doc:#}"))
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[tokio::test]
async fn live_signals_are_ready_after_apply_and_each_broken_one_fails_check() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let ws = Workspace::new(proxy.env());
    let spec = replace_once(DR, "rto = \"15m\"", "rto = \"20m\"");
    ws.write("environments/prod/main.hcl", &spec);
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    aws::publish_lag(
        &emulator,
        "us-west-2",
        "checkout-prod-orders-us-west-2",
        2.0,
    )
    .await;

    // moto knows no EC2 quota: unknown, with why.
    let unknown = check(&ws, &[]);
    assert_eq!(unknown.code, 0, "{}", unknown.stdout);
    assert!(
        unknown.stdout.contains(
            "unknown    capacity  vcpus free for full size (standard instances quota): none, wanted none\n      unknown: Service Quotas knows no value of quota L-1216C47A here"
        ),
        "{}",
        unknown.stdout
    );

    proxy.set_service_quota(QUOTA, 1000.0);
    let ready = check(&ws, &["--format", "json"]);
    assert_eq!(ready.code, 0, "{}", ready.stderr);
    let doc = json(&ready);
    for name in [
        "vcpu_quota",
        "latest_restorable",
        "secret_replica",
        "target_health",
    ] {
        assert_eq!(row(&doc, name)["verdict"], "ready", "{name}: {doc:#}");
    }
    assert_eq!(
        row(&doc, "secret_replica")["measured"],
        serde_json::json!({"unit": "in_sync", "value": true})
    );
    assert_eq!(
        row(&doc, "target_health")["measured"],
        serde_json::json!({"unit": "count", "value": 2}),
        "the warm standby's two instances"
    );
    let quota = row(&doc, "vcpu_quota");
    let free = quota["measured"]["value"].as_u64().unwrap();
    let needed = quota["threshold"]["value"].as_u64().unwrap();
    assert!(needed > 0, "scaling to full size adds instances: {quota}");
    assert!(
        free < 1000,
        "what runs in us-west-2 uses the quota: {quota}"
    );

    // A quota one vCPU short of full size.
    let running = 1000 - free;
    proxy.set_service_quota(QUOTA, (running + needed - 1) as f64);
    let short = check(&ws, &[]);
    assert_eq!(short.code, 2, "{}", short.stdout);
    assert!(
        short.stdout.contains(&format!(
            "not ready  capacity  vcpus free for full size (standard instances quota): {}, wanted at least {needed}\n      fix: request an increase of the EC2 quota L-1216C47A (Running On-Demand Standard instances) in us-west-2 by at least 1 vCPUs",
            needed - 1
        )),
        "{}",
        short.stdout
    );
    proxy.set_service_quota(QUOTA, 1000.0);

    // The secret's replica in us-west-2 removed.
    let state = ws.state("prod");
    let secret = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "db_secret")
        .expect("the database's secret")["id"]
        .as_str()
        .unwrap()
        .to_string();
    aws::secrets(&emulator, "us-east-1")
        .await
        .remove_regions_from_replication()
        .secret_id(&secret)
        .remove_replica_regions("us-west-2")
        .send()
        .await
        .unwrap();
    let junit = check(&ws, &["--format", "junit"]);
    assert_eq!(junit.code, 2);
    assert_well_formed(&junit.stdout);
    assert!(
        junit.stdout.contains(
            "<testcase classname=\"us-west-2.data\" name=\"replica of secret region.us-east-1.database.orders.secret\">\n      <failure message=\"fix: run `standby apply` to replicate region.us-east-1.database.orders.secret to us-west-2"
        ),
        "{}",
        junit.stdout
    );
    ws.run(&["apply", "environments/prod", "--auto-approve"])
        .ok();
    assert_eq!(check(&ws, &[]).code, 0, "apply replicates the secret again");

    // The warm standby's instances stopped: no healthy target behind its load balancer.
    let ec2 = emulator.ec2("us-west-2").await;
    let ids: Vec<String> = aws::environment_instances(&emulator, "us-west-2", &["running"])
        .await
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    ec2.stop_instances()
        .set_instance_ids(Some(ids))
        .send()
        .await
        .unwrap();
    let stopped = check(&ws, &["--format", "json"]);
    assert_eq!(stopped.code, 2, "{}", stopped.stderr);
    let doc = json(&stopped);
    let targets = row(&doc, "target_health");
    assert_eq!(targets["verdict"], "not_ready", "{targets}");
    assert_eq!(
        targets["target_group"],
        "region.us-west-2.cluster.web.target_group"
    );
    assert!(
        targets["fix"]
            .as_str()
            .unwrap()
            .starts_with("no healthy target in region.us-west-2.cluster.web.target_group"),
        "{targets}"
    );

    // The canary: written to the primary's bucket and deleted; moto never replicates it.
    let canary = check(&ws, &["--canary"]);
    assert!(
        canary.stdout.contains(
            "unknown    data      canary through region.us-east-1.bucket.receipts.replication: none, wanted at most 5m\n      unknown: the canary was written and deleted"
        ),
        "{}",
        canary.stdout
    );
    assert_eq!(proxy.count_operation("s3", "PutObject"), 1);
    let versions = emulator
        .s3("us-east-1")
        .await
        .list_object_versions()
        .bucket("checkout-prod-receipts-us-east-1")
        .prefix("standby-canary/")
        .send()
        .await
        .unwrap();
    assert!(
        versions.versions().is_empty() && versions.delete_markers().is_empty(),
        "the canary is gone: {versions:?}"
    );
}
