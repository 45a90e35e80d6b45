//! Failover (and plain) A records, with their owner records.

use super::*;

/// The TTL of a record's owner (TXT) record: an alias record has none of its own.
const OWNER_TTL: i64 = 60;

impl Route53 {
    // --- records -------------------------------------------------------------------------

    pub(super) async fn upsert_record(
        &self,
        d: &Desired,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
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
            let ttl = set.ttl().unwrap_or(OWNER_TTL);
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
    pub(super) async fn delete_record(&self, current: &Observed) -> anyhow::Result<()> {
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
            Ok(_) if self.emulator.on() => {
                self.restore_collateral(zone_id, &sets, name, want_set, a)
                    .await
            }
            Ok(_) => Ok(()),
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

    pub(crate) async fn change_records(
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

    pub(super) async fn list_records_or_none(
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
    pub(crate) async fn list_records(
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
}

/// The alias A record `d` describes: to its load balancer, evaluating the target health
/// (https://docs.aws.amazon.com/Route53/latest/APIReference/API_AliasTarget.html); an alias
/// record has no TTL and no values of its own.
pub(super) fn record_set(
    d: &Desired,
    health_check: Option<String>,
) -> anyhow::Result<ResourceRecordSet> {
    let a = &d.address;
    let dns_name = str_attr(d, "alias_dns_name")?;
    let zone_id = str_attr(d, "alias_zone_id")?;
    if dns_name == UNKNOWN || zone_id == UNKNOWN {
        bail!("{a}: the record's load balancer is not known yet; apply its cluster first");
    }
    let evaluate = d
        .attrs
        .get("evaluate_target_health")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let target = AliasTarget::builder()
        .dns_name(dns_name)
        .hosted_zone_id(zone_id)
        .evaluate_target_health(evaluate)
        .build()?;
    let set = ResourceRecordSet::builder()
        .name(str_attr(d, "name")?)
        .r#type(RrType::A)
        .alias_target(target);
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

/// One change batch: Route 53 applies all of its changes or none.
pub(super) fn batch(
    changes: Vec<(ChangeAction, ResourceRecordSet)>,
) -> anyhow::Result<ChangeBatch> {
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
