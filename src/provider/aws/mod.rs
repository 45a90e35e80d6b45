//! The AWS provider, on the real SDK: `AwsProvider` dispatches each kind to the handler of
//! its family through one table (`handler.rs`): `network/` (VPCs, internet gateways,
//! subnets, security groups, stray instances), `compute/` (launch templates, Auto Scaling
//! groups), `loadbalancing/` (load balancers, target groups, listeners), `storage/` (buckets
//! and their replication), `role.rs` (replication roles), `database/` (DB subnet groups,
//! instances, snapshots), `secrets/` (databases' master passwords) and `dns/` (hosted
//! zones, health checks, records); a refresh reads every family concurrently.
//! Every emulator workaround lives in `emulator.rs`, behind one flag decided here.
//!
//! Invariant: one `SdkConfig` (credentials, endpoint, retries, timeouts: `settings.rs`) for
//! everything; one client per (service, region), built on first use and cached, each
//! carrying the request counter; every AWS failure is reported through `error.rs` with address, region, operation and
//! request id. Every Route 53 call goes through one limiter (its quota is account-wide).

mod attrs;
mod clients;
mod cloudwatch;
mod compute;
mod counter;
mod database;
mod dns;
mod dns_owner;
pub(crate) mod emulator;
pub(crate) mod error;
mod handler;
mod loadbalancing;
mod network;
pub mod poll;
mod rate;
mod readiness;
mod role;
mod secrets;
pub mod settings;
mod storage;
mod tags;

/// The health-check settings a DNS failover takes (recovery estimates use them).
pub(crate) use dns::{FAILURE_THRESHOLD, REQUEST_INTERVAL};

use crate::address::Address;
use crate::provider::{
    ApplyContext, BucketAt, Canary, CapacityNeed, Observed, Provider, Scope, TargetHealth, Vcpus,
};
use crate::topology::{Desired, Kind};
use anyhow::{anyhow, bail};
use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_types::region::Region;
use aws_types::SdkConfig;
use counter::RequestCounter;
use handler::{handler, FAMILIES};
use std::collections::BTreeSet;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::Semaphore;

/// Concurrent reads per service during a refresh.
/// EC2: a refresh lists seven kinds in each of three regions at once, all in one round; EC2's
/// describe calls share a bucket of 100 requests refilled at 20 a second
/// (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html).
const EC2_READS: usize = 24;
const S3_READS: usize = 16;
const IAM_READS: usize = 4;
const RDS_READS: usize = 8;
const SECRETS_READS: usize = 4;
const ASG_READS: usize = 8;
const ELB_READS: usize = 8;
/// Route 53 calls a second, of any kind: its quota (5 requests a second) is per account.
const ROUTE53_RATE: u32 = 5;
/// Route 53 is global: signed for us-east-1.
const ROUTE53_REGION: &str = "us-east-1";

/// A region's RDS waits, read together (`poll::Batch`).
type RdsWaits = Arc<poll::Batch<aws_sdk_rds::types::DbInstance>>;
/// A region's Auto Scaling group waits, read together.
type GroupWaits = Arc<poll::Batch<aws_sdk_autoscaling::types::AutoScalingGroup>>;
/// A region's load balancer waits, read together.
type BalancerWaits = Arc<poll::Batch<aws_sdk_elasticloadbalancingv2::types::LoadBalancer>>;

pub struct AwsProvider {
    sdk: SdkConfig,
    /// Path-style S3 addressing (an emulator or a custom endpoint is in use).
    path_style: bool,
    /// Whether the emulator workarounds apply: decided once, here.
    emulator: emulator::Emulator,
    counter: RequestCounter,
    ec2: Mutex<HashMap<String, aws_sdk_ec2::Client>>,
    /// Each region's client and the batch its waits read through (also for `rds`, `elb`).
    autoscaling: Mutex<HashMap<String, (aws_sdk_autoscaling::Client, GroupWaits)>>,
    elb: Mutex<HashMap<String, (aws_sdk_elasticloadbalancingv2::Client, BalancerWaits)>>,
    s3: Mutex<HashMap<String, aws_sdk_s3::Client>>,
    iam: Mutex<Option<aws_sdk_iam::Client>>,
    /// Each region's client and the batch its waits read through.
    rds: Mutex<HashMap<String, (aws_sdk_rds::Client, RdsWaits)>>,
    secretsmanager: Mutex<HashMap<String, aws_sdk_secretsmanager::Client>>,
    route53: Mutex<Option<aws_sdk_route53::Client>>,
    cloudwatch: Mutex<HashMap<String, aws_sdk_cloudwatch::Client>>,
    quotas: Mutex<HashMap<String, aws_sdk_servicequotas::Client>>,
    ec2_limit: Arc<Semaphore>,
    ec2_listed: Arc<network::Listed>,
    s3_limit: Arc<Semaphore>,
    iam_limit: Arc<Semaphore>,
    rds_limit: Arc<Semaphore>,
    secrets_limit: Arc<Semaphore>,
    asg_limit: Arc<Semaphore>,
    elb_limit: Arc<Semaphore>,
    route53_limit: Arc<rate::Rate>,
    /// The caller's account id, asked once (for replication roles' trust policies).
    account: tokio::sync::OnceCell<String>,
    /// `Provider::brief`: this provider with brief retries, built on first use.
    brief: std::sync::OnceLock<Box<AwsProvider>>,
}

