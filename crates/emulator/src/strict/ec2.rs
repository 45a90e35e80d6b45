//! EC2 rules.

use super::{elements, Call, Clock, Reply, Rule};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A launched instance is `pending` (code 0) before it is `running` (code 16); moto reports
/// `running` at once. AWS: "When you launch an instance, it enters the pending state ...
/// After the instance is ready for you, it enters the running state"
/// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-lifecycle.html).
#[derive(Default)]
pub struct InstancePending {
    launched: HashMap<String, Instant>,
}

/// How long an instance stays `pending`, in AWS time (typically well under a minute).
const PENDING: Duration = Duration::from_secs(30);

impl Rule for InstancePending {
    fn name(&self) -> &'static str {
        "ec2.instance-pending"
    }

    fn after(&mut self, call: &Call, reply: &mut Reply, now: Instant, clock: Clock) -> bool {
        if call.service != "ec2" || reply.status != 200 {
            return false;
        }
        match call.operation.as_str() {
            "RunInstances" => {
                for id in elements(&reply.body, "instanceId") {
                    self.launched.insert(id.to_string(), now);
                }
                false
            }
            "DescribeInstances" => {
                let pending: Vec<String> = self
                    .launched
                    .iter()
                    .filter(|(_, at)| now.duration_since(**at) < clock.of(PENDING))
                    .map(|(id, _)| id.clone())
                    .collect();
                let mut fired = false;
                for id in pending {
                    fired |= show_pending(&mut reply.body, &id);
                }
                fired
            }
            _ => false,
        }
    }
}

/// Rewrites the `instanceState` that follows `<instanceId>id</instanceId>` to `pending`,
/// when it says `running`.
fn show_pending(body: &mut String, id: &str) -> bool {
    let Some(at) = body.find(&format!("<instanceId>{id}</instanceId>")) else {
        return false;
    };
    let Some(start) = body[at..].find("<instanceState>").map(|i| at + i) else {
        return false;
    };
    let Some(end) = body[start..].find("</instanceState>").map(|i| start + i) else {
        return false;
    };
    if !body[start..end].contains("<name>running</name>") {
        return false;
    }
    let pending = "<instanceState><code>0</code><name>pending</name>";
    body.replace_range(start..end, pending);
    true
}
