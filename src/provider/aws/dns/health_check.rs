//! Health checks: one per watched region, found by their tags.

use super::*;

impl Route53 {
    // --- health checks -------------------------------------------------------------------

    pub(super) async fn create_health_check(&self, d: &Desired) -> anyhow::Result<Observed> {
        let a = &d.address;
        let reference = caller_reference(d, None);
        let existing = self.find_health_check(&reference, a).await?;
        let check = match existing {
            Some(c) => c,
            None => {
                let created = {
                    let _p = self.permit().await?;
                    self.client
                        .create_health_check()
                        .caller_reference(&reference)
                        .health_check_config(health_check_config(d)?)
                        .send()
                        .await
                };
                match created {
                    Ok(out) => out.health_check().cloned(),
                    // The reference belonged to a health check deleted since: Route 53
                    // never reuses one. A fresh reference makes a new check.
                    Err(e) if error::code(&e) == Some("HealthCheckAlreadyExists") => {
                        let _p = self.permit().await?;
                        self.client
                            .create_health_check()
                            .caller_reference(caller_reference(d, Some(&now_nanos())))
                            .health_check_config(health_check_config(d)?)
                            .send()
                            .await
                            .op("CreateHealthCheck", REGION, a)?
                            .health_check()
                            .cloned()
                    }
                    Err(e) => return Err(error::failure("CreateHealthCheck", REGION, a, &e)),
                }
                .ok_or_else(|| {
                    anyhow!("CreateHealthCheck in {REGION} failed for {a}: no health check in the answer")
                })?
            }
        };
        self.tag_health_check(d, check.id(), &[]).await?;
        health_check_observed(&check, a.clone(), str_attr(d, "region").ok(), &d.tags)
    }

    /// A live health check made with `reference` (by an earlier, interrupted attempt).
    pub(super) async fn find_health_check(
        &self,
        reference: &str,
        a: &Address,
    ) -> anyhow::Result<Option<HealthCheck>> {
        Ok(self
            .all_health_checks(a)
            .await?
            .into_iter()
            .find(|c| c.caller_reference() == reference))
    }

    pub(super) async fn update_health_check(
        &self,
        d: &Desired,
        current: &Observed,
    ) -> anyhow::Result<Observed> {
        let a = &d.address;
        let config = health_check_config(d)?;
        let updated = {
            let _p = self.permit().await?;
            self.client
                .update_health_check()
                .health_check_id(&current.id)
                .set_ip_address(config.ip_address().map(str::to_owned))
                .set_port(config.port())
                .set_resource_path(config.resource_path().map(str::to_owned))
                .send()
                .await
                .op("UpdateHealthCheck", REGION, a)?
        };
        self.tag_health_check(d, &current.id, &tags::removed(d, current))
            .await?;
        let check = updated.health_check().ok_or_else(|| {
            anyhow!("UpdateHealthCheck in {REGION} failed for {a}: no health check in the answer")
        })?;
        health_check_observed(check, a.clone(), str_attr(d, "region").ok(), &d.tags)
    }

    /// Every desired tag and the region it watches; `removed` goes.
    pub(super) async fn tag_health_check(
        &self,
        d: &Desired,
        id: &str,
        removed: &[String],
    ) -> anyhow::Result<()> {
        let watches = str_attr(d, "region")
            .ok()
            .map(|r| Tag::builder().key(TAG_WATCHES).value(r).build());
        self.change_tags(TagResourceType::Healthcheck, id, d, watches, removed)
            .await
    }

    /// Removes the tag keys `keys` from a health check or hosted zone, ten per call.
    pub(super) async fn remove_tags(
        &self,
        kind: TagResourceType,
        id: &str,
        keys: &[String],
        a: &Address,
    ) -> anyhow::Result<()> {
        for chunk in keys.chunks(10) {
            let _p = self.permit().await?;
            self.client
                .change_tags_for_resource()
                .resource_type(kind.clone())
                .resource_id(id)
                .set_remove_tag_keys(Some(chunk.to_vec()))
                .send()
                .await
                .op("ChangeTagsForResource", REGION, a)?;
        }
        Ok(())
    }

    /// Sets `d`'s tags (and `extra`) on a health check or hosted zone and removes the keys
    /// `removed`: Route 53 ChangeTagsForResource takes ten of each per call.
    pub(super) async fn change_tags(
        &self,
        kind: TagResourceType,
        id: &str,
        d: &Desired,
        extra: Option<Tag>,
        removed: &[String],
    ) -> anyhow::Result<()> {
        let add: Vec<Tag> = d
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .chain(extra)
            .collect();
        let calls = add.len().div_ceil(10).max(removed.len().div_ceil(10));
        for i in 0..calls {
            let part = |n: usize| i * 10..((i + 1) * 10).min(n);
            let adding = add.get(part(add.len())).unwrap_or_default().to_vec();
            let removing = removed
                .get(part(removed.len()))
                .unwrap_or_default()
                .to_vec();
            let _p = self.permit().await?;
            self.client
                .change_tags_for_resource()
                .resource_type(kind.clone())
                .resource_id(id)
                .set_add_tags(Some(adding).filter(|v| !v.is_empty()))
                .set_remove_tag_keys(Some(removing).filter(|v| !v.is_empty()))
                .send()
                .await
                .op("ChangeTagsForResource", REGION, &d.address)?;
        }
        Ok(())
    }