impl std::fmt::Debug for AwsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsProvider")
            .field("endpoint", &self.sdk.endpoint_url())
            .field("requests", &self.counter.get())
            .finish_non_exhaustive()
    }
}

impl AwsProvider {
    /// The default credential chain and settings (profiles, SSO, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL` ...), as the AWS CLI would use them.
    /// Retries and timeouts are the process's `settings`.
    pub async fn from_env() -> anyhow::Result<AwsProvider> {
        Ok(Self::from_sdk_config(settings::load(None).await))
    }

    /// An emulator (or any custom endpoint) with dummy credentials, in us-east-1 by
    /// default: for tests and benchmarks, without touching the process environment.
    pub async fn with_endpoint(endpoint: &str) -> anyhow::Result<AwsProvider> {
        let credentials = aws_sdk_ec2::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "standby-static",
        );
        let s = settings::settings();
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(s.retry_config())
            .timeout_config(s.timeout_config())
            .endpoint_url(endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(credentials)
            .load()
            .await;
        Ok(Self::from_sdk_config(sdk))
    }

    /// A provider over an already loaded configuration; S3 uses path-style addressing when
    /// the configuration carries an endpoint URL.
    pub fn from_sdk_config(sdk: SdkConfig) -> AwsProvider {
        AwsProvider {
            path_style: sdk.endpoint_url().is_some(),
            emulator: emulator::Emulator::of(&sdk),
            sdk,
            counter: RequestCounter::default(),
            ec2: Mutex::default(),
            autoscaling: Mutex::default(),
            elb: Mutex::default(),
            s3: Mutex::default(),
            iam: Mutex::default(),
            rds: Mutex::default(),
            secretsmanager: Mutex::default(),
            route53: Mutex::default(),
            cloudwatch: Mutex::default(),
            quotas: Mutex::default(),
            ec2_limit: Arc::new(Semaphore::new(EC2_READS)),
            ec2_listed: Arc::default(),
            s3_limit: Arc::new(Semaphore::new(S3_READS)),
            iam_limit: Arc::new(Semaphore::new(IAM_READS)),
            rds_limit: Arc::new(Semaphore::new(RDS_READS)),
            secrets_limit: Arc::new(Semaphore::new(SECRETS_READS)),
            asg_limit: Arc::new(Semaphore::new(ASG_READS)),
            elb_limit: Arc::new(Semaphore::new(ELB_READS)),
            route53_limit: Arc::new(rate::Rate::per_second(ROUTE53_RATE)),
            account: tokio::sync::OnceCell::new(),
            brief: std::sync::OnceLock::new(),
        }
    }

    /// This provider with `settings::brief_retry_config`, sharing its request counter and
    /// its limits (the quotas are the same account's).
    fn twin(&self) -> AwsProvider {
        let sdk = self
            .sdk
            .to_builder()
            .retry_config(settings::settings().brief_retry_config())
            .build();
        AwsProvider {
            counter: self.counter.clone(),
            ec2_limit: self.ec2_limit.clone(),
            ec2_listed: self.ec2_listed.clone(),
            s3_limit: self.s3_limit.clone(),
            iam_limit: self.iam_limit.clone(),
            rds_limit: self.rds_limit.clone(),
            secrets_limit: self.secrets_limit.clone(),
            asg_limit: self.asg_limit.clone(),
            elb_limit: self.elb_limit.clone(),
            route53_limit: self.route53_limit.clone(),
            ..AwsProvider::from_sdk_config(sdk)
        }
    }

    /// Promotes the read replica `identifier` in `region` to a standalone, writable instance
    /// and waits until it is available (for `promote`; not part of `Provider`). Promoting an
    /// instance that is no longer a replica succeeds. The promoted instance is tagged
    /// `standby:promoted`, so a refresh reports `replica_of: null` even where the emulator
    /// keeps its source set.
    pub async fn promote_read_replica(
        &self,
        region: &str,
        identifier: &str,
        address: &Address,
    ) -> anyhow::Result<()> {
        self.rds(region)
            .promote_read_replica(identifier, database::BACKUP_RETENTION_DAYS, address)
            .await
    }
}

