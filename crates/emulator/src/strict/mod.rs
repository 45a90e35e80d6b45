//! Strict mode of the test proxy: real-AWS behaviours that moto forgives, modelled on top of
//! it as named rules, so the suite proves standby handles them (`Proxy::strict`).
//!
//! A rule sees every call twice: `before` it reaches moto (it may answer instead, with the
//! error AWS would give) and `after` moto answered (it may rewrite the answer, e.g. show a
//! resource in a transitional state AWS would still report). Every rule cites the AWS
//! documentation it models, and counts how often it fired (`Proxy::fired(name)`), so each
//! rule has a test showing it fires.
//!
//! Time: AWS's durations (an instance `pending` for 15 s, an RDS create for minutes) are
//! multiplied by the scale given to `Proxy::strict` (0.01 turns a 10-minute create into 6 s),
//! which keeps the suite inside CI's limit while the code still has to wait.
//!
//! The rules:
//! - [`ec2::InstancePending`] `ec2.instance-pending`: a new instance is `pending` before
//!   `running`.
//! - [`rds::MinorUpgrade`] `rds.minor-upgrade`: a database created through the proxy reads one
//!   minor engine version higher afterwards, as `AutoMinorVersionUpgrade` leaves it
//!   (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.Maintenance.html#USER_UpgradeDBInstance.Upgrading.AutoMinorVersionUpgrades).
//! - [`rds::ManagedPasswordReplica`] `rds.managed-password-replica`: a read replica of a source
//!   whose master password RDS manages (`ManageMasterUserPassword`) is refused
//!   (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations).
//! - [`rds::StopWithReplicas`] `rds.stop-with-replicas`: stopping a DB instance that has a read
//!   replica, or is one, is refused
//!   (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_StopInstance.html#USER_StopInstance.Limitations).
//! - [`cloudwatch::NegativeLag`] `cloudwatch.negative-lag`: a MySQL or MariaDB read replica
//!   reports `ReplicaLag` -1 while its replication is not running (until a lag of 0 or more
//!   is published for it)
//!   (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_MySQL.Replication.ReadReplicas.Monitor.html).
//! - [`rds_states::RdsStates`] `rds.instance-states`: an RDS instance is `creating` then
//!   `backing-up` after a create, `modifying` then `rebooting` after a promote, `modifying`
//!   after a modify, before `available`
//!   (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html).
//! - [`consistency::NewIdNotFound`] `ec2.new-id-not-found`: the first call naming a just-created
//!   EC2 id answers its NotFound code
//!   (https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html).
//! - [`consistency::Draining`] `ec2.dependency-violation`: deleting a security group or subnet
//!   while terminated instances drain answers `DependencyViolation`
//!   (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
//! - [`tokens::ClientToken`] `ec2.client-token`: a `ClientToken` reused with other
//!   parameters answers `IdempotentParameterMismatch`
//!   (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html).
//! - [`rds_backups::BackupsReplication`] `rds.automated-backups-replication`: automated
//!   backups replicated into another region (moto lacks it): `pending` then `replicating`,
//!   listed there with their restore window, stopped, and restored from with
//!   `RestoreDBInstanceToPointInTime` whatever the source region answers
//!   (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReplicateBackups.html).
//! - [`route53::Rate`] `route53.rate`: above five requests a second Route 53 answers
//!   `Throttling` (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html).
//! - [`route53::ChangePending`] `route53.change-pending`: a change is `PENDING` before
//!   `INSYNC` (https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html).
//! - [`autoscaling::InstancePending`] `autoscaling.instance-pending`: a group's new instance is
//!   `Pending` before `InService`
//!   (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-lifecycle.html).
//! - [`autoscaling::TargetInitial`] `elbv2.target-initial`: a new target is `initial` until it
//!   passes its first health checks
//!   (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html).
//! - [`refresh::InstanceRefresh`] `autoscaling.instance-refresh`: `StartInstanceRefresh` and
//!   `DescribeInstanceRefreshes` (moto lacks both), replacing instances in batches that keep
//!   `MinHealthyPercentage` of the group healthy
//!   (https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-overview.html).
//! - [`autoscaling::InsufficientCapacity`] `autoscaling.insufficient-capacity`: where capacity
//!   is exhausted ([`Strict::exhaust_capacity`]), a scale-up launches nothing and
//!   `DescribeScalingActivities` shows the failed launch
//!   (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ts-as-capacity.html).
//! - [`route53::CallerReference`] `route53.caller-reference`: a `CallerReference` is never
//!   reused (https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateHealthCheck.html).
//! - [`capacity::CapacityFailure`] `autoscaling.capacity-failure` (opt-in, per region:
//!   `Proxy::limit_capacity`): a group launches no more than the region's capacity and
//!   reports the rest as a `Failed` scaling activity
//!   (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ts-as-capacity.html).

mod autoscaling;
mod capacity;
mod cloudwatch;
mod consistency;
mod ec2;
mod rds;
mod rds_backups;
mod rds_states;
mod refresh;
mod route53;
mod tokens;

pub use capacity::CapacityFailure;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One AWS call as the rules see it.
#[derive(Debug, Clone)]
pub struct Call {
    /// Signing name: `ec2`, `rds`, `s3`, `route53`, `iam`, `monitoring` ...
    pub service: String,
    pub region: String,
    /// As `Seen::operation` names it (`RunInstances`, `PUT bucket?replication` ...).
    pub operation: String,
    /// Query-string and form-body parameters (query protocols: EC2, RDS, IAM, CloudWatch).
    pub params: BTreeMap<String, String>,
    /// The raw body (REST protocols: Route 53's XML, S3).
    pub body: Vec<u8>,
}

