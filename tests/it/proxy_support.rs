//! The test proxy (crates/emulator/src/proxy.rs) in front of a real emulator: what it records, and
//! that its faults (a region down, injected failures, latency) reach the SDK as intended.

use crate::support::specs::{COLD_STANDBY, REGIONS, SERVICE};
use std::time::{Duration, Instant};

use crate::support::proxy::{Proxy, Seen};
use crate::support::workspace::Workspace;
use crate::support::Emulator;
use aws_config::retry::RetryConfig;

fn ec2_with_retry(conf: &aws_types::SdkConfig, retry: RetryConfig) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(conf)
            .retry_config(retry)
            .build(),
    )
}

#[tokio::test]
async fn records_service_region_and_operation_of_each_call() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());

    let vpcs = proxy.ec2("us-west-2").await.describe_vpcs().send().await;
    assert!(vpcs
        .unwrap()
        .vpcs()
        .iter()
        .any(|v| v.is_default() == Some(true)));
    let buckets = proxy.s3("us-east-1").await.list_buckets().send().await;
    assert!(buckets.unwrap().buckets().is_empty());
    proxy
        .s3("us-east-1")
        .await
        .create_bucket()
        .bucket("proxy-records")
        .send()
        .await
        .unwrap();
    let route53 = aws_sdk_route53::Client::new(&proxy.sdk_config("us-east-1").await);
    route53.list_hosted_zones().send().await.unwrap();
    let iam = aws_sdk_iam::Client::new(&proxy.sdk_config("us-east-1").await);
    iam.list_roles().send().await.unwrap();

    let seen = proxy.seen();
    let expected = [
        ("ec2", "us-west-2", "DescribeVpcs"),
        ("s3", "us-east-1", "ListBuckets"),
        ("s3", "us-east-1", "PUT bucket"),
        ("route53", "us-east-1", "GET /2013-04-01/hostedzone"),
        ("iam", "us-east-1", "ListRoles"),
    ]
    .map(|(service, region, operation)| Seen {
        service: service.into(),
        region: region.into(),
        operation: operation.into(),
        status: 200,
    });
    assert_eq!(seen, expected, "{seen:#?}");
    assert_eq!(proxy.count_region("us-west-2"), 1);
    assert_eq!(proxy.count_region("us-east-1"), 4);
    assert_eq!(proxy.count_operation("ec2", "DescribeVpcs"), 1);

    proxy.clear();
    assert!(proxy.seen().is_empty());
    assert_eq!(proxy.count_region("us-west-2"), 0);
}

#[tokio::test]
async fn a_service_quota_set_on_the_proxy_answers_and_others_reach_moto() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let quotas = aws_sdk_servicequotas::Client::new(&proxy.sdk_config("us-west-2").await);
    let ask = |code: &'static str| {
        quotas
            .get_service_quota()
            .service_code("ec2")
            .quota_code(code)
            .send()
    };
    // moto 5.2.5 knows VPC quotas only.
    let err = ask("L-1216C47A").await.unwrap_err();
    assert!(err.into_service_error().is_no_such_resource_exception());

    proxy.set_service_quota("L-1216C47A", 32.0);
    let out = ask("L-1216C47A").await.unwrap();
    let quota = out.quota().unwrap();
    assert_eq!(quota.value(), Some(32.0));
    assert_eq!(quota.quota_code(), Some("L-1216C47A"));
    assert_eq!(proxy.count_operation("servicequotas", "GetServiceQuota"), 2);
    assert!(
        ask("L-34B43A08").await.is_err(),
        "other quotas still reach moto"
    );
}

#[tokio::test]
async fn a_refused_region_answers_503_and_is_still_counted() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.refuse_region("us-east-1");
    let retry = RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(10));

    let east = ec2_with_retry(&proxy.sdk_config("us-east-1").await, retry.clone());
    let err = east.describe_vpcs().send().await.unwrap_err();
    let raw = err.raw_response().expect("an HTTP answer");
    assert_eq!(raw.status().as_u16(), 503);
    let message = format!(
        "{}",
        aws_smithy_types::error::display::DisplayErrorContext(&err)
    );
    assert!(
        message.contains("region us-east-1 is down (standby test proxy)"),
        "{message}"
    );

    let west = ec2_with_retry(&proxy.sdk_config("us-west-2").await, retry);
    west.describe_vpcs().send().await.unwrap();

    // A 503 is transient: the SDK tried all its attempts, and each was refused.
    assert_eq!(proxy.refused_count("us-east-1"), 3);
    assert_eq!(proxy.count_region("us-east-1"), 3);
    assert!(proxy
        .seen()
        .iter()
        .filter(|s| s.region == "us-east-1")
        .all(|s| s.status == 503 && s.operation == "DescribeVpcs"));
    assert_eq!(proxy.refused_count("us-west-2"), 0);
    assert_eq!(proxy.count_region("us-west-2"), 1);

    // The region comes back.
    proxy.restore_region("us-east-1");
    east.describe_vpcs().send().await.unwrap();
    assert_eq!(proxy.refused_count("us-east-1"), 3);
}

