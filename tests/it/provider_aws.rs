//! The AWS provider against moto, through the `Provider` trait: create, read back through
//! the SDK directly, refresh to a clean diff with a bounded request count, idempotent
//! creates, deletes (twice), and error messages naming operation, region and address.

use crate::support::aws::role_policies;
use crate::support::provider::{
    assert_clean, create_all, desired, known, scope, Ctx, ENV, SERVICE,
};
use crate::support::Emulator;
use serde_json::json;
use standby::address::Address;
use standby::provider::aws::AwsProvider;
use standby::provider::{ApplyContext, Provider};
use standby::topology::{Desired, Kind, TAG_ADDRESS};
use std::collections::{BTreeMap, BTreeSet};

/// An AMI moto knows (it accepts unknown ones too, with a warning, but stay honest).
async fn known_ami(emu: &Emulator) -> String {
    let ami = "ami-12c6146b";
    let images = emu
        .ec2("us-east-1")
        .await
        .describe_images()
        .image_ids(ami)
        .send()
        .await
        .unwrap();
    assert_eq!(
        images.images().len(),
        1,
        "moto's default AMIs include {ami}"
    );
    ami.to_string()
}

fn network() -> Vec<Desired> {
    let r = "us-east-1";
    let vpc = "region.us-east-1.network.vpc";
    let subnet = "region.us-east-1.network.subnet[0]";
    let sg = "region.us-east-1.cluster.web.security_group";
    vec![
        desired(
            Kind::Vpc,
            Some(r),
            vpc,
            "checkout-test-vpc-us-east-1",
            json!({"cidr": "10.0.0.0/16"}),
            &[],
        ),
        desired(
            Kind::InternetGateway,
            Some(r),
            "region.us-east-1.network.internet_gateway",
            "checkout-test-igw-us-east-1",
            json!({}),
            &[("vpc", vpc)],
        ),
        desired(
            Kind::Subnet,
            Some(r),
            subnet,
            "checkout-test-subnet-us-east-1a",
            json!({"zone": "us-east-1a", "cidr": "10.0.1.0/24", "map_public_ip": true}),
            &[("vpc", vpc)],
        ),
        desired(
            Kind::SecurityGroup,
            Some(r),
            sg,
            "checkout-test-web-us-east-1",
            json!({"group_name": "checkout-test-web-us-east-1", "port": 443}),
            &[("vpc", vpc)],
        ),
    ]
}

async fn live_instances(
    emu: &Emulator,
    address: Option<&str>,
) -> Vec<aws_sdk_ec2::types::Instance> {
    let mut req = emu.ec2("us-east-1").await.describe_instances().filters(
        aws_sdk_ec2::types::Filter::builder()
            .name("instance-state-name")
            .values("pending")
            .values("running")
            .build(),
    );
    if let Some(a) = address {
        req = req.filters(
            aws_sdk_ec2::types::Filter::builder()
                .name(format!("tag:{TAG_ADDRESS}"))
                .values(a)
                .build(),
        );
    }
    let out = req.send().await.unwrap();
    out.reservations()
        .iter()
        .flat_map(|r| r.instances().iter().cloned())
        .collect()
}

/// The web cluster: a launch template and a group of `size` behind a load balancer.
fn cluster(ami: &str, size: u32, instance_type: &str) -> Vec<Desired> {
    let r = Some("us-east-1");
    let at = |part: &str| format!("region.us-east-1.cluster.web.{part}");
    let (lt, tg, lb) = (
        at("launch_template"),
        at("target_group"),
        at("load_balancer"),
    );
    let (sg, listener) = (at("security_group"), at("listener"));
    let subnet = "region.us-east-1.network.subnet[0]";
    let name = "checkout-test-web-us-east-1";
    let mut group = desired(
        Kind::AutoScalingGroup,
        r,
        &at("group"),
        name,
        json!({
            "name": name, "desired": size, "min": size, "max": 8, "min_healthy_percentage": 100,
            "instance_type": instance_type, "image": ami,
        }),
        &[
            ("launch_template", &lt),
            ("subnet.us-east-1a", subnet),
            ("target_group", &tg),
        ],
    );
    group.depends_on.push(Address::new(listener.clone()));
    vec![
        desired(
            Kind::LaunchTemplate,
            r,
            &lt,
            name,
            json!({"name": name, "instance_type": instance_type, "image": ami}),
            &[("security_group", &sg)],
        ),
        desired(
            Kind::TargetGroup,
            r,
            &tg,
            name,
            json!({"name": name, "protocol": "HTTP", "port": 443,
                   "health_check": {"protocol": "HTTP", "port": 443, "path": "/health"}}),
            &[("vpc", "region.us-east-1.network.vpc")],
        ),
        desired(
            Kind::LoadBalancer,
            r,
            &lb,
            name,
            json!({"name": name, "type": "application"}),
            &[("subnet.us-east-1a", subnet), ("security_group", &sg)],
        ),
        desired(
            Kind::Listener,
            r,
            &listener,
            &format!("{name}-443"),
            json!({"protocol": "HTTP", "port": 443}),
            &[("load_balancer", &lb), ("target_group", &tg)],
        ),
        group,
    ]
}

