//! Hosted zones: shared, adopted by name, deleted only when standby made them and they
//! hold nothing of others.

use super::*;

impl Route53 {
    // --- hosted zones --------------------------------------------------------------------

    /// Adopts a zone of that name, else creates one.
    pub(super) async fn create_zone(&self, d: &Desired) -> anyhow::Result<Observed> {
        let a = &d.address;
        let zone = zone_attr(d)?;
        let ours = tags::owner(&d.tags).unwrap_or_default();
        if let Some(z) = self.find_zone(zone, a).await? {
            if !created_by_standby(&z) {
                tracing::info!(address = %a, zone, "adopting an existing hosted zone; standby will not delete it");
            }
            let id = zone_id(&z);
            let live = self
                .tags_of(TagResourceType::Hostedzone, std::slice::from_ref(&id), a)
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

    pub(super) async fn find_zone(
        &self,
        zone: &str,
        a: &Address,
    ) -> anyhow::Result<Option<HostedZone>> {
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
            .filter(|z| adoptable(z, zone))
            .collect();
        Ok(matching
            .iter()
            .find(|z| created_by_standby(z))
            .or_else(|| matching.first())
            .map(|z| (*z).clone()))
    }

    /// Deletes a zone standby created, once only its SOA and NS records remain; a zone
    /// standby adopted is left alone.
    pub(super) async fn delete_zone(&self, current: &Observed) -> anyhow::Result<()> {
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
        let adopted = crate::topology::reads::zone_adopted(&current.computed);
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
}

impl Route53 {
    pub(super) async fn list_zones(&self, subject: &str) -> anyhow::Result<Vec<HostedZone>> {
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

pub(super) fn zone_attr(d: &Desired) -> anyhow::Result<&str> {
    Ok(str_attr(d, "zone")?.trim_end_matches('.'))
}
