//! Auto Scaling and target group rules: moto puts a group's new instances `InService` and
//! `healthy` at once and never fails to launch them.

use super::{elements, Call, Clock, Reply, Rule};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// When each group instance was first seen in an answer: the one clock the Auto Scaling
/// rules share, so an instance is `InService` for all of them at the same moment.
#[derive(Clone, Default)]
pub struct Launches(Arc<Mutex<HashMap<String, Instant>>>);

/// How long a group's new instance is `Pending` (launch and boot), in AWS time.
pub(super) const PENDING: Duration = Duration::from_secs(60);
/// How long a new target is `initial`: an Application Load Balancer's default five healthy
/// checks 30 s apart (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html).
pub(super) const INITIAL: Duration = Duration::from_secs(150);

impl Launches {
    /// Notes every instance id of `ids` not seen before as launched `now`.
    pub(super) fn note<'a>(&self, ids: impl IntoIterator<Item = &'a str>, now: Instant) {
        let mut seen = self.0.lock().expect("not poisoned");
        for id in ids {
            seen.entry(id.to_string()).or_insert(now);
        }
    }

    /// How long ago `id` was first seen (zero when never).
    pub(super) fn age(&self, id: &str, now: Instant) -> Duration {
        let seen = self.0.lock().expect("not poisoned");
        seen.get(id)
            .map_or(Duration::ZERO, |at| now.duration_since(*at))
    }
}

/// The instance ids of the groups in an Auto Scaling answer.
pub(super) fn group_instances(body: &str) -> Vec<&str> {
    elements(body, "InstanceId")
}

/// Rewrites each `<member>` that starts with `start` (up to its first `</member>`) with `f`;
/// true when one changed.
pub(super) fn rewrite_members(
    body: &mut String,
    start: &str,
    mut f: impl FnMut(&str) -> Option<String>,
) -> bool {
    let mut out = String::with_capacity(body.len());
    let mut rest = body.as_str();
    let mut changed = false;
    while let Some(at) = rest.find(start) {
        let Some(len) = rest[at..].find("</member>") else {
            break;
        };
        let member = &rest[at..at + len];
        out.push_str(&rest[..at]);
        match f(member) {
            Some(new) => {
                out.push_str(&new);
                changed = true;
            }
            None => out.push_str(member),
        }
        rest = &rest[at + len..];
    }
    out.push_str(rest);
    *body = out;
    changed
}

/// A group's new instance is `Pending` before it is `InService`; moto lists it `InService` at
/// once. AWS: "instances launched ... are put into the Pending state ... then InService"
/// (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-lifecycle.html).
pub struct InstancePending {
    launches: Launches,
}

impl InstancePending {
    pub fn new(launches: Launches) -> Self {
        InstancePending { launches }
    }
}

impl Rule for InstancePending {
    fn name(&self) -> &'static str {
        "autoscaling.instance-pending"
    }

    fn after(&mut self, call: &Call, reply: &mut Reply, now: Instant, clock: Clock) -> bool {
        if call.service != "autoscaling" || reply.status != 200 {
            return false;
        }
        self.launches.note(group_instances(&reply.body), now);
        if call.operation != "DescribeAutoScalingGroups" {
            return false;
        }
        let launches = &self.launches;
        rewrite_members(&mut reply.body, "<member><InstanceId>", |m| {
            let id = elements(m, "InstanceId").first().copied()?;
            let in_service = "<LifecycleState>InService</LifecycleState>";
            (launches.age(id, now) < clock.of(PENDING) && m.contains(in_service))
                .then(|| m.replace(in_service, "<LifecycleState>Pending</LifecycleState>"))
        })
    }
}

/// A new target is `initial` while the load balancer registers it and runs its first health
/// checks, then `healthy`; moto answers `healthy` at once. AWS: "initial: The load balancer
/// is in the process of registering the target or performing the initial health checks"
/// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html).
pub struct TargetInitial {
    launches: Launches,
}

impl TargetInitial {
    pub fn new(launches: Launches) -> Self {
        TargetInitial { launches }
    }
}

impl Rule for TargetInitial {
    fn name(&self) -> &'static str {
        "elbv2.target-initial"
    }

    fn after(&mut self, call: &Call, reply: &mut Reply, now: Instant, clock: Clock) -> bool {
        if call.service != "elasticloadbalancing"
            || call.operation != "DescribeTargetHealth"
            || reply.status != 200
        {
            return false;
        }
        let ids = elements(&reply.body, "Id");
        self.launches
            .note(ids.into_iter().filter(|i| i.starts_with("i-")), now);
        let launches = &self.launches;
        rewrite_members(&mut reply.body, "<member><Target>", |m| {
            let id = elements(m, "Id").first().copied()?;
            let healthy = "<State>healthy</State>";
            let initial = "<State>initial</State><Reason>Elb.InitialHealthChecking</Reason>";
            (launches.age(id, now) < clock.of(PENDING + INITIAL) && m.contains(healthy))
                .then(|| m.replace(healthy, initial))
        })
    }
}

/// Regions where Auto Scaling cannot launch ([`super::Strict::exhaust_capacity`]).
#[derive(Clone, Default)]
pub struct Regions(Arc<Mutex<HashSet<String>>>);

impl Regions {
    pub(super) fn insert(&self, region: String) {
        self.0.lock().expect("not poisoned").insert(region);
    }

    fn contains(&self, region: &str) -> bool {
        self.0.lock().expect("not poisoned").contains(region)
    }
}

