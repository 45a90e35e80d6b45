//! EC2 eventual consistency and draining dependencies.

use super::{Call, Clock, Refusal, Rule};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Right after a create, the first call that names the new id answers its NotFound code: "If
/// you try to describe, tag or modify a resource immediately after creating it, you might get
/// a NotFound error" (https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html).
#[derive(Default)]
pub struct NewIdNotFound {
    /// New id → when it was created; removed once a call was refused for it.
    fresh: HashMap<String, Instant>,
}

/// How long a new id may be unknown to other calls, in AWS time.
const WINDOW: Duration = Duration::from_secs(60);

/// The tags of the new ids in each create's answer, and the NotFound code of each id prefix.
const CREATED: &[(&str, &str)] = &[
    ("CreateVpc", "vpcId"),
    ("CreateSubnet", "subnetId"),
    ("CreateSecurityGroup", "groupId"),
    ("CreateInternetGateway", "internetGatewayId"),
    ("RunInstances", "instanceId"),
];

fn not_found(id: &str) -> Option<&'static str> {
    [
        ("vpc-", "InvalidVpcID.NotFound"),
        ("subnet-", "InvalidSubnetID.NotFound"),
        ("sg-", "InvalidGroup.NotFound"),
        ("igw-", "InvalidInternetGatewayID.NotFound"),
        ("i-", "InvalidInstanceID.NotFound"),
    ]
    .iter()
    .find(|(prefix, _)| id.starts_with(prefix))
    .map(|(_, code)| *code)
}

impl Rule for NewIdNotFound {
    fn name(&self) -> &'static str {
        "ec2.new-id-not-found"
    }

    fn before(&mut self, call: &Call, now: Instant, clock: Clock) -> Option<Refusal> {
        if call.service != "ec2" {
            return None;
        }
        let id = call
            .params
            .values()
            .find(|v| {
                self.fresh
                    .get(*v)
                    .is_some_and(|at| now.duration_since(*at) < clock.of(WINDOW))
            })?
            .clone();
        self.fresh.remove(&id);
        let code = not_found(&id)?;
        Some(Refusal::bad_request(
            self.name(),
            code,
            &format!("The ID '{id}' does not exist"),
        ))
    }

    fn after(
        &mut self,
        call: &Call,
        reply: &mut super::Reply,
        now: Instant,
        _clock: Clock,
    ) -> bool {
        if call.service != "ec2" || reply.status != 200 {
            return false;
        }
        if let Some((_, tag)) = CREATED.iter().find(|(op, _)| *op == call.operation) {
            for id in super::elements(&reply.body, tag).into_iter().take(1) {
                self.fresh.insert(id.to_string(), now);
            }
        }
        false
    }
}

/// While instances drain after `TerminateInstances`, deleting a security group or subnet they
/// used answers `DependencyViolation` ("resource ... has a dependent object",
/// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
#[derive(Default)]
pub struct Draining {
    terminated: Option<Instant>,
}

/// How long instances' network interfaces take to go away, in AWS time.
const DRAIN: Duration = Duration::from_secs(120);

impl Rule for Draining {
    fn name(&self) -> &'static str {
        "ec2.dependency-violation"
    }

    fn before(&mut self, call: &Call, now: Instant, clock: Clock) -> Option<Refusal> {
        if call.service != "ec2" {
            return None;
        }
        match call.operation.as_str() {
            "TerminateInstances" => {
                self.terminated = Some(now);
                None
            }
            "DeleteSecurityGroup" | "DeleteSubnet"
                if self
                    .terminated
                    .is_some_and(|at| now.duration_since(at) < clock.of(DRAIN)) =>
            {
                Some(Refusal::bad_request(
                    self.name(),
                    "DependencyViolation",
                    "resource has a dependent object",
                ))
            }
            _ => None,
        }
    }
}
