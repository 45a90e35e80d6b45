//! `Route53`: hosted zones, health checks, failover A records and drills' plain A records
//! (global), and `TestDNSAnswer` for drills' readiness checks.
//!
//! Invariant: every Route 53 call, whatever its purpose, first takes a permit of the one
//! limiter the provider shares (Route 53's quota is account-wide and small). Creations carry
//! a `CallerReference` derived from the address and the desired attributes, and a create
//! first looks for what an earlier attempt made, so a retry never makes a second one. Zones
//! are found by name (a zone standby did not create is adopted and never deleted), health
//! checks by their `standby:*` tags, records by `<name>#<set identifier>` (`<name>#` for a
//! plain record, which has no set identifier).

use super::dns_owner;
use super::ec2::{map, str_attr};
use super::error::{self, AwsResultExt, AwsSdkError};
use super::tags;
use crate::address::Address;
use crate::provider::{resolve_refs, ApplyContext, Observed, Scope};
use crate::topology::{Desired, Kind, OWNER, TAGS, UNKNOWN};
use crate::topology::{TAG_ADDRESS, TAG_ENVIRONMENT, TAG_NAME, TAG_SERVICE};
use anyhow::{anyhow, bail, Context as _};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, HealthCheck, HealthCheckConfig,
    HealthCheckType, HostedZone, ResourceRecord, ResourceRecordSet, ResourceRecordSetFailover,
    RrType, Tag, TagResourceType,
};
use aws_sdk_route53::Client;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures::future::try_join_all;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Route 53 is global; errors name it as the region.
const REGION: &str = "global";
/// The region a health check watches (not part of its configuration in Route 53).
const TAG_WATCHES: &str = "standby:region";
/// How long to wait for a record change to reach every Route 53 server.
const CHANGE_WAIT: Duration = Duration::from_secs(300);
/// Health-check settings standby does not expose.
const REQUEST_INTERVAL: i32 = 30;
const FAILURE_THRESHOLD: i32 = 3;
const NO_ZONE: &[&str] = &["NoSuchHostedZone"];

/// The Route 53 API (global, signed for us-east-1).
pub(crate) struct Route53 {
    pub(crate) client: Client,
    /// The one limiter of every Route 53 call the provider makes.
    pub(crate) limit: Arc<Semaphore>,
}

impl Route53 {
    pub(crate) async fn create(
        &self,
        d: &Desired,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let mut o = match d.kind {
            Kind::HostedZone => self.create_zone(d).await?,
            Kind::HealthCheck => self.create_health_check(d).await?,
            Kind::Record => self.upsert_record(d, ctx).await?,
            other => bail!("kind {other:?} is not a Route 53 resource"),
        };
        o.depends_on = d.dependencies().cloned().collect();
        Ok(o)
    }

    pub(crate) async fn update(
        &self,
        d: &Desired,
        current: &Observed,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let mut o = match d.kind {
            // The zone's name is replaced, not updated; its tags change in place when the
            // zone is this environment's (a shared or adopted zone's are left alone).
            Kind::HostedZone => {
                let mut o = current.clone();
                o.attrs = map([("zone", json!(zone_attr(d)?))]);
                if current.computed.get("owned") != Some(&Value::Bool(false)) {
                    let removed = tags::removed(d, current);
                    self.change_tags(TagResourceType::Hostedzone, &current.id, d, None, &removed)
                        .await?;
                }
                o
            }
            Kind::HealthCheck => self.update_health_check(d, current).await?,
            Kind::Record => self.upsert_record(d, ctx).await?,
            other => bail!("kind {other:?} is not a Route 53 resource"),
        };
        o.depends_on = d.dependencies().cloned().collect();
        Ok(o)
    }

    pub(crate) async fn delete(&self, current: &Observed) -> anyhow::Result<()> {
        match current.kind {
            Kind::HostedZone => self.delete_zone(current).await,
            Kind::HealthCheck => {
                let _p = self.permit().await?;
                self.client
                    .delete_health_check()
                    .health_check_id(&current.id)
                    .send()
                    .await
                    .absent_if(
                        &["NoSuchHealthCheck"],
                        "DeleteHealthCheck",
                        REGION,
                        &current.address,
                    )?;
                Ok(())
            }
            Kind::Record => self.delete_record(current).await,
            other => bail!("kind {other:?} is not a Route 53 resource"),
        }
    }

