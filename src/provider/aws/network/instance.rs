//! Stray instances (clusters run in Auto Scaling groups): terminated, and waited for.

use super::super::poll::{self, Pace, Reading};
use super::*;

/// EC2's code for an instance id it does not (yet) know.
const NOT_FOUND: &str = "InvalidInstanceID.NotFound";

impl Ec2 {
    /// Waits until `id` is in `state` (`pending` before `running`, `shutting-down` before
    /// `terminated`: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-lifecycle.html).
    /// A NotFound is read again, except when waiting for `terminated`, where it means gone.
    pub(super) async fn wait_instance_state(
        &self,
        a: &Address,
        id: &str,
        state: &str,
    ) -> anyhow::Result<Option<Instance>> {
        let r = self.region.as_str();
        let what = format!("instance {state}");
        poll::until(Pace::instance(self.emulator), &what, r, a, || async {
            let read = self
                .client
                .describe_instances()
                .instance_ids(id)
                .send()
                .await;
            let out = match read {
                Ok(o) => o,
                Err(e) if state == "terminated" && error::code(&e) == Some(NOT_FOUND) => {
                    return Ok(Reading::Ready(None));
                }
                Err(e) => return poll::soft(e, &[NOT_FOUND], "DescribeInstances", r, a),
            };
            let found = out
                .reservations()
                .iter()
                .flat_map(|r| r.instances())
                .find(|i| i.instance_id() == Some(id))
                .cloned();
            let now = found
                .as_ref()
                .and_then(|i| i.state())
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_string());
            match now {
                Some(now) if now == state => Ok(Reading::Ready(found)),
                None if state == "terminated" => Ok(Reading::Ready(None)),
                Some(now) if state == "running" && now != "pending" => {
                    bail!("{a}: instance {id} in {r} is {now} while standby waits for it to run")
                }
                now => Ok(Reading::NotYet(now.unwrap_or_else(|| "not listed".into()))),
            }
        })
        .await
    }
}

/// One instance per address: the oldest by launch time. An interrupted apply on an API
/// without idempotency tokens could leave two; the others are logged, not reported, so the
/// engine keeps acting on one instance per address (terminate the extra ones by hand).
pub(super) fn dedupe_instances(mut instances: Vec<Instance>) -> Vec<Instance> {
    instances.sort_by_key(|i| {
        (
            i.launch_time().map(|t| (t.secs(), t.subsec_nanos())),
            i.instance_id().map(str::to_owned),
        )
    });
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for i in instances {
        let address = tag_map(i.tags()).remove(TAG_ADDRESS);
        let id = i.instance_id().unwrap_or_default().to_string();
        match address {
            Some(a) => match seen.get(&a) {
                Some(kept) => tracing::warn!(
                    address = %a,
                    kept = %kept,
                    duplicate = %id,
                    "two live instances carry the same address; reporting the oldest, terminate the other"
                ),
                None => {
                    seen.insert(a, id);
                    out.push(i);
                }
            },
            None => out.push(i),
        }
    }
    out
}
