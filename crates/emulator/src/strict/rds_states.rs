//! RDS instance states: moto makes an instance `available` at once; RDS takes minutes.

use super::{Call, Clock, Reply, Rule};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// After a create (also of a read replica or a restore) an instance is `creating`, then
/// `backing-up`; after `PromoteReadReplica` it is `modifying`, then `rebooting`; after
/// `ModifyDBInstance` `modifying`; only then `available`. AWS: "Viewing Amazon RDS DB
/// instance status" (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html)
/// and "Promoting a read replica" (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Promote.html).
#[derive(Default)]
pub struct RdsStates {
    /// Identifier → when its transition began and the states it goes through.
    started: HashMap<String, (Instant, Transition)>,
}

/// The statuses a transition goes through, each with how long AWS stays in it.
type Transition = &'static [(&'static str, Duration)];

const MINUTE: Duration = Duration::from_secs(60);
const CREATE: &[(&str, Duration)] = &[
    ("creating", MINUTE.saturating_mul(5)),
    ("backing-up", MINUTE.saturating_mul(2)),
];
const PROMOTE: &[(&str, Duration)] = &[
    ("modifying", MINUTE.saturating_mul(2)),
    ("rebooting", MINUTE),
];
const MODIFY: &[(&str, Duration)] = &[("modifying", MINUTE.saturating_mul(2))];

impl RdsStates {
    /// The state `id` shows at `now`, when still in a transition.
    fn state(&self, id: &str, now: Instant, clock: Clock) -> Option<&'static str> {
        let (at, states) = self.started.get(id)?;
        let mut end = *at;
        for (name, lasts) in states.iter() {
            end += clock.of(*lasts);
            if now < end {
                return Some(name);
            }
        }
        None
    }
}

impl Rule for RdsStates {
    fn name(&self) -> &'static str {
        "rds.instance-states"
    }

    fn after(&mut self, call: &Call, reply: &mut Reply, now: Instant, clock: Clock) -> bool {
        if call.service != "rds" || reply.status != 200 {
            return false;
        }
        let states = match call.operation.as_str() {
            "CreateDBInstance"
            | "CreateDBInstanceReadReplica"
            | "RestoreDBInstanceFromDBSnapshot"
            | "RestoreDBInstanceToPointInTime" => CREATE,
            "PromoteReadReplica" => PROMOTE,
            "ModifyDBInstance" => MODIFY,
            "DescribeDBInstances" => return self.rewrite(&mut reply.body, now, clock),
            _ => return false,
        };
        let id = call
            .param("DBInstanceIdentifier")
            .or(call.param("TargetDBInstanceIdentifier"));
        if let Some(id) = id {
            self.started.insert(id.to_string(), (now, states));
        }
        false
    }
}

impl RdsStates {
    /// Shows each instance still in a transition in its state; true when one was rewritten.
    fn rewrite(&self, body: &mut String, now: Instant, clock: Clock) -> bool {
        let mut fired = false;
        let mut out = String::with_capacity(body.len());
        let mut parts = body.split("<DBInstance>");
        out.push_str(parts.next().unwrap_or_default());
        for part in parts {
            out.push_str("<DBInstance>");
            let id = super::elements(part, "DBInstanceIdentifier")
                .first()
                .map(|s| s.to_string());
            match id.and_then(|id| self.state(&id, now, clock)) {
                Some(state) if part.contains("<DBInstanceStatus>available</DBInstanceStatus>") => {
                    let shown = format!("<DBInstanceStatus>{state}</DBInstanceStatus>");
                    out.push_str(&part.replacen(
                        "<DBInstanceStatus>available</DBInstanceStatus>",
                        &shown,
                        1,
                    ));
                    fired = true;
                }
                _ => out.push_str(part),
            }
        }
        *body = out;
        fired
    }
}
