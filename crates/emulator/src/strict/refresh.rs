//! Instance refreshes, which moto 5.2.5 lacks (`StartInstanceRefresh` answers "not
//! implemented"): the proxy keeps each refresh and makes moto replace the group's instances
//! in batches, as Auto Scaling does.

use super::autoscaling::{group_instances, replace_element, rewrite_members, Launches};
use super::autoscaling::{INITIAL, PENDING};
use super::{elements, Call, Clock, Refusal, Reply, Rule};
use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

/// `StartInstanceRefresh` replaces every instance of a group: it launches new ones (from the
/// group's launch template as it is now) and terminates old ones once their replacements are
/// `InService` and healthy, never leaving fewer healthy instances than `MinHealthyPercentage`
/// of the desired capacity (default 90) nor more than `MaxHealthyPercentage` (default 100)
/// running; `DescribeInstanceRefreshes` reports it `InProgress`, then `Successful`; a second
/// refresh while one runs is refused with `InstanceRefreshInProgress`.
/// AWS: https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_StartInstanceRefresh.html,
/// https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html,
/// https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-overview.html.
pub struct InstanceRefresh {
    launches: Launches,
    refreshes: Vec<Refresh>,
    /// Calls moto gets after the answer being written.
    queued: Vec<BTreeMap<String, String>>,
}

struct Refresh {
    id: String,
    region: String,
    group: String,
    /// The instances it replaces.
    old: Vec<String>,
    desired: usize,
    min_healthy: usize,
    max_healthy: usize,
    started: SystemTime,
    done: bool,
    percent: usize,
}

impl InstanceRefresh {
    pub fn new(launches: Launches) -> Self {
        InstanceRefresh {
            launches,
            refreshes: Vec::new(),
            queued: Vec::new(),
        }
    }

    fn running(&self, region: &str, group: &str) -> Option<usize> {
        self.refreshes
            .iter()
            .position(|r| !r.done && r.region == region && r.group == group)
    }
}

impl Rule for InstanceRefresh {
    fn name(&self) -> &'static str {
        "autoscaling.instance-refresh"
    }

    fn before(&mut self, call: &Call, _now: Instant, _clock: Clock) -> Option<Refusal> {
        if call.service != "autoscaling" || call.operation != "StartInstanceRefresh" {
            return None;
        }
        let group = call.param("AutoScalingGroupName").unwrap_or_default();
        self.running(&call.region, group).map(|_| {
            Refusal::bad_request(
                self.name(),
                "InstanceRefreshInProgress",
                &format!("An Instance Refresh is already in progress and blocks the execution of this Instance Refresh for {group}."),
            )
        })
    }

    /// Both calls reach moto as a `DescribeAutoScalingGroups` of the group: its instances
    /// are what the refresh works from.
    fn forward_as(&mut self, call: &Call) -> Option<BTreeMap<String, String>> {
        let ours = matches!(
            call.operation.as_str(),
            "StartInstanceRefresh" | "DescribeInstanceRefreshes"
        );
        if call.service != "autoscaling" || !ours {
            return None;
        }
        Some(BTreeMap::from([
            ("Action".into(), "DescribeAutoScalingGroups".into()),
            ("Version".into(), "2011-01-01".into()),
            (
                "AutoScalingGroupNames.member.1".into(),
                call.param("AutoScalingGroupName")?.to_string(),
            ),
        ]))
    }

    fn after(&mut self, call: &Call, reply: &mut Reply, now: Instant, clock: Clock) -> bool {
        if call.service != "autoscaling" || reply.status != 200 {
            return false;
        }
        self.launches.note(group_instances(&reply.body), now);
        match call.operation.as_str() {
            "StartInstanceRefresh" => self.start(call, reply),
            "DescribeInstanceRefreshes" => self.describe(call, reply, now, clock),
            "DescribeAutoScalingGroups" => self.show_desired(&call.region, &mut reply.body),
            _ => false,
        }
    }

    fn follow_ups(&mut self) -> Vec<BTreeMap<String, String>> {
        std::mem::take(&mut self.queued)
    }
}

/// One instance of the group as moto listed it.
struct Member {
    id: String,
    in_service: bool,
}

fn members(body: &str) -> Vec<Member> {
    let mut out = Vec::new();
    let mut copy = body.to_string();
    rewrite_members(&mut copy, "<member><InstanceId>", |m| {
        out.push(Member {
            id: elements(m, "InstanceId").first()?.to_string(),
            in_service: m.contains("<LifecycleState>InService</LifecycleState>"),
        });
        None
    });
    out
}