#[tokio::test]
async fn injected_failures_are_retried_by_the_sdk_without_duplicates() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.inject_failures(0.3, 7);
    let retry = RetryConfig::standard()
        .with_max_attempts(10)
        .with_initial_backoff(Duration::from_millis(10));
    let ec2 = ec2_with_retry(&proxy.sdk_config("us-west-2").await, retry);

    for i in 0..20 {
        ec2.create_vpc()
            .cidr_block(format!("10.{i}.0.0/16"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateVpc {i}: {e:?}"));
    }

    let seen = proxy.seen();
    let statuses = |code: u16| seen.iter().filter(|s| s.status == code).count();
    assert!(seen.len() > 20, "{seen:#?}");
    assert_eq!(statuses(200), 20, "{seen:#?}");
    assert_eq!(seen.len() - 20, proxy.injected_count());
    // Both kinds of failure came and were retried: 500 InternalError and 400
    // RequestLimitExceeded (a throttling code).
    assert!(statuses(500) >= 1 && statuses(400) >= 1, "{seen:#?}");
    assert!(seen.iter().all(|s| s.operation == "CreateVpc"));

    // Read from the emulator directly: injected failures never reached it.
    let vpcs = emulator
        .ec2("us-west-2")
        .await
        .describe_vpcs()
        .send()
        .await
        .unwrap();
    let defaults = vpcs
        .vpcs()
        .iter()
        .filter(|v| v.is_default() == Some(true))
        .count();
    assert_eq!(defaults, 1);
    assert_eq!(vpcs.vpcs().len(), 20 + defaults);
    assert_eq!(
        proxy.seen().len(),
        seen.len(),
        "the read went around the proxy"
    );
}

#[tokio::test]
async fn the_same_seed_fails_the_same_requests() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    // No retries: each call is one request, so the outcomes are the PRNG's sequence.
    let ec2 = ec2_with_retry(
        &proxy.sdk_config("us-west-2").await,
        RetryConfig::disabled(),
    );
    let mut runs = Vec::new();
    for _ in 0..2 {
        proxy.inject_failures(0.5, 42);
        let mut outcomes = Vec::new();
        for _ in 0..12 {
            outcomes.push(ec2.describe_vpcs().send().await.is_ok());
        }
        runs.push(outcomes);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&true) && runs[0].contains(&false),
        "{runs:?}"
    );

    // Per service: EC2 keeps working while S3 fails every time.
    proxy.inject_failures_for("s3", 1.0, 1);
    ec2.describe_vpcs().send().await.unwrap();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&proxy.sdk_config("us-east-1").await)
            .force_path_style(true)
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    let err = s3.list_buckets().send().await.unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 500);
    proxy.inject_failures(0.0, 0);
    s3.list_buckets().send().await.unwrap();
}

#[tokio::test]
async fn latency_delays_every_call() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let ec2 = proxy.ec2("us-west-2").await;
    ec2.describe_vpcs().send().await.unwrap(); // connection and credentials warmed up

    proxy.set_latency(Duration::from_millis(200));
    let started = Instant::now();
    ec2.describe_vpcs().send().await.unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200), "took {took:?}");
    assert_eq!(proxy.count_operation("ec2", "DescribeVpcs"), 2);
}

/// From a plain synchronous test, with no runtime of the test's own; and a dropped proxy
/// frees its port.
#[test]
fn works_without_a_test_runtime_and_stops_on_drop() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let port = proxy.port();
    let answer = http_get(port, "/moto-api/");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        proxy.seen(),
        vec![Seen {
            service: String::new(),
            region: String::new(),
            operation: "GET /moto-api/".into(),
            status: 200,
        }]
    );
    drop(proxy);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// The workload after the service and its regions.
const WORKLOAD: &str = r#"
cluster "web" {
  instance_type = "t3.micro"
  size          = 2
  image         = "ami-12c6146b"
  port          = 443
}
"#;

fn spec() -> String {
    [SERVICE, REGIONS, COLD_STANDBY, WORKLOAD].concat()
}

#[test]
fn standby_plan_goes_through_the_proxy_to_every_region_of_the_spec() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let ws = Workspace::new(proxy.env());
    ws.write("environments/prod/main.hcl", &spec());

    let run = ws.run(&["plan", "environments/prod"]).ok();
    assert!(
        run.stdout.contains("region.us-east-1.network.vpc"),
        "{}",
        run.stdout
    );

    let seen = proxy.seen();
    for region in ["us-east-1", "us-west-2", "eu-west-1"] {
        assert!(
            seen.iter().any(|s| s.service == "ec2"
                && s.region == region
                && s.operation == "DescribeVpcs"
                && s.status == 200),
            "no DescribeVpcs in {region}: {seen:#?}"
        );
    }
    assert!(seen.iter().all(|s| s.status == 200), "{seen:#?}");
}