    /// Zones the caller knows by name (one listing, then their tags by batches of ten), health
    /// checks tagged for the scope (one listing, then tags by batches of ten) and the known
    /// records of those zones (one listing per zone). A zone is shared: adopted whoever made
    /// it. A record name is not: one whose owner record (or, before owner records, whose
    /// health check) names another environment refuses the refresh.
    pub(crate) async fn refresh(&self, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        let subject = format!("the refresh of {}/{}", scope.service, scope.environment);
        let ours = tags::ours(scope);
        let known_zones: Vec<(&str, &Address)> = scope
            .known
            .iter()
            .filter(|k| k.kind == Kind::HostedZone)
            .map(|k| (k.name.as_str(), &k.address))
            .collect();
        let zones = async {
            if known_zones.is_empty() {
                return Ok(Vec::new());
            }
            self.list_zones(&subject).await
        };
        let (zones, (checks, check_owners)) =
            tokio::try_join!(zones, self.list_health_checks(scope, &subject))?;
        let picked: Vec<(&HostedZone, &Address)> = known_zones
            .iter()
            .filter_map(|(name, address)| {
                let candidates: Vec<&HostedZone> =
                    zones.iter().filter(|z| same_name(z.name(), name)).collect();
                // Several zones of one name: prefer one standby created.
                let zone = candidates
                    .iter()
                    .find(|z| created_by_standby(z))
                    .or_else(|| candidates.first())?;
                Some((*zone, *address))
            })
            .collect();
        let ids: Vec<String> = picked.iter().map(|(z, _)| zone_id(z)).collect();
        let zone_tags = self
            .tags_of(TagResourceType::Hostedzone, &ids, &subject)
            .await?;

        let mut out = Vec::new();
        // Zone id -> address of the zone, for the records' dependencies.
        let mut zone_ids: BTreeMap<String, Address> = BTreeMap::new();
        for (z, address) in picked {
            let live = zone_tags.get(&zone_id(z)).cloned().unwrap_or_default();
            let o = zone_observed(z, address.clone(), &live, &ours);
            zone_ids.insert(o.id.clone(), address.clone());
            out.push(o);
        }
        let check_address: HashMap<String, Address> = checks
            .iter()
            .map(|o| (o.id.clone(), o.address.clone()))
            .collect();
        out.extend(checks);

        let known_records: HashMap<String, &Address> = scope
            .known
            .iter()
            .filter(|k| k.kind == Kind::Record)
            .map(|k| (known_record_key(&k.name), &k.address))
            .collect();
        if known_records.is_empty() {
            return Ok(out);
        }
        let listed = try_join_all(zone_ids.iter().map(|(zone_id, zone_address)| {
            let subject = &subject;
            async move {
                let sets = self.list_records(zone_id, None, subject).await?;
                Ok::<_, anyhow::Error>((zone_id, zone_address, sets))
            }
        }))
        .await?;
        let mut conflicts = BTreeSet::new();
        for (zone_id, zone_address, sets) in listed {
            let zone_name = out
                .iter()
                .find(|o| o.id == *zone_id)
                .and_then(|o| o.attrs.get("zone").and_then(Value::as_str))
                .unwrap_or_default()
                .to_string();
            let owners = dns_owner::owners(&sets);
            let mut others = Vec::new();
            for set in &sets {
                let name = set.name().trim_end_matches('.').to_ascii_lowercase();
                if matches!(set.r#type(), RrType::Soa | RrType::Ns) && same_name(&name, &zone_name)
                {
                    continue;
                }
                if let Some((_, owner)) = dns_owner::owner_of(set) {
                    if owner != ours {
                        others.push(describe_set(set, Some(&owner)));
                    }
                    continue;
                }
                // Before owner records, a failover record's health check told whose it was.
                let owner = owners.get(&name).cloned().or_else(|| {
                    set.health_check_id()
                        .and_then(|h| check_owners.get(h))
                        .cloned()
                });
                let known = record_key(set).and_then(|k| known_records.get(&k).copied());
                if let Some(owner) = owner.as_ref().filter(|o| **o != ours) {
                    let wanted = known_records
                        .iter()
                        .filter(|(k, _)| k.split('#').next() == Some(name.as_str()))
                        .map(|(_, a)| *a)
                        .min();
                    if let Some(a) = wanted {
                        let what = format!("the record name {name} in hosted zone {zone_name}");
                        let fix = "record names are not shared: give this environment's dns block another name";
                        conflicts.insert(tags::conflict(a, &what, owner, &ours, fix));
                    }
                    others.push(describe_set(set, Some(owner)));
                    continue;
                }
                let Some(address) = known else {
                    others.push(describe_set(set, None));
                    continue;
                };
                let mut o = record_observed(set, zone_id, address.clone(), owners.get(&name));
                o.depends_on = std::iter::once(zone_address.clone())
                    .chain(
                        set.health_check_id()
                            .and_then(|h| check_address.get(h).cloned()),
                    )
                    .collect();
                out.push(o);
            }
            if let Some(zone) = out.iter_mut().find(|o| o.id == *zone_id) {
                zone.computed.insert("other_records".into(), json!(others));
            }
        }
        tags::refuse(conflicts.into_iter().collect())?;
        Ok(out)
    }

    /// The values Route 53 answers for an A query of `name` in the zone `zone_id`
    /// (`TestDNSAnswer`), sorted: what a drill's readiness check compares with its instances.
    pub(crate) async fn test_dns_answer(
        &self,
        zone_id: &str,
        name: &str,
    ) -> anyhow::Result<Vec<String>> {
        let zone_id = zone_id.trim_start_matches("/hostedzone/");
        let subject = format!("the DNS answer for {name}");
        let answer = {
            let _p = self.permit().await?;
            self.client
                .test_dns_answer()
                .hosted_zone_id(zone_id)
                .record_name(name)
                .record_type(RrType::A)
                .send()
                .await
        };
        let e = match answer {
            Ok(out) => {
                let mut values = out.record_data().to_vec();
                values.sort_unstable();
                return Ok(values);
            }
            Err(e) if not_implemented(&e) => e,
            Err(e) => return Err(error::failure("TestDNSAnswer", REGION, &subject, &e)),
        };
        // The emulator path: moto (5.2.5) does not implement TestDNSAnswer (it answers 404).
        // Read the record set instead: a plain record's values, else the PRIMARY's (what
        // Route 53 answers while the primary is healthy). Real Route 53 never gets here.
        tracing::debug!(
            zone_id,
            name,
            error = %error::describe(&e),
            "TestDNSAnswer unavailable; reading the record set"
        );
        let sets = self.list_records(zone_id, Some(name), &subject).await?;
        let matching: Vec<&ResourceRecordSet> = sets
            .iter()
            .filter(|s| same_name(s.name(), name) && s.r#type() == &RrType::A)
            .collect();
        let set = matching
            .iter()
            .find(|s| s.failover().is_none() && s.set_identifier().is_none())
            .or_else(|| {
                matching
                    .iter()
                    .find(|s| s.failover() == Some(&ResourceRecordSetFailover::Primary))
            })
            .or_else(|| matching.first());
        let mut values: Vec<String> = set
            .map(|s| {
                s.resource_records()
                    .iter()
                    .map(|r| r.value().to_string())
                    .collect()
            })
            .unwrap_or_default();
        values.sort_unstable();
        Ok(values)
    }

    async fn permit(&self) -> anyhow::Result<SemaphorePermit<'_>> {
        Ok(self.limit.acquire().await?)
    }

    // --- hosted zones --------------------------------------------------------------------

    /// Adopts a zone of that name, else creates one.
    async fn create_zone(&self, d: &Desired) -> anyhow::Result<Observed> {
        let a = &d.address;
        let zone = zone_attr(d)?;
        let ours = tags::owner(&d.tags).unwrap_or_default();
        if let Some(z) = self.find_zone(zone, a).await? {
            if !created_by_standby(&z) {
                tracing::info!(address = %a, zone, "adopting an existing hosted zone; standby will not delete it");
            }
            let id = zone_id(&z);
            let live = self
                .tags_of(TagResourceType::Hostedzone, &[id.clone()], a)
                .await?;
            let live = live.get(&id).cloned().unwrap_or_default();
            return Ok(zone_observed(&z, a.clone(), &live, &ours));
        }
        let reference = caller_reference(d, None);
        let created = {
            let _p = self.permit().await?;
            self.client
                .create_hosted_zone()
                .name(zone)
                .caller_reference(&reference)
                .send()
                .await
        };
        let z = match created {
            Ok(out) => out.hosted_zone().cloned().ok_or_else(|| {
                anyhow!("CreateHostedZone in {REGION} failed for {a}: no zone in the answer")
            })?,
            // The reference was used before: by a zone deleted since (Route 53 never reuses
            // one), or by one that appeared meanwhile.
            Err(e) if error::code(&e) == Some("HostedZoneAlreadyExists") => {
                if let Some(z) = self.find_zone(zone, a).await? {
                    return Ok(zone_observed(&z, a.clone(), &BTreeMap::new(), &ours));
                }
                let _p = self.permit().await?;
                self.client
                    .create_hosted_zone()
                    .name(zone)
                    .caller_reference(caller_reference(d, Some(&now_nanos())))
                    .send()
                    .await
                    .op("CreateHostedZone", REGION, a)?
                    .hosted_zone()
                    .cloned()
                    .ok_or_else(|| {
                        anyhow!(
                            "CreateHostedZone in {REGION} failed for {a}: no zone in the answer"
                        )
                    })?
            }
            Err(e) => return Err(error::failure("CreateHostedZone", REGION, a, &e)),
        };
        // CreateHostedZone takes no tags: they follow (Route 53 ChangeTagsForResource).
        self.change_tags(TagResourceType::Hostedzone, &zone_id(&z), d, None, &[])
            .await?;
        Ok(zone_observed(&z, a.clone(), &d.tags, &ours))
    }

    async fn find_zone(&self, zone: &str, a: &Address) -> anyhow::Result<Option<HostedZone>> {
        let _p = self.permit().await?;
        let out = self
            .client
            .list_hosted_zones_by_name()
            .dns_name(zone)
            .send()
            .await
            .op("ListHostedZonesByName", REGION, a)?;
        let matching: Vec<&HostedZone> = out
            .hosted_zones()
            .iter()
            .filter(|z| same_name(z.name(), zone))
            .collect();
        Ok(matching
            .iter()
            .find(|z| created_by_standby(z))
            .or_else(|| matching.first())
            .map(|z| (*z).clone()))
    }

    /// Deletes a zone standby created, once only its SOA and NS records remain; a zone
    /// standby adopted is left alone.
    async fn delete_zone(&self, current: &Observed) -> anyhow::Result<()> {
        let a = &current.address;
        let zone = {
            let _p = self.permit().await?;
            self.client
                .get_hosted_zone()
                .id(&current.id)
                .send()
                .await
                .absent_if(NO_ZONE, "GetHostedZone", REGION, a)?
        };
        let Some(zone) = zone.and_then(|z| z.hosted_zone().cloned()) else {
            return Ok(());
        };
        let adopted = current.computed.get("created") == Some(&Value::Bool(false));
        if adopted || !created_by_standby(&zone) {
            tracing::info!(address = %a, zone = zone.name(), "leaving the adopted hosted zone in place");
            return Ok(());
        }
        let sets = self.list_records(&current.id, None, a).await?;
        let left: Vec<String> = sets
            .iter()
            .filter(|s| {
                !(matches!(s.r#type(), RrType::Soa | RrType::Ns)
                    && same_name(s.name(), zone.name()))
            })
            .map(|s| {
                let name = s.name().trim_end_matches('.');
                match s.set_identifier() {
                    Some(id) => format!("{name} {} ({id})", s.r#type().as_str()),
                    None => format!("{name} {}", s.r#type().as_str()),
                }
            })
            .collect();
        if !left.is_empty() {
            // Shared with another environment (or holding records of others): it stays, without
            // this environment's tags.
            if current.computed.get("owned") == Some(&Value::Bool(true)) {
                let mut keys: Vec<String> = [TAG_NAME, TAG_SERVICE, TAG_ENVIRONMENT, TAG_ADDRESS]
                    .map(String::from)
                    .into();
                keys.extend(
                    current
                        .attrs
                        .get(TAGS)
                        .and_then(Value::as_object)
                        .map(|t| t.keys().cloned().collect::<Vec<_>>())
                        .unwrap_or_default(),
                );
                self.remove_tags(TagResourceType::Hostedzone, &current.id, &keys, a)
                    .await?;
            }
            tracing::info!(
                address = %a,
                zone = zone.name(),
                records = %left.join(", "),
                "leaving the hosted zone in place: it holds records that are not this environment's"
            );
            return Ok(());
        }
        let _p = self.permit().await?;
        self.client
            .delete_hosted_zone()
            .id(&current.id)
            .send()
            .await
            .absent_if(NO_ZONE, "DeleteHostedZone", REGION, a)?;
        Ok(())
    }

    // --- health checks -------------------------------------------------------------------

    async fn create_health_check(&self, d: &Desired) -> anyhow::Result<Observed> {
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
    async fn find_health_check(
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

    async fn update_health_check(
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
    async fn tag_health_check(
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
    async fn remove_tags(
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
    async fn change_tags(
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
    async fn tags_of(
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

    async fn all_health_checks(
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
    async fn list_health_checks(
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

    // --- records -------------------------------------------------------------------------

    async fn upsert_record(&self, d: &Desired, ctx: &dyn ApplyContext) -> anyhow::Result<Observed> {
        let a = &d.address;
        let refs = resolve_refs(d, ctx)?;
        let zone = refs
            .get("zone")
            .ok_or_else(|| anyhow!("{a}: reference `zone` is missing from the spec"))?;
        let zone_id = zone
            .computed
            .get("zone_id")
            .and_then(Value::as_str)
            .unwrap_or(&zone.id)
            .trim_start_matches("/hostedzone/")
            .to_string();
        // A plain record (a drill's) has no health check, whatever the refs say.
        let plain = d.attrs.get("failover").is_none_or(Value::is_null);
        let health_check = refs
            .get("health_check")
            .filter(|_| !plain)
            .map(|o| o.id.clone());
        let set = record_set(d, health_check.clone())?;
        let owner = d.attrs.get(OWNER).and_then(Value::as_str);
        let mut changes = vec![(ChangeAction::Upsert, set.clone())];
        if let Some(owner) = owner {
            let ttl = set.ttl().unwrap_or(60);
            let txt = dns_owner::txt_set(set.name(), set.set_identifier(), owner, ttl)?;
            changes.push((ChangeAction::Upsert, txt));
        }
        self.change_records(&zone_id, changes, a).await?;
        let mut o = record_observed(
            &set,
            &zone_id,
            a.clone(),
            owner.map(str::to_string).as_ref(),
        );
        if let Some(h) = health_check {
            o.computed.insert("health_check_id".into(), json!(h));
        }
        Ok(o)
    }

    /// Deletes the record with exactly its current values, read back first.
    async fn delete_record(&self, current: &Observed) -> anyhow::Result<()> {
        let a = &current.address;
        let mut parts = current.id.splitn(3, '/');
        let (Some(zone_id), Some(name), Some(set_id)) = (parts.next(), parts.next(), parts.next())
        else {
            bail!(
                "{a}: record id `{}` is not <zone id>/<name>/<set identifier>",
                current.id
            );
        };
        let Some(sets) = self.list_records_or_none(zone_id, None, a).await? else {
            return Ok(());
        };
        // An empty set identifier is a plain record's: it has none.
        let want_set = Some(set_id).filter(|s| !s.is_empty());
        let of_name =
            |s: &&ResourceRecordSet| same_name(s.name(), name) && s.r#type() == &RrType::A;
        let Some(set) = sets
            .iter()
            .filter(of_name)
            .find(|s| s.set_identifier() == want_set)
        else {
            return Ok(());
        };
        let mut changes = vec![(ChangeAction::Delete, set.clone())];
        // Its owner record goes with it, when it is there and ours.
        let ours = current.attrs.get(OWNER).and_then(Value::as_str);
        let txt_name = dns_owner::record_name(name, want_set);
        let owner_record = sets.iter().find(|s| {
            same_name(s.name(), &txt_name)
                && dns_owner::owner_of(s).is_some_and(|(_, o)| Some(o.as_str()) == ours)
        });
        if let Some(txt) = owner_record {
            changes.push((ChangeAction::Delete, txt.clone()));
        }
        let deleted = {
            let _p = self.permit().await?;
            self.client
                .change_resource_record_sets()
                .hosted_zone_id(zone_id)
                .change_batch(batch(changes)?)
                .send()
                .await
        };
        match deleted {
            Ok(_) => {
                self.restore_collateral(zone_id, &sets, name, want_set, a)
                    .await
            }
            Err(e) if error::code(&e) == Some("NoSuchHostedZone") => Ok(()),
            Err(e)
                if error::code(&e) == Some("InvalidChangeBatch")
                    && error::describe(&e).contains("not found") =>
            {
                Ok(())
            }
            Err(e) => Err(error::failure("ChangeResourceRecordSets", REGION, a, &e)),
        }
    }

    /// Emulator workaround, a no-op against Route 53: moto 5.2.5 deletes every record of the
    /// zone with the deleted record's set identifier, whatever its name (so deleting one
    /// environment's `us-east-1` record took another's in a shared zone). Puts back, as they
    /// were, the records of other names with that set identifier that are gone.
    async fn restore_collateral(
        &self,
        zone_id: &str,
        before: &[ResourceRecordSet],
        name: &str,
        set: Option<&str>,
        a: &Address,
    ) -> anyhow::Result<()> {
        let others: Vec<&ResourceRecordSet> = before
            .iter()
            .filter(|s| set.is_some() && s.set_identifier() == set && !same_name(s.name(), name))
            .collect();
        if others.is_empty() {
            return Ok(());
        }
        let after = self.list_records(zone_id, None, a).await?;
        let gone: Vec<(ChangeAction, ResourceRecordSet)> = others
            .into_iter()
            .filter(|s| {
                !after.iter().any(|x| {
                    same_name(x.name(), s.name())
                        && x.r#type() == s.r#type()
                        && x.set_identifier() == s.set_identifier()
                })
            })
            .map(|s| (ChangeAction::Upsert, s.clone()))
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        tracing::debug!(
            zone_id,
            count = gone.len(),
            "putting back records the emulator deleted with another"
        );
        self.change_records(zone_id, gone, a).await
    }

    async fn change_records(
        &self,
        zone_id: &str,
        changes: Vec<(ChangeAction, ResourceRecordSet)>,
        a: &Address,
    ) -> anyhow::Result<()> {
        let out = {
            let _p = self.permit().await?;
            self.client
                .change_resource_record_sets()
                .hosted_zone_id(zone_id)
                .change_batch(batch(changes)?)
                .send()
                .await
                .op("ChangeResourceRecordSets", REGION, a)?
        };
        let Some(info) = out.change_info() else {
            return Ok(());
        };
        let mut status = info.status().clone();
        let started = tokio::time::Instant::now();
        while status == ChangeStatus::Pending {
            if started.elapsed() > CHANGE_WAIT {
                bail!(
                    "{a}: record change {} still pending after {:?} in Route 53",
                    info.id(),
                    CHANGE_WAIT
                );
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
            let _p = self.permit().await?;
            status = self
                .client
                .get_change()
                .id(info.id())
                .send()
                .await
                .op("GetChange", REGION, a)?
                .change_info()
                .map(|c| c.status().clone())
                .unwrap_or(ChangeStatus::Insync);
        }
        Ok(())
    }

    async fn list_records_or_none(
        &self,
        zone_id: &str,
        start: Option<&str>,
        subject: &(dyn std::fmt::Display + Sync),
    ) -> anyhow::Result<Option<Vec<ResourceRecordSet>>> {
        match self.list_records(zone_id, start, subject).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if format!("{e}").contains("NoSuchHostedZone") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every record set of a zone (from `start` on, when given): one paginated listing.
    async fn list_records(
        &self,
        zone_id: &str,
        start: Option<&str>,
        subject: &(dyn std::fmt::Display + Sync),
    ) -> anyhow::Result<Vec<ResourceRecordSet>> {
        let _p = self.permit().await?;
        let mut all = Vec::new();
        let mut next: Option<(String, Option<RrType>, Option<String>)> =
            start.map(|s| (s.to_string(), Some(RrType::A), None));
        loop {
            let mut req = self
                .client
                .list_resource_record_sets()
                .hosted_zone_id(zone_id);
            if let Some((name, rtype, id)) = &next {
                req = req
                    .start_record_name(name)
                    .set_start_record_type(rtype.clone())
                    .set_start_record_identifier(id.clone());
            }
            let page = req
                .send()
                .await
                .op("ListResourceRecordSets", REGION, subject)?;
            all.extend(page.resource_record_sets().iter().cloned());
            if !page.is_truncated() {
                break;
            }
            let following = page.next_record_name().map(|n| {
                (
                    n.to_string(),
                    page.next_record_type().cloned(),
                    page.next_record_identifier().map(str::to_owned),
                )
            });
            // A page that does not move on would loop forever: stop there.
            if following.is_none() || following == next {
                break;
            }
            next = following;
        }
        Ok(all)
    }

    async fn list_zones(&self, subject: &str) -> anyhow::Result<Vec<HostedZone>> {
        let _p = self.permit().await?;
        let items = self
            .client
            .list_hosted_zones()
            .into_paginator()
            .items()
            .send();
        items
            .try_collect()
            .await
            .op("ListHostedZones", REGION, &subject)
    }
}

// --- normalisation -----------------------------------------------------------------------

fn zone_id(z: &HostedZone) -> String {
    z.id().trim_start_matches("/hostedzone/").to_string()
}

/// A zone as `Observed`. `owned`: its tags are this environment's (`ours`) to manage: tagged
/// for it, or created by standby before zones were tagged. `created`: standby made it (a
/// zone somebody else made is never deleted).
fn zone_observed(
    z: &HostedZone,
    address: Address,
    live: &BTreeMap<String, String>,
    ours: &str,
) -> Observed {
    let id = zone_id(z);
    let owned = match tags::owner(live) {
        Some(owner) => owner == ours,
        None => created_by_standby(z),
    };
    let mut o = Observed {
        address,
        kind: Kind::HostedZone,
        region: None,
        attrs: map([("zone", json!(z.name().trim_end_matches('.')))]),
        computed: map([
            ("zone_id", json!(id)),
            ("created", json!(created_by_standby(z))),
            ("owned", json!(owned)),
        ]),
        id,
        depends_on: Vec::new(),
    };
    tags::observe(&mut o, live.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    o
}

/// `api.example.com A us-east-1 (checkout/blue)`: a record of a zone that is not this
/// environment's, for the plan to say why the zone stays.
fn describe_set(s: &ResourceRecordSet, owner: Option<&String>) -> String {
    let mut out = format!("{} {}", s.name().trim_end_matches('.'), s.r#type().as_str());
    if let Some(set) = s.set_identifier() {
        out.push_str(&format!(" {set}"));
    }
    if let Some(owner) = owner {
        out.push_str(&format!(" ({owner})"));
    }
    out
}

fn health_check_observed(
    c: &HealthCheck,
    address: Address,
    region: Option<&str>,
    live: &BTreeMap<String, String>,
) -> anyhow::Result<Observed> {
    let config = c
        .health_check_config()
        .ok_or_else(|| anyhow!("{address}: health check {} has no configuration", c.id()))?;
    let mut o = Observed {
        address,
        kind: Kind::HealthCheck,
        region: None,
        id: c.id().to_string(),
        attrs: map([
            ("region", json!(region)),
            ("protocol", json!(config.r#type().as_str())),
            ("port", json!(config.port())),
            ("path", json!(config.resource_path())),
            ("ip_address", json!(config.ip_address())),
        ]),
        computed: map([("id", json!(c.id()))]),
        depends_on: Vec::new(),
    };
    tags::observe(&mut o, live.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    Ok(o)
}

/// A record as `Observed`; `owner` from its owner record (`None`: there is none yet).
fn record_observed(
    s: &ResourceRecordSet,
    zone_id: &str,
    address: Address,
    owner: Option<&String>,
) -> Observed {
    let name = s.name().trim_end_matches('.');
    let set_id = s.set_identifier().unwrap_or_default();
    let mut values: Vec<&str> = s.resource_records().iter().map(|r| r.value()).collect();
    values.sort_unstable();
    let mut computed = map([("zone_id", json!(zone_id))]);
    if let Some(h) = s.health_check_id() {
        computed.insert("health_check_id".into(), json!(h));
    }
    Observed {
        address,
        kind: Kind::Record,
        region: None,
        id: format!("{zone_id}/{name}/{set_id}"),
        attrs: map([
            ("name", json!(name)),
            ("failover", json!(s.failover().map(|f| f.as_str()))),
            ("ttl", json!(s.ttl())),
            ("set_identifier", json!(s.set_identifier())),
            ("values", json!(values)),
            (OWNER, json!(owner)),
        ]),
        computed,
        depends_on: Vec::new(),
    }
}

/// The key of a record the caller knows: by its deterministic name `<name>#<set>`, or (from
/// the state) by its id `<zone id>/<name>/<set>`; a plain record's set is empty (`<name>#`,
/// `<zone id>/<name>/`), and a name without `#` (a plain record's) gets an empty one.
fn known_record_key(name_or_id: &str) -> String {
    let key = match name_or_id.rsplitn(3, '/').collect::<Vec<_>>()[..] {
        [set, name, _zone] => format!("{}#{set}", name.trim_end_matches('.')),
        _ if !name_or_id.contains('#') => format!("{}#", name_or_id.trim_end_matches('.')),
        _ => name_or_id.to_string(),
    };
    key.to_ascii_lowercase()
}

/// `<name>#<set identifier>` (lower-case, no final dot) of a failover A record, `<name>#` of
/// a plain A record; `None` for any other record (weighted, latency ..., other types).
fn record_key(s: &ResourceRecordSet) -> Option<String> {
    if s.r#type() != &RrType::A {
        return None;
    }
    let name = s.name().trim_end_matches('.');
    let key = match (s.failover(), s.set_identifier()) {
        (Some(_), Some(set)) => format!("{name}#{set}"),
        (None, None) => format!("{name}#"),
        _ => return None,
    };
    Some(key.to_ascii_lowercase())
}

fn record_set(d: &Desired, health_check: Option<String>) -> anyhow::Result<ResourceRecordSet> {
    let a = &d.address;
    let values: Vec<&str> = match d.attrs.get("values") {
        Some(Value::Array(vs)) => vs
            .iter()
            .map(|v| v.as_str())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| anyhow!("{a}: attribute `values` must be a list of IP addresses"))?,
        _ => bail!("{a}: attribute `values` must be a list of IP addresses"),
    };
    if values.is_empty() {
        bail!(
            "{a}: a record needs at least one instance address, and its cluster has none \
             in this region; give the region's cluster at least one instance"
        );
    }
    if values.contains(&UNKNOWN) {
        bail!("{a}: the record's addresses are not known yet (an instance has no public IP)");
    }
    let mut values = values;
    values.sort_unstable();
    let ttl = d
        .attrs
        .get("ttl")
        .and_then(Value::as_i64)
        .filter(|t| *t >= 0)
        .with_context(|| format!("{a}: attribute `ttl` must be a number of seconds"))?;
    let records = values
        .iter()
        .map(|v| ResourceRecord::builder().value(*v).build())
        .collect::<Result<Vec<_>, _>>()?;
    let set = ResourceRecordSet::builder()
        .name(str_attr(d, "name")?)
        .r#type(RrType::A)
        .ttl(ttl)
        .set_resource_records(Some(records));
    // A plain record (a drill's): no set identifier, failover or health check.
    if d.attrs.get("failover").is_none_or(Value::is_null) {
        if d.attrs.get("set_identifier").is_some_and(|v| !v.is_null()) {
            bail!("{a}: a record without `failover` has no `set_identifier`; set it to null");
        }
        return Ok(set.build()?);
    }
    let failover = str_attr(d, "failover")?;
    if !matches!(failover, "PRIMARY" | "SECONDARY") {
        bail!("{a}: attribute `failover` must be PRIMARY or SECONDARY, not {failover}");
    }
    Ok(set
        .set_identifier(str_attr(d, "set_identifier")?)
        .failover(ResourceRecordSetFailover::from(failover))
        .set_health_check_id(health_check)
        .build()?)
}

/// Whether an answer says the operation does not exist here (an emulator): HTTP 404, 500 or
/// 501 without a Route 53 error code, or a `NotImplemented` code. A real error (such as
/// `NoSuchHostedZone`, also a 404) is not.
fn not_implemented<E: ProvideErrorMetadata>(e: &AwsSdkError<E>) -> bool {
    let status = e.raw_response().map(|r| r.status().as_u16());
    match error::code(e) {
        Some(code) => code == "NotImplemented",
        None => matches!(status, Some(404 | 500 | 501)),
    }
}

/// One change batch: Route 53 applies all of its changes or none.
fn batch(changes: Vec<(ChangeAction, ResourceRecordSet)>) -> anyhow::Result<ChangeBatch> {
    let changes = changes
        .into_iter()
        .map(|(action, set)| {
            Change::builder()
                .action(action)
                .resource_record_set(set)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ChangeBatch::builder().set_changes(Some(changes)).build()?)
}

fn health_check_config(d: &Desired) -> anyhow::Result<HealthCheckConfig> {
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

fn zone_attr(d: &Desired) -> anyhow::Result<&str> {
    Ok(str_attr(d, "zone")?.trim_end_matches('.'))
}

/// `standby-` and SHA-256 of the environment, the address and the desired settings (tags
/// change in place): at most 64 characters (health checks' limit; zones allow 128). `salt`
/// makes a fresh one. The environment keeps two environments' references apart.
fn caller_reference(d: &Desired, salt: Option<&str>) -> String {
    let mut settings = d.attrs.clone();
    settings.remove(TAGS);
    let attrs = serde_json::to_string(&settings).unwrap_or_default();
    let owner = tags::owner(&d.tags).unwrap_or_default();
    let mut input = format!("{owner}|{}|{attrs}", d.address);
    if let Some(s) = salt {
        input.push('|');
        input.push_str(s);
    }
    let digest = hex::encode(Sha256::digest(input.as_bytes()));
    format!("standby-{}", &digest[..56])
}

fn created_by_standby(z: &HostedZone) -> bool {
    z.caller_reference().starts_with("standby-")
}

fn now_nanos() -> String {
    time::OffsetDateTime::now_utc()
        .unix_timestamp_nanos()
        .to_string()
}

/// DNS names compare without the final dot and case-insensitively.
fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}