impl InstanceRefresh {
    fn start(&mut self, call: &Call, reply: &mut Reply) -> bool {
        let group = call.param("AutoScalingGroupName").unwrap_or_default();
        let Some(desired) = elements(&reply.body, "DesiredCapacity").first().copied() else {
            *reply = error_reply(
                self.name(),
                "ValidationError",
                "AutoScalingGroup name not found",
            );
            return true;
        };
        let pref = |k: &str, default: usize| {
            call.param(&format!("Preferences.{k}"))
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let id = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            self.refreshes.len() + 1,
            self.refreshes.len() + 1
        );
        self.refreshes.push(Refresh {
            id: id.clone(),
            region: call.region.clone(),
            group: group.to_string(),
            old: members(&reply.body).into_iter().map(|m| m.id).collect(),
            desired: desired.parse().unwrap_or(0),
            min_healthy: pref("MinHealthyPercentage", 90),
            max_healthy: pref("MaxHealthyPercentage", 100),
            started: SystemTime::now(),
            done: false,
            percent: 0,
        });
        reply.body = format!(
            "<StartInstanceRefreshResponse xmlns=\"{XMLNS}\"><StartInstanceRefreshResult>\
             <InstanceRefreshId>{id}</InstanceRefreshId></StartInstanceRefreshResult>\
             <ResponseMetadata><RequestId>{id}</RequestId></ResponseMetadata>\
             </StartInstanceRefreshResponse>"
        );
        true
    }

    /// Moves the group's running refresh one step on, then lists its refreshes.
    fn describe(&mut self, call: &Call, reply: &mut Reply, now: Instant, clock: Clock) -> bool {
        let group = call.param("AutoScalingGroupName").unwrap_or_default();
        if let Some(i) = self.running(&call.region, group) {
            let members = members(&reply.body);
            let launches = self.launches.clone();
            let healthy = |m: &Member| {
                m.in_service && launches.age(&m.id, now) >= clock.of(PENDING + INITIAL)
            };
            let calls = step(&mut self.refreshes[i], &members, healthy);
            self.queued.extend(calls);
        }
        let wanted = call.list("InstanceRefreshIds.member");
        let listed: String = self
            .refreshes
            .iter()
            .filter(|r| r.region == call.region && r.group == group)
            .filter(|r| wanted.is_empty() || wanted.contains(&r.id.as_str()))
            .map(listing)
            .collect();
        reply.body = format!(
            "<DescribeInstanceRefreshesResponse xmlns=\"{XMLNS}\"><DescribeInstanceRefreshesResult>\
             <InstanceRefreshes>{listed}</InstanceRefreshes></DescribeInstanceRefreshesResult>\
             <ResponseMetadata><RequestId>standby-strict</RequestId></ResponseMetadata>\
             </DescribeInstanceRefreshesResponse>"
        );
        true
    }

    /// While a refresh runs, moto's capacity includes the replacements launched ahead: the
    /// group shows the desired capacity it had, as on AWS.
    fn show_desired(&self, region: &str, body: &mut String) -> bool {
        rewrite_members(body, "<member><AutoScalingGroupName>", |m| {
            let name = elements(m, "AutoScalingGroupName").first().copied()?;
            let r = &self.refreshes[self.running(region, name)?];
            Some(replace_element(
                m,
                "DesiredCapacity",
                &r.desired.to_string(),
            ))
        })
    }
}

const XMLNS: &str = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