/// The groups in us-east-1: (name, desired, instances in service).
async fn live_groups(emu: &Emulator) -> Vec<(String, i32, usize)> {
    let conf = emu.sdk_config("us-east-1").await;
    let out = aws_sdk_autoscaling::Client::new(&conf)
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap();
    out.auto_scaling_groups()
        .iter()
        .map(|g| {
            let in_service = g
                .instances()
                .iter()
                .filter(|i| i.lifecycle_state().map(|s| s.as_str()) == Some("InService"))
                .count();
            let name = g.auto_scaling_group_name().unwrap().to_string();
            (name, g.desired_capacity().unwrap(), in_service)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn network_and_cluster_round_trip() {
    let emu = Emulator::start();
    let p = AwsProvider::with_endpoint(&emu.endpoint()).await.unwrap();
    let ctx = Ctx::default();
    let ami = known_ami(&emu).await;

    let mut ds = network();
    ds.extend(cluster(&ami, 2, "t3.micro"));
    let created = create_all(&p, &ctx, &ds).await;
    assert_eq!(created[8].computed["in_service"], json!(2));
    let lb = &created[6];
    assert!(
        lb.computed["dns_name"].as_str().unwrap().contains("elb"),
        "{lb:?}"
    );
    assert!(lb.computed["zone_id"].is_string());

    // Read back through the SDK, not through the provider.
    let ec2 = emu.ec2("us-east-1").await;
    let name = "checkout-test-web-us-east-1".to_string();
    assert_eq!(live_groups(&emu).await, [(name.clone(), 2, 2)]);
    let instances = live_instances(&emu, None).await;
    assert_eq!(instances.len(), 2);
    for i in &instances {
        let tags: BTreeMap<_, _> = i
            .tags()
            .iter()
            .map(|t| (t.key().unwrap(), t.value().unwrap()))
            .collect();
        assert_eq!(
            tags["standby:service"], SERVICE,
            "the group propagates its tags"
        );
        assert_eq!(tags["standby:environment"], ENV);
        assert_eq!(tags["team"], "payments");
        assert!(
            !tags.contains_key(TAG_ADDRESS),
            "an instance is its group's"
        );
        assert_eq!(i.instance_type().unwrap().as_str(), "t3.micro");
        assert_eq!(i.subnet_id(), Some(created[2].id.as_str()));
    }
    let subnet = ec2
        .describe_subnets()
        .subnet_ids(&created[2].id)
        .send()
        .await
        .unwrap();
    assert_eq!(subnet.subnets()[0].map_public_ip_on_launch(), Some(true));
    let sg = ec2
        .describe_security_groups()
        .group_ids(&created[3].id)
        .send()
        .await
        .unwrap();
    let perm = &sg.security_groups()[0].ip_permissions()[0];
    assert_eq!(
        (perm.ip_protocol(), perm.from_port(), perm.to_port()),
        (Some("tcp"), Some(443), Some(443))
    );
    let routes = ec2
        .describe_route_tables()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&created[0].id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(routes
        .route_tables()
        .iter()
        .flat_map(|t| t.routes())
        .any(|r| {
            r.destination_cidr_block() == Some("0.0.0.0/0")
                && r.gateway_id() == Some(created[1].id.as_str())
        }));

    // Refresh: a clean diff, in a handful of requests.
    let sc = scope(&["us-east-1"], false, Vec::new());
    let before = p.request_count();
    let observed = p.refresh(&sc).await.unwrap();
    let with_two = p.request_count() - before;
    assert_clean(&observed, &ds);
    // 4 EC2 describes (a plan lists no instances: the group's are the group's) and 2 RDS
    // ones; groups, templates and the template's default version; load balancers, target
    // groups, their tags, the listeners and theirs.
    assert_eq!(
        with_two,
        4 + 2 + 3 + 5 + 1,
        "refresh requests (moto: the template's tags too)"
    );
    // Knowing the balancer (the state does), its listeners are read beside the listing and
    // every tag in one call: one ELB request less, and two rounds of them fewer.
    let before = p.request_count();
    let observed = p
        .refresh(&scope(&["us-east-1"], false, known(&ds)))
        .await
        .unwrap();
    assert_clean(&observed, &ds);
    assert_eq!(p.request_count() - before, 4 + 2 + 3 + 4 + 1);

    // A larger group: one update, and the same number of refresh requests.
    let last = ds.len() - 1;
    for key in ["desired", "min"] {
        ds[last].attrs.insert(key.into(), json!(5));
    }
    let current = ctx.get(&ds[last].address).unwrap();
    let scaled = p.update(&ds[last], &current, &ctx).await.unwrap();
    ctx.put(&scaled);
    assert_eq!(scaled.computed["in_service"], json!(5));
    assert_eq!(live_groups(&emu).await, [(name.clone(), 5, 5)]);
    let before = p.request_count();
    let observed = p.refresh(&sc).await.unwrap();
    assert_eq!(
        p.request_count() - before,
        with_two,
        "refresh cost does not grow with instances"
    );
    assert_clean(&observed, &ds);

    // Creating the same resources again adopts them.
    for (d, o) in ds.iter().zip(&created) {
        assert_eq!(
            p.create(d, &ctx).await.unwrap().id,
            o.id,
            "{} adopted",
            d.address
        );
    }
    assert_eq!(live_groups(&emu).await.len(), 1);

    // Update in place: the security group's port; a new type is a new template version.
    let mut sg_d = ds[3].clone();
    sg_d.attrs.insert("port".into(), json!(8443));
    let current = ctx.get(&sg_d.address).unwrap();
    let updated = p.update(&sg_d, &current, &ctx).await.unwrap();
    assert_eq!(updated.attrs, sg_d.attrs);
    let lt = cluster(&ami, 5, "t3.large").remove(0);
    let current = ctx.get(&lt.address).unwrap();
    let updated = p.update(&lt, &current, &ctx).await.unwrap();
    assert_eq!(updated.attrs["instance_type"], json!("t3.large"));
    assert_eq!(updated.id, current.id, "the same template, a new version");
    assert_ne!(updated.computed["version"], current.computed["version"]);

    // Delete everything, dependents first; a second delete of each succeeds too.
    let observed = p.refresh(&sc).await.unwrap();
    let order = [
        Kind::AutoScalingGroup,
        Kind::Listener,
        Kind::LoadBalancer,
        Kind::TargetGroup,
        Kind::LaunchTemplate,
        Kind::SecurityGroup,
        Kind::Subnet,
        Kind::InternetGateway,
        Kind::Vpc,
    ];
    for kind in order {
        for o in observed.iter().filter(|o| o.kind == kind) {
            p.delete(o, &ctx)
                .await
                .unwrap_or_else(|e| panic!("delete {}: {e:#}", o.address));
        }
    }
    // moto 5.2.5 may leave a drained group's instances running once the group is gone (EC2
    // Auto Scaling terminates them); the group itself must be gone.
    assert!(live_groups(&emu).await.is_empty());
    assert_eq!(p.refresh(&sc).await.unwrap(), Vec::new());
    for o in &observed {
        p.delete(o, &ctx)
            .await
            .unwrap_or_else(|e| panic!("second delete {}: {e:#}", o.address));
    }
}

fn bucket(region: &str) -> Desired {
    let name = format!("checkout-test-receipts-{region}");
    desired(
        Kind::Bucket,
        Some(region),
        &format!("region.{region}.bucket.receipts"),
        &name,
        json!({"bucket": name, "versioning": "Enabled", "encryption": "AES256", "public_access_blocked": true}),
        &[],
    )
}

/// The receipts component's buckets, sorted: all the replication role may touch.
const RECEIPTS: [&str; 3] = [
    "checkout-test-receipts-eu-west-1",
    "checkout-test-receipts-us-east-1",
    "checkout-test-receipts-us-west-2",
];

fn buckets_and_replication() -> Vec<Desired> {
    let role = desired(
        Kind::ReplicationRole,
        None,
        "bucket.receipts.replication_role",
        "standby-checkout-test-receipts-replication",
        json!({
            "role_name": "standby-checkout-test-receipts-replication",
            "buckets": RECEIPTS,
        }),
        &[],
    );
    let replication = desired(
        Kind::BucketReplication,
        Some("us-east-1"),
        "region.us-east-1.bucket.receipts.replication",
        "checkout-test-receipts-us-east-1-replication",
        json!({
            "bucket": "checkout-test-receipts-us-east-1",
            "destinations": [
                {"bucket": "checkout-test-receipts-eu-west-1", "region": "eu-west-1", "storage_class": "GLACIER"},
                {"bucket": "checkout-test-receipts-us-west-2", "region": "us-west-2", "storage_class": "STANDARD"},
            ],
        }),
        &[
            ("source", "region.us-east-1.bucket.receipts"),
            ("role", "bucket.receipts.replication_role"),
        ],
    );
    vec![
        bucket("us-east-1"),
        bucket("us-west-2"),
        bucket("eu-west-1"),
        role,
        replication,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn buckets_roles_and_replication() {
    let emu = Emulator::start();
    let p = AwsProvider::with_endpoint(&emu.endpoint()).await.unwrap();
    let ctx = Ctx::default();
    let ds = buckets_and_replication();
    let created = create_all(&p, &ctx, &ds).await;
    assert!(created[3].computed["arn"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:iam::"));

    // Some object versions and a delete marker, for the delete to clear.
    let s3 = emu.s3("us-east-1").await;
    let source = "checkout-test-receipts-us-east-1";
    for body in ["one", "two"] {
        s3.put_object()
            .bucket(source)
            .key("r/1.json")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    s3.delete_object()
        .bucket(source)
        .key("r/1.json")
        .send()
        .await
        .unwrap();

    // Read back through the SDK.
    for d in &ds[..3] {
        let region = d.region.as_deref().unwrap();
        let s3 = emu.s3(region).await;
        let name = d.attrs["bucket"].as_str().unwrap();
        let tags = s3.get_bucket_tagging().bucket(name).send().await.unwrap();
        let tags: BTreeMap<_, _> = tags
            .tag_set()
            .iter()
            .map(|t| (t.key(), t.value()))
            .collect();
        assert_eq!(tags["standby:address"], d.address.as_str());
        assert_eq!(tags["team"], "payments");
        // Versioning, by its effect (moto's GetBucketVersioning answer does not parse in the
        // Rust SDK: see src/provider/aws/emulator.rs): two puts of a key leave two versions.
        for body in ["v1", "v2"] {
            s3.put_object()
                .bucket(name)
                .key("probe")
                .body(body.as_bytes().to_vec().into())
                .send()
                .await
                .unwrap();
        }
        let versions = s3
            .list_object_versions()
            .bucket(name)
            .prefix("probe")
            .send()
            .await
            .unwrap();
        assert_eq!(versions.versions().len(), 2, "{name} is versioned");
        let loc = s3.get_bucket_location().bucket(name).send().await.unwrap();
        let loc = loc.location_constraint().map(|c| c.as_str()).unwrap_or("");
        assert_eq!(if loc.is_empty() { "us-east-1" } else { loc }, region);
        let block = s3
            .get_public_access_block()
            .bucket(name)
            .send()
            .await
            .unwrap();
        assert_eq!(
            block
                .public_access_block_configuration()
                .unwrap()
                .block_public_acls(),
            Some(true)
        );
    }
    let repl = s3
        .get_bucket_replication()
        .bucket(source)
        .send()
        .await
        .unwrap();
    let config = repl.replication_configuration().unwrap();
    assert_eq!(config.role(), created[3].computed["arn"].as_str().unwrap());
    let mut rules: Vec<(String, String)> = config
        .rules()
        .iter()
        .map(|r| {
            let d = r.destination().unwrap();
            (
                d.bucket().to_string(),
                d.storage_class().unwrap().as_str().to_string(),
            )
        })
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        vec![
            (
                "arn:aws:s3:::checkout-test-receipts-eu-west-1".to_string(),
                "GLACIER".to_string()
            ),
            (
                "arn:aws:s3:::checkout-test-receipts-us-west-2".to_string(),
                "STANDARD".to_string()
            ),
        ]
    );
    let role = emu
        .iam()
        .await
        .get_role()
        .role_name("standby-checkout-test-receipts-replication")
        .send()
        .await
        .unwrap();
    assert_eq!(role.role().unwrap().path(), "/standby/");
    // Least privilege: S3 assumes the role only for this account, and the policy names the
    // component's buckets, no others.
    let (source_account, resources) =
        role_policies(&emu, "standby-checkout-test-receipts-replication").await;
    assert_eq!(source_account.as_deref(), Some("123456789012"));
    let want: BTreeSet<String> = RECEIPTS
        .iter()
        .flat_map(|b| [format!("arn:aws:s3:::{b}"), format!("arn:aws:s3:::{b}/*")])
        .collect();
    assert_eq!(resources, want);

    // Refresh with the state: a clean diff.
    let all = ["us-east-1", "us-west-2", "eu-west-1"];
    let before = p.request_count();
    let observed = p.refresh(&scope(&all, true, known(&ds))).await.unwrap();
    assert_clean(&observed, &ds);
    // Per region: 4 EC2 describes (no instance of its own is known: no instance listing),
    // 2 RDS ones, groups, templates, load balancers and target groups; S3: one listing, then
    // 5 reads per bucket; IAM: one listing, the role's tags and its policy; Route 53: one
    // health-check listing (no zone is known).
    let requests = p.request_count() - before;
    assert_eq!(
        requests,
        3 * 4 + 3 * 2 + 3 * 4 + 1 + 3 * 5 + 1 + 1 + 1 + 1,
        "refresh requests"
    );

    // Refresh with a lost state: buckets and role found by prefix and tags.
    let observed = p.refresh(&scope(&all, true, Vec::new())).await.unwrap();
    assert_clean(&observed, &ds);

    // us-east-1 assumed down: its bucket (and replication) are not read.
    let observed = p
        .refresh(&scope(&["us-west-2", "eu-west-1"], false, known(&ds)))
        .await
        .unwrap();
    assert_clean(&observed, &[ds[1].clone(), ds[2].clone()]);

    // A role the spec brings (`role_arn`): updated in place, and refreshed to a clean diff.
    let mut external = ds[4].clone();
    external.attrs.insert(
        "role_arn".into(),
        json!("arn:aws:iam::123456789012:role/ops/replicator"),
    );
    external.refs.remove("role");
    let updated = p.update(&external, &created[4], &ctx).await.unwrap();
    assert_eq!(updated.attrs, external.attrs);
    let observed = p.refresh(&scope(&all, true, known(&ds))).await.unwrap();
    let replication = observed
        .iter()
        .find(|o| o.kind == Kind::BucketReplication)
        .unwrap();
    assert_eq!(replication.attrs, external.attrs);
    p.update(&ds[4], &updated, &ctx).await.unwrap();

    // Creating again adopts.
    for (d, o) in ds.iter().zip(&created) {
        assert_eq!(
            p.create(d, &ctx).await.unwrap().id,
            o.id,
            "{} adopted",
            d.address
        );
    }

    // Delete, replication first; deleting again succeeds.
    for o in created.iter().rev() {
        p.delete(o, &ctx)
            .await
            .unwrap_or_else(|e| panic!("delete {}: {e:#}", o.address));
    }
    assert!(s3.list_buckets().send().await.unwrap().buckets().is_empty());
    assert_eq!(
        p.refresh(&scope(&all, true, known(&ds))).await.unwrap(),
        Vec::new()
    );
    for o in created.iter().rev() {
        p.delete(o, &ctx)
            .await
            .unwrap_or_else(|e| panic!("second delete {}: {e:#}", o.address));
    }
}

#[tokio::test]
async fn errors_name_operation_region_and_address() {
    let emu = Emulator::start();
    let p = AwsProvider::with_endpoint(&emu.endpoint()).await.unwrap();
    let ctx = Ctx::default();

    let db = desired(
        Kind::Database,
        Some("us-east-1"),
        "region.us-east-1.database.orders",
        "orders",
        json!({}),
        &[],
    );
    let err = p.create(&db, &ctx).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "region.us-east-1.database.orders: attribute `identifier` is missing or not a string"
    );

    // A subnet outside its VPC's range: EC2 refuses it.
    let ds = network();
    create_all(&p, &ctx, &ds[..1]).await;
    let mut bad = ds[2].clone();
    bad.attrs.insert("cidr".into(), json!("192.168.0.0/24"));
    let err = format!("{:#}", p.create(&bad, &ctx).await.unwrap_err());
    assert!(
        err.starts_with(
            "CreateSubnet in us-east-1 failed for region.us-east-1.network.subnet[0]: "
        ),
        "{err}"
    );
    assert!(err.contains("(request id "), "{err}");

    // A dependency missing from the state.
    let orphan = cluster("ami-12c6146b", 1, "t3.micro").remove(0);
    let err = p.create(&orphan, &Ctx::default()).await.unwrap_err();
    assert!(err.to_string().contains("is not in the state"), "{err}");
}
