//! Instances: launched idempotently (`ClientToken`), waited for until running.

use super::*;

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
        let mut token = client_token(d);
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
        let (r, a) = (self.region.as_str(), &d.address);
        let id = instance.instance_id().unwrap_or_default().to_string();
        let ready = self
            .client
            .wait_until_instance_running()
            .instance_ids(&id)
            .wait(INSTANCE_WAIT)
            .await
            .map_err(|e| error::wait_failure("instance running", r, a, &e))?;
        let running = ready
            .as_result()
            .ok()
            .and_then(|o| {
                o.reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .find(|i| i.instance_id() == Some(id.as_str()))
                    .cloned()
            })
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

/// A `ClientToken` derived from the environment, the address and the spec-derived settings
/// (at most 64 characters): the same resource retried yields the same token, a replacement
/// or the same address in another environment of the account a new one. Tags are left out:
/// they change in place.
pub(crate) fn client_token(d: &Desired) -> String {
    let mut settings = d.attrs.clone();
    settings.remove(TAGS);
    let attrs = serde_json::to_string(&settings).unwrap_or_default();
    let tag = |k: &str| d.tags.get(k).map(String::as_str).unwrap_or_default();
    let input = format!(
        "{}|{}|{}|{attrs}",
        tag(TAG_SERVICE),
        tag(TAG_ENVIRONMENT),
        d.address
    );
    hex::encode(Sha256::digest(input.as_bytes()))[..64].to_string()
}

pub(super) fn salted_token(token: &str, terminated_id: &str) -> String {
    hex::encode(Sha256::digest(
        format!("{token}|{terminated_id}").as_bytes(),
    ))[..64]
        .to_string()
}