/// One step of a refresh over the group's `members`: terminates old instances while enough
/// others are healthy, launches replacements up to the maximum; the calls that do it.
fn step(
    r: &mut Refresh,
    members: &[Member],
    healthy: impl Fn(&Member) -> bool,
) -> Vec<BTreeMap<String, String>> {
    let is_old = |m: &Member| r.old.contains(&m.id);
    let new = members.iter().filter(|m| !is_old(m)).count();
    let old: Vec<&Member> = members.iter().filter(|m| is_old(m)).collect();
    r.percent = (r.desired.saturating_sub(old.len()) * 100)
        .checked_div(r.desired)
        .unwrap_or(100);
    let all_healthy = members.iter().all(&healthy);
    if old.is_empty() && new == r.desired && all_healthy {
        r.done = true;
        return Vec::new();
    }
    // "Rounded up to the nearest integer" (MinHealthyPercentage), down for the maximum.
    let floor = (r.desired * r.min_healthy).div_ceil(100);
    let ceiling = (r.desired * r.max_healthy / 100).max(r.desired);
    let spare = members
        .iter()
        .filter(|m| healthy(m))
        .count()
        .saturating_sub(floor);
    let mut calls = Vec::new();
    let gone: Vec<&&Member> = old.iter().filter(|m| healthy(m)).take(spare).collect();
    for m in &gone {
        calls.push(BTreeMap::from([
            (
                "Action".into(),
                "TerminateInstanceInAutoScalingGroup".into(),
            ),
            ("Version".into(), "2011-01-01".into()),
            ("InstanceId".into(), m.id.clone()),
            ("ShouldDecrementDesiredCapacity".into(), "true".into()),
        ]));
    }
    let total = members.len() - gone.len();
    let launch = ceiling
        .saturating_sub(total)
        .min(r.desired.saturating_sub(new));
    if launch > 0 {
        calls.push(BTreeMap::from([
            ("Action".into(), "SetDesiredCapacity".into()),
            ("Version".into(), "2011-01-01".into()),
            ("AutoScalingGroupName".into(), r.group.clone()),
            ("DesiredCapacity".into(), (total + launch).to_string()),
        ]));
    }
    calls
}

fn listing(r: &Refresh) -> String {
    let status = if r.done { "Successful" } else { "InProgress" };
    let left = if r.done { 0 } else { r.old.len() };
    format!(
        "<member><InstanceRefreshId>{}</InstanceRefreshId>\
         <AutoScalingGroupName>{}</AutoScalingGroupName><Status>{status}</Status>\
         <StartTime>{}</StartTime><PercentageComplete>{}</PercentageComplete>\
         <InstancesToUpdate>{left}</InstancesToUpdate>\
         <Preferences><MinHealthyPercentage>{}</MinHealthyPercentage>\
         <MaxHealthyPercentage>{}</MaxHealthyPercentage></Preferences></member>",
        r.id,
        r.group,
        super::rds_backups::rfc3339(r.started),
        r.percent,
        r.min_healthy,
        r.max_healthy,
    )
}

fn error_reply(rule: &str, code: &str, message: &str) -> Reply {
    Reply {
        status: 400,
        body: format!(
            "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>Sender</Type><Code>{code}</Code>\
             <Message>{message} (standby strict proxy: {rule})</Message></Error>\
             <RequestId>standby-strict</RequestId></ErrorResponse>"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refresh(desired: usize, min: usize, max: usize) -> Refresh {
        Refresh {
            id: "r".into(),
            region: "us-east-1".into(),
            group: "g".into(),
            old: (0..desired).map(|i| format!("i-old{i}")).collect(),
            desired,
            min_healthy: min,
            max_healthy: max,
            started: SystemTime::now(),
            done: false,
            percent: 0,
        }
    }

    fn member(id: &str) -> Member {
        Member {
            id: id.into(),
            in_service: true,
        }
    }

    #[test]
    fn at_100_percent_it_launches_first_and_terminates_only_healthy_replacements() {
        let mut r = refresh(2, 100, 200);
        let old = [member("i-old0"), member("i-old1")];
        let calls = step(&mut r, &old, |_| true);
        assert_eq!(calls.len(), 1, "only a launch: {calls:?}");
        assert_eq!(calls[0]["DesiredCapacity"], "4");
        let four = [
            member("i-old0"),
            member("i-old1"),
            member("i-new0"),
            member("i-new1"),
        ];
        let calls = step(&mut r, &four, |m| m.id.contains("old"));
        assert!(calls.is_empty(), "replacements not healthy yet: {calls:?}");
        let calls = step(&mut r, &four, |_| true);
        assert_eq!(calls.len(), 2, "both old ones go: {calls:?}");
        let new = [member("i-new0"), member("i-new1")];
        assert!(step(&mut r, &new, |_| true).is_empty());
        assert!(r.done);
    }

    #[test]
    fn at_50_percent_without_headroom_it_terminates_half_then_replaces() {
        let mut r = refresh(4, 50, 100);
        let old: Vec<Member> = (0..4).map(|i| member(&format!("i-old{i}"))).collect();
        let calls = step(&mut r, &old, |_| true);
        let terminated = calls
            .iter()
            .filter(|c| c["Action"] == "TerminateInstanceInAutoScalingGroup")
            .count();
        assert_eq!(terminated, 2);
        assert_eq!(calls.last().unwrap()["DesiredCapacity"], "4");
    }
}