/// What an apply leaves: the managed tags as the call set them (tags others add later are
/// not standby's).
fn as_applied(mut o: Observed, desired: &Desired) -> Observed {
    if let Some(tags) = desired.attrs.get(crate::topology::TAGS) {
        o.attrs.insert(crate::topology::TAGS.into(), tags.clone());
    }
    o
}

fn region_of<'a>(
    address: &crate::address::Address,
    region: Option<&'a str>,
) -> anyhow::Result<&'a str> {
    region.ok_or_else(|| anyhow!("{address}: a regional resource without a region"))
}

fn kind_name(kind: Kind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{kind:?}"))
}

#[async_trait]
impl Provider for AwsProvider {
    async fn refresh(&self, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        let reads = FAMILIES.iter().map(|h| h.refresh(self, scope));
        let found = futures::future::try_join_all(reads).await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn create(&self, desired: &Desired, ctx: &dyn ApplyContext) -> anyhow::Result<Observed> {
        let o = handler(desired.kind).create(self, desired, ctx).await?;
        Ok(as_applied(o, desired))
    }

    async fn update(
        &self,
        desired: &Desired,
        current: &Observed,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        if desired.kind != current.kind {
            bail!(
                "{}: cannot update a {} into a {}",
                desired.address,
                kind_name(current.kind),
                kind_name(desired.kind)
            );
        }
        let h = handler(desired.kind);
        let o = h.update(self, desired, current, ctx).await?;
        Ok(as_applied(o, desired))
    }

    async fn delete(&self, current: &Observed, _ctx: &dyn ApplyContext) -> anyhow::Result<()> {
        handler(current.kind).delete(self, current).await
    }

    async fn replica_lag(
        &self,
        region: &str,
        identifier: &str,
    ) -> anyhow::Result<Option<std::time::Duration>> {
        self.cloudwatch(region).replica_lag(identifier).await
    }

    async fn object_versions(
        &self,
        region: &str,
        bucket: &str,
    ) -> anyhow::Result<Vec<crate::provider::ObjectVersion>> {
        self.s3(region).object_versions(bucket).await
    }

    async fn test_dns_answer(&self, zone_id: &str, name: &str) -> anyhow::Result<Vec<String>> {
        self.route53().test_dns_answer(zone_id, name).await
    }

    async fn capacity(&self, region: &str, need: &CapacityNeed) -> anyhow::Result<Option<bool>> {
        match need {
            CapacityNeed::Image { image } => self.image_is_available(region, image).await,
            CapacityNeed::InstanceType { instance_type } => {
                self.instance_type_is_offered(region, instance_type).await
            }
            CapacityNeed::InstanceTypeInZone {
                instance_type,
                zone,
            } => {
                self.instance_type_is_offered_in(region, instance_type, zone)
                    .await
            }
            // Emulator workaround: moto answers no orderable option for most engines.
            CapacityNeed::DbClass { engine, .. }
                if self.emulator.on() && !emulator::orderable_options_known(engine) =>
            {
                return Ok(None)
            }
            CapacityNeed::DbClass {
                engine,
                version,
                class,
            } => {
                self.db_class_is_orderable(region, engine, version, class)
                    .await
            }
        }
        .map(Some)
    }

    async fn vcpus(&self, region: &str, types: &BTreeSet<String>) -> anyhow::Result<Option<Vcpus>> {
        self.standard_vcpus(region, types).await
    }

    async fn latest_restorable(
        &self,
        region: &str,
        identifier: &str,
    ) -> anyhow::Result<Option<SystemTime>> {
        self.restorable_time(region, identifier).await
    }

    async fn target_health(&self, region: &str, arn: &str) -> anyhow::Result<Option<TargetHealth>> {
        self.targets(region, arn).await.map(Some)
    }

    async fn health_check_healthy(&self, id: &str) -> anyhow::Result<Option<bool>> {
        // Emulator workaround (`emulator.rs`, 17): moto answers every health check healthy.
        if self.emulator.on() {
            return Ok(None);
        }
        self.health_check_status(id).await.map(Some)
    }

    async fn canary(
        &self,
        source: &BucketAt,
        replica: &BucketAt,
        within: Duration,
    ) -> anyhow::Result<Option<Canary>> {
        self.run_canary(source, replica, within).await
    }

    fn brief(&self) -> &dyn Provider {
        &**self.brief.get_or_init(|| Box::new(self.twin()))
    }

    fn request_count(&self) -> u64 {
        self.counter.get()
    }
}

/// The AWS id of the resource `d` refers to as `name` (its resolved references `refs`).
fn ref_id<'a>(
    d: &Desired,
    refs: &'a std::collections::BTreeMap<String, Observed>,
    name: &str,
) -> anyhow::Result<&'a str> {
    refs.get(name).map(|o| o.id.as_str()).ok_or_else(|| {
        anyhow::anyhow!("{}: reference `{name}` is missing from the spec", d.address)
    })
}
