//! Instances: launched idempotently (`ClientToken`), waited for until running.

use super::super::poll::{self, Pace, Reading};
use super::*;

/// EC2's code for an instance id it does not (yet) know.
const NOT_FOUND: &str = "InvalidInstanceID.NotFound";

impl Ec2 {
    pub(super) async fn create_instance(
        &self,
        d: &Desired,
        subnet_id: &str,
        group_id: &str,
    ) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        // Adopt a live instance carrying the address (waiting for it if still pending).
        if let Some(Raw::Instance(found)) = self.find_raw(d, Kind::Instance).await? {
            let state = found.state().and_then(|s| s.name()).map(|n| n.as_str());
            if state != Some("pending") {
                return self
                    .instance_observed(&found)
                    .ok_or_else(|| self.empty("DescribeInstances", a));
            }
            return self.wait_running(d, *found).await;
        }
        let mut token = client_token(d, subnet_id, group_id);
        let mut instance = None;
        // A token whose instance has since terminated returns that instance again (EC2 keeps
        // tokens for a while): derive a new token from it, deterministically.
        for _ in 0..3 {
            let out = self
                .client
                .run_instances()
                .image_id(str_attr(d, "image")?)
                .instance_type(InstanceType::from(str_attr(d, "instance_type")?))
                .min_count(1)
                .max_count(1)
                .subnet_id(subnet_id)
                .security_group_ids(group_id)
                .client_token(&token)
                .tag_specifications(tag_spec(ResourceType::Instance, d))
                .send()
                .await
                .op("RunInstances", r, a)?;
            let i = out
                .instances()
                .first()
                .cloned()
                .ok_or_else(|| self.empty("RunInstances", a))?;
            let state = i
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_string());
            if matches!(state.as_deref(), Some("terminated" | "shutting-down")) {
                token = salted_token(&token, i.instance_id().unwrap_or_default());
                continue;
            }
            instance = Some(i);
            break;
        }
        let instance = instance.ok_or_else(|| {
            anyhow!(
                "{a}: RunInstances in {r} kept returning terminated instances for its client token"
            )
        })?;
        self.wait_running(d, instance).await
    }

    pub(super) async fn wait_running(
        &self,
        d: &Desired,
        instance: Instance,
    ) -> anyhow::Result<Observed> {
        let a = &d.address;
        let id = instance.instance_id().unwrap_or_default().to_string();
        let running = self
            .wait_instance_state(a, &id, "running")
            .await?
            .unwrap_or(instance);
        self.instance_observed(&running)
            .or_else(|| {
                // Tags should be on it; fall back to the desired address.
                let mut o = self.instance_observed_untagged(&running)?;
                o.address = a.clone();
                Some(o)
            })
            .ok_or_else(|| self.empty("RunInstances", a))
    }

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

/// A `ClientToken` derived from everything `RunInstances` sends: settings, subnet, security
/// group and every tag (environment, address, a drill's id), at most 64 characters. EC2 keeps
/// a token bound for at least 24 hours, also after the instance terminated, and answers
/// `IdempotentParameterMismatch` to the same token with other parameters ("Ensuring
/// idempotency", https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html):
/// the same request retried yields the same token, any change a new one.
pub(crate) fn client_token(d: &Desired, subnet_id: &str, group_id: &str) -> String {
    let attrs = serde_json::to_string(&d.attrs).unwrap_or_default();
    let tags = serde_json::to_string(&d.tags).unwrap_or_default();
    let input = format!("{}|{subnet_id}|{group_id}|{attrs}|{tags}", d.address);
    hex::encode(Sha256::digest(input.as_bytes()))[..64].to_string()
}

pub(super) fn salted_token(token: &str, terminated_id: &str) -> String {
    hex::encode(Sha256::digest(
        format!("{token}|{terminated_id}").as_bytes(),
    ))[..64]
        .to_string()
}