/// Where capacity is exhausted, a scale-up launches nothing: the group keeps the capacity
/// asked for, its instances stay as they were, and `DescribeScalingActivities` shows the
/// launch `Failed` with EC2's reason (here the account's vCPU limit). AWS: "Troubleshoot
/// Amazon EC2 Auto Scaling: EC2 instance launch failures"
/// (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ts-as-capacity.html) and
/// https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_Activity.html.
pub struct InsufficientCapacity {
    exhausted: Regions,
    /// (region, group) → the desired capacity moto's answers last showed.
    running: HashMap<(String, String), u32>,
    /// (region, group) → the capacity asked for and when the launch failed.
    failed: HashMap<(String, String), (String, String, SystemTime)>,
}

impl InsufficientCapacity {
    pub fn new(exhausted: Regions) -> Self {
        InsufficientCapacity {
            exhausted,
            running: HashMap::new(),
            failed: HashMap::new(),
        }
    }

    /// The group a scale-up in an exhausted region names, when it raises the capacity.
    fn scale_up(&self, call: &Call) -> Option<(String, String)> {
        if call.service != "autoscaling"
            || call.operation != "UpdateAutoScalingGroup"
            || !self.exhausted.contains(&call.region)
        {
            return None;
        }
        let key = (
            call.region.clone(),
            call.param("AutoScalingGroupName")?.to_string(),
        );
        let wanted: u32 = call.param("DesiredCapacity")?.parse().ok()?;
        (wanted > self.running.get(&key).copied().unwrap_or(0)).then_some(key)
    }
}

/// EC2's answer to a launch above the account's vCPU limit, as the activity reports it.
const VCPU_LIMIT: &str = "You have requested more vCPU capacity than your current vCPU limit of 32 allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit. Launching EC2 instance failed.";

impl Rule for InsufficientCapacity {
    fn name(&self) -> &'static str {
        "autoscaling.insufficient-capacity"
    }

    fn forward_as(&mut self, call: &Call) -> Option<BTreeMap<String, String>> {
        let Some(key) = self.scale_up(call) else {
            // Any other change of the group's capacity is no longer the failed scale-up.
            if call.operation == "UpdateAutoScalingGroup" {
                let group = call.param("AutoScalingGroupName").unwrap_or_default();
                self.failed
                    .remove(&(call.region.clone(), group.to_string()));
            }
            return None;
        };
        let desired = call.param("DesiredCapacity")?.to_string();
        let min = call.param("MinSize").unwrap_or("0").to_string();
        self.failed.insert(key, (desired, min, SystemTime::now()));
        // moto keeps the group as it is: neither the capacity nor the minimum moves.
        let mut params = call.params.clone();
        params.remove("DesiredCapacity");
        params.remove("MinSize");
        Some(params)
    }

    fn after(&mut self, call: &Call, reply: &mut Reply, _now: Instant, _clock: Clock) -> bool {
        if call.service != "autoscaling" || reply.status != 200 {
            return false;
        }
        let region = call.region.clone();
        match call.operation.as_str() {
            "UpdateAutoScalingGroup" => {
                let group = call.param("AutoScalingGroupName").unwrap_or_default();
                self.failed.contains_key(&(region, group.to_string()))
            }
            "DescribeAutoScalingGroups" => self.show_asked(&region, &mut reply.body),
            "DescribeScalingActivities" => {
                let group = call.param("AutoScalingGroupName").unwrap_or_default();
                let Some((desired, _, at)) = self.failed.get(&(region, group.to_string())) else {
                    return false;
                };
                let activity = failed_activity(group, desired, *at);
                let listed = reply.body.replace(
                    "<Activities/>",
                    &format!("<Activities>{activity}</Activities>"),
                );
                reply.body = listed;
                true
            }
            _ => false,
        }
    }
}

impl InsufficientCapacity {
    /// Notes each group's capacity as moto holds it, then shows a failed group with the
    /// capacity and minimum asked for, as AWS does.
    fn show_asked(&mut self, region: &str, body: &mut String) -> bool {
        rewrite_members(body, "<member><AutoScalingGroupName>", |m| {
            let name = elements(m, "AutoScalingGroupName").first()?.to_string();
            let key = (region.to_string(), name);
            let running = elements(m, "DesiredCapacity").first()?.parse().ok()?;
            self.running.insert(key.clone(), running);
            let (desired, min, _) = self.failed.get(&key)?;
            let shown = replace_element(m, "DesiredCapacity", desired);
            Some(replace_element(&shown, "MinSize", min))
        })
    }
}

/// `member` with the text of its first `<tag>` set to `value`.
pub(super) fn replace_element(member: &str, tag: &str, value: &str) -> String {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    match (member.find(&open), member.find(&close)) {
        (Some(a), Some(b)) if a < b => {
            format!("{}{open}{value}{}", &member[..a], &member[b..])
        }
        _ => member.to_string(),
    }
}

fn failed_activity(group: &str, desired: &str, at: SystemTime) -> String {
    let time = super::rds_backups::rfc3339(at);
    format!(
        "<member><ActivityId>standby-strict-{group}</ActivityId>\
         <AutoScalingGroupName>{group}</AutoScalingGroupName>\
         <Description>Launching a new EC2 instance.  Status Reason: {VCPU_LIMIT}</Description>\
         <Cause>At {time} an instance was started in response to a difference between desired and actual capacity, increasing the capacity to {desired}.</Cause>\
         <StartTime>{time}</StartTime><EndTime>{time}</EndTime>\
         <StatusCode>Failed</StatusCode><StatusMessage>{VCPU_LIMIT}</StatusMessage>\
         <Progress>100</Progress></member>"
    )
}