    /// The tags of health checks or hosted zones by id: ListTagsForResources, ten at a time.
    pub(super) async fn tags_of(
        &self,
        kind: TagResourceType,
        ids: &[String],
        subject: &(dyn std::fmt::Display + Sync),
    ) -> anyhow::Result<HashMap<String, BTreeMap<String, String>>> {
        let sets = try_join_all(ids.chunks(10).map(|chunk| {
            let kind = kind.clone();
            async move {
                let _p = self.permit().await?;
                let out = self
                    .client
                    .list_tags_for_resources()
                    .resource_type(kind)
                    .set_resource_ids(Some(chunk.to_vec()))
                    .send()
                    .await
                    .op("ListTagsForResources", REGION, subject)?;
                Ok::<_, anyhow::Error>(out.resource_tag_sets().to_vec())
            }
        }))
        .await?;
        Ok(sets
            .into_iter()
            .flatten()
            .filter_map(|set| {
                let tags = set
                    .tags()
                    .iter()
                    .filter_map(|t| {
                        Some((
                            t.key()?.to_string(),
                            t.value().unwrap_or_default().to_string(),
                        ))
                    })
                    .collect();
                Some((set.resource_id()?.to_string(), tags))
            })
            .collect())
    }

    pub(super) async fn all_health_checks(
        &self,
        subject: &(dyn std::fmt::Display + Sync),
    ) -> anyhow::Result<Vec<HealthCheck>> {
        let _p = self.permit().await?;
        let items = self
            .client
            .list_health_checks()
            .into_paginator()
            .items()
            .send();
        items
            .try_collect()
            .await
            .op("ListHealthChecks", REGION, subject)
    }

    /// The scope's health checks (one listing, then their tags by batches of ten), and the
    /// owner (`<service>/<environment>`) of every health check that names one.
    pub(super) async fn list_health_checks(
        &self,
        scope: &Scope,
        subject: &str,
    ) -> anyhow::Result<(Vec<Observed>, HashMap<String, String>)> {
        let checks = self.all_health_checks(&subject).await?;
        let ids: Vec<String> = checks.iter().map(|c| c.id().to_string()).collect();
        let tagged = self
            .tags_of(TagResourceType::Healthcheck, &ids, &subject)
            .await?;
        let mut out = Vec::new();
        let mut owners = HashMap::new();
        for check in &checks {
            let Some(tags) = tagged.get(check.id()) else {
                continue;
            };
            let Some(owner) = tags::owner(tags) else {
                continue;
            };
            owners.insert(check.id().to_string(), owner.clone());
            if owner != tags::ours(scope) {
                continue;
            }
            let Some(address) = tags.get(TAG_ADDRESS) else {
                continue;
            };
            let watches = tags.get(TAG_WATCHES).map(String::as_str);
            out.push(health_check_observed(
                check,
                Address::new(address.as_str()),
                watches,
                tags,
            )?);
        }
        Ok((out, owners))
    }
}

pub(super) fn health_check_config(d: &Desired) -> anyhow::Result<HealthCheckConfig> {
    let a = &d.address;
    let protocol = str_attr(d, "protocol")?;
    let kind = match protocol {
        "HTTP" => HealthCheckType::Http,
        "HTTPS" => HealthCheckType::Https,
        "TCP" => HealthCheckType::Tcp,
        other => bail!("{a}: health check protocol must be HTTP, HTTPS or TCP, not {other}"),
    };
    let ip = str_attr(d, "ip_address")?;
    if ip == UNKNOWN || ip.parse::<std::net::IpAddr>().is_err() {
        bail!("{a}: the health check's `ip_address` is not an IP address yet ({ip})");
    }
    let port = d
        .attrs
        .get("port")
        .and_then(Value::as_i64)
        .filter(|p| (1..=65535).contains(p))
        .with_context(|| format!("{a}: attribute `port` must be a number from 1 to 65535"))?;
    let path = match kind {
        HealthCheckType::Tcp => None,
        _ => d
            .attrs
            .get("path")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .map(str::to_owned),
    };
    Ok(HealthCheckConfig::builder()
        .r#type(kind)
        .ip_address(ip)
        .port(port as i32)
        .set_resource_path(path)
        .request_interval(REQUEST_INTERVAL)
        .failure_threshold(FAILURE_THRESHOLD)
        .build()?)
}