/// Each protocol's injected errors have the shape the SDK expects: it reads their error
/// codes, and its standard retry retries them. EC2 query, AWS query (RDS, IAM, CloudWatch),
/// S3 and Route 53 (REST-XML).
#[tokio::test]
async fn every_protocol_parses_and_retries_injected_errors() {
    use aws_sdk_ec2::error::ProvideErrorMetadata;

    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    let regional = proxy.sdk_config("us-west-2").await;
    let global = proxy.sdk_config("us-east-1").await;

    /// One call of `service` with `attempts` attempts: `Err(error code)` when it failed.
    async fn call(
        service: &str,
        attempts: u32,
        regional: &aws_types::SdkConfig,
        global: &aws_types::SdkConfig,
    ) -> Result<(), Option<String>> {
        macro_rules! client {
            ($sdk:ident, $conf:expr) => {
                $sdk::Client::from_conf(
                    $sdk::config::Builder::from($conf)
                        .retry_config(
                            RetryConfig::standard()
                                .with_max_attempts(attempts)
                                .with_initial_backoff(Duration::from_millis(5)),
                        )
                        .force_path_style_if_s3()
                        .build(),
                )
            };
        }
        trait PathStyle {
            fn force_path_style_if_s3(self) -> Self;
        }
        macro_rules! not_s3 {
            ($($sdk:ident),*) => {$(
                impl PathStyle for $sdk::config::Builder {
                    fn force_path_style_if_s3(self) -> Self {
                        self
                    }
                }
            )*};
        }
        not_s3!(
            aws_sdk_ec2,
            aws_sdk_rds,
            aws_sdk_iam,
            aws_sdk_cloudwatch,
            aws_sdk_route53
        );
        impl PathStyle for aws_sdk_s3::config::Builder {
            fn force_path_style_if_s3(self) -> Self {
                self.force_path_style(true)
            }
        }
        fn code<E: ProvideErrorMetadata>(e: E) -> Option<String> {
            e.code().map(str::to_string)
        }
        match service {
            "ec2" => client!(aws_sdk_ec2, regional)
                .describe_vpcs()
                .send()
                .await
                .map(drop)
                .map_err(code),
            "rds" => client!(aws_sdk_rds, regional)
                .describe_db_instances()
                .send()
                .await
                .map(drop)
                .map_err(code),
            "iam" => client!(aws_sdk_iam, global)
                .list_roles()
                .send()
                .await
                .map(drop)
                .map_err(code),
            "monitoring" => client!(aws_sdk_cloudwatch, regional)
                .list_metrics()
                .send()
                .await
                .map(drop)
                .map_err(code),
            "s3" => client!(aws_sdk_s3, regional)
                .list_buckets()
                .send()
                .await
                .map(drop)
                .map_err(code),
            "route53" => client!(aws_sdk_route53, global)
                .list_hosted_zones()
                .send()
                .await
                .map(drop)
                .map_err(code),
            other => unreachable!("{other}"),
        }
    }

    // (service, [internal error: status, code], [throttling: status, code])
    let cases = [
        ("ec2", (500, "InternalError"), (400, "RequestLimitExceeded")),
        ("rds", (500, "InternalFailure"), (400, "Throttling")),
        ("iam", (500, "InternalFailure"), (400, "Throttling")),
        ("monitoring", (500, "InternalFailure"), (400, "Throttling")),
        ("s3", (500, "InternalError"), (503, "SlowDown")),
        ("route53", (500, "InternalFailure"), (400, "Throttling")),
    ];
    for (service, internal, throttling) in cases {
        // Without retries, the SDK reports the injected codes: the bodies parse.
        proxy.clear();
        proxy.inject_failures_for(service, 1.0, 0);
        let first = call(service, 1, &regional, &global).await;
        let second = call(service, 1, &regional, &global).await;
        assert_eq!(first, Err(Some(internal.1.to_string())), "{service}");
        assert_eq!(second, Err(Some(throttling.1.to_string())), "{service}");
        let statuses: Vec<u16> = proxy.seen().iter().map(|s| s.status).collect();
        assert_eq!(statuses, [internal.0, throttling.0], "{service}");

        // With retries, every call succeeds in the end: both kinds are retryable.
        proxy.clear();
        proxy.inject_failures_for(service, 0.5, 3);
        for _ in 0..6 {
            call(service, 10, &regional, &global)
                .await
                .unwrap_or_else(|e| panic!("{service}: {e:?}\n{:#?}", proxy.seen()));
        }
        let seen = proxy.seen();
        assert!(seen.iter().all(|s| s.service == service), "{seen:#?}");
        assert_eq!(seen.iter().filter(|s| s.status == 200).count(), 6);
        for status in [internal.0, throttling.0] {
            assert!(
                seen.iter().any(|s| s.status == status),
                "{service} {status}: {seen:#?}"
            );
        }
    }
}