impl Call {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// Values of a list parameter (`InstanceId.1`, `InstanceId.2` ...).
    pub fn list(&self, prefix: &str) -> Vec<&str> {
        let dotted = format!("{prefix}.");
        self.params
            .iter()
            .filter(|(k, _)| {
                k.strip_prefix(&dotted)
                    .is_some_and(|n| n.parse::<u32>().is_ok())
            })
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// An error answer, in the error shape of the call's protocol.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl Refusal {
    /// A 400 with `code` and a message naming the rule, so a failing test says why.
    pub fn bad_request(rule: &str, code: &str, message: &str) -> Refusal {
        Refusal {
            status: 400,
            code: code.to_string(),
            message: format!("{message} (standby strict proxy: {rule})"),
        }
    }
}

/// moto's answer, which `after` may rewrite.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

/// Real time to AWS time: AWS's documented durations times the scale.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    scale: f64,
}

impl Clock {
    /// How long `aws` (a duration AWS takes) lasts here.
    pub fn of(&self, aws: Duration) -> Duration {
        aws.mul_f64(self.scale)
    }
}

pub trait Rule: Send {
    /// The rule's name as `Proxy::fired` counts it: `<service>.<behaviour>`.
    fn name(&self) -> &'static str;

    /// Before moto sees the call: `Some` answers with AWS's error instead (the rule fired).
    fn before(&mut self, _call: &Call, _now: Instant, _clock: Clock) -> Option<Refusal> {
        None
    }

    /// Instead of the call, moto gets these form parameters (an operation moto lacks, made
    /// of one it has); `after` still sees the call as sent.
    fn forward_as(&mut self, _call: &Call) -> Option<BTreeMap<String, String>> {
        None
    }

    /// After moto answered: rewrites the answer; true when the rule fired.
    fn after(&mut self, _call: &Call, _reply: &mut Reply, _now: Instant, _clock: Clock) -> bool {
        false
    }

    /// Calls (form parameters, signed as the call just answered) moto gets next: how a rule
    /// makes moto do what AWS does on its own (an instance refresh replacing instances).
    fn follow_ups(&mut self) -> Vec<BTreeMap<String, String>> {
        Vec::new()
    }
}

/// Every rule, with its counts.
pub struct Strict {
    clock: Clock,
    rules: Vec<Box<dyn Rule>>,
    fired: BTreeMap<&'static str, usize>,
    /// Regions where Auto Scaling cannot launch ([`Strict::exhaust_capacity`]).
    exhausted: autoscaling::Regions,
}

impl Strict {
    /// All rules, with AWS's durations multiplied by `scale`.
    pub fn new(scale: f64) -> Strict {
        let launches = autoscaling::Launches::default();
        let exhausted = autoscaling::Regions::default();
        Strict {
            clock: Clock { scale },
            exhausted: exhausted.clone(),
            rules: vec![
                Box::new(autoscaling::InstancePending::new(launches.clone())),
                Box::new(autoscaling::TargetInitial::new(launches.clone())),
                Box::new(refresh::InstanceRefresh::new(launches)),
                Box::new(autoscaling::InsufficientCapacity::new(exhausted)),
                Box::new(ec2::InstancePending::default()),
                Box::new(rds::MinorUpgrade::default()),
                Box::new(rds::ManagedPasswordReplica::default()),
                Box::new(rds::StopWithReplicas::default()),
                Box::new(cloudwatch::NegativeLag::default()),
                Box::new(rds_backups::BackupsReplication::default()),
                Box::new(rds_states::RdsStates::default()),
                Box::new(consistency::NewIdNotFound::default()),
                Box::new(consistency::Draining::default()),
                Box::new(tokens::ClientToken::default()),
                Box::new(route53::Rate::default()),
                Box::new(route53::ChangePending::default()),
                Box::new(route53::CallerReference::default()),
            ],
            fired: BTreeMap::new(),
        }
    }

    /// Adds an opt-in rule (one a test asks for, such as a region short of capacity).
    pub fn add(&mut self, rule: Box<dyn Rule>) {
        self.rules.push(rule);
    }

    /// The first rule that refuses the call, counted.
    pub fn before(&mut self, call: &Call) -> Option<Refusal> {
        let now = Instant::now();
        for rule in &mut self.rules {
            if let Some(refusal) = rule.before(call, now, self.clock) {
                *self.fired.entry(rule.name()).or_default() += 1;
                return Some(refusal);
            }
        }
        None
    }

    /// The form parameters moto gets instead of the call, from the first rule that says so.
    pub fn forward_as(&mut self, call: &Call) -> Option<BTreeMap<String, String>> {
        self.rules.iter_mut().find_map(|rule| rule.forward_as(call))
    }

    /// Lets every rule rewrite moto's answer, in order.
    pub fn after(&mut self, call: &Call, reply: &mut Reply) {
        let now = Instant::now();
        for rule in &mut self.rules {
            if rule.after(call, reply, now, self.clock) {
                *self.fired.entry(rule.name()).or_default() += 1;
            }
        }
    }

    /// The calls every rule asked moto to get next, in order.
    pub fn follow_ups(&mut self) -> Vec<BTreeMap<String, String>> {
        self.rules.iter_mut().flat_map(|r| r.follow_ups()).collect()
    }

    /// From now on, Auto Scaling cannot launch instances in `region`
    /// ([`autoscaling::InsufficientCapacity`]).
    pub fn exhaust_capacity(&mut self, region: &str) {
        self.exhausted.insert(region.to_string());
    }

    pub fn fired(&self, rule: &str) -> usize {
        self.fired.get(rule).copied().unwrap_or(0)
    }
}

/// The text of each `<tag>…</tag>` in `xml`, in order.
pub fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    out
}
