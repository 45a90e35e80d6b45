//! Reading Route 53 in batch: known zones, tagged health checks and the known records of
//! those zones, normalised to `Observed`.

use super::*;

impl Route53 {
    /// Zones the caller knows by name (one listing, then their tags by batches of ten, beside
    /// one listing of each zone's records when the caller knows records), health checks
    /// tagged for the scope (one listing, then tags by batches of ten). A zone is shared: adopted whoever made
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
                    zones.iter().filter(|z| adoptable(z, name)).collect();
                // Several zones of one name: prefer one standby created.
                let zone = candidates
                    .iter()
                    .find(|z| created_by_standby(z))
                    .or_else(|| candidates.first())?;
                Some((*zone, *address))
            })
            .collect();
        let ids: Vec<String> = picked.iter().map(|(z, _)| zone_id(z)).collect();
        let known_records: HashMap<String, &Address> = scope
            .known
            .iter()
            .filter(|k| k.kind == Kind::Record)
            .map(|k| (known_record_key(&k.name), &k.address))
            .collect();
        // The zones' tags and their records need only the zones' ids: read together.
        let records =
            try_join_all(
                ids.iter().filter(|_| !known_records.is_empty()).map(|id| {
                    let subject = &subject;
                    async move {
                        Ok::<_, anyhow::Error>((id, self.list_records(id, None, subject).await?))
                    }
                }),
            );
        let (zone_tags, records) = tokio::try_join!(
            self.tags_of(TagResourceType::Hostedzone, &ids, &subject),
            records
        )?;

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

        let listed = records
            .into_iter()
            .filter_map(|(id, sets)| zone_ids.get_key_value(id).map(|(i, a)| (i, a, sets)));
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
}

pub(super) fn zone_id(z: &HostedZone) -> String {
    z.id().trim_start_matches("/hostedzone/").to_string()
}

/// A zone as `Observed`. `owned`: its tags are this environment's (`ours`) to manage: tagged
/// for it, or created by standby before zones were tagged. `created`: standby made it (a
/// zone somebody else made is never deleted).
pub(super) fn zone_observed(
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
pub(super) fn describe_set(s: &ResourceRecordSet, owner: Option<&String>) -> String {
    let mut out = format!("{} {}", s.name().trim_end_matches('.'), s.r#type().as_str());
    if let Some(set) = s.set_identifier() {
        out.push_str(&format!(" {set}"));
    }
    if let Some(owner) = owner {
        out.push_str(&format!(" ({owner})"));
    }
    out
}

pub(super) fn health_check_observed(
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
pub(super) fn record_observed(
    s: &ResourceRecordSet,
    zone_id: &str,
    address: Address,
    owner: Option<&String>,
) -> Observed {
    let name = s.name().trim_end_matches('.');
    let set_id = s.set_identifier().unwrap_or_default();
    let alias = s.alias_target();
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
            ("set_identifier", json!(s.set_identifier())),
            (
                "alias_dns_name",
                json!(alias.map(|t| t.dns_name().trim_end_matches('.').to_ascii_lowercase())),
            ),
            ("alias_zone_id", json!(alias.map(|t| t.hosted_zone_id()))),
            (
                "evaluate_target_health",
                json!(alias.map(|t| t.evaluate_target_health())),
            ),
            (OWNER, json!(owner)),
        ]),
        computed,
        depends_on: Vec::new(),
    }
}

/// The key of a record the caller knows: by its deterministic name `<name>#<set>`, or (from
/// the state) by its id `<zone id>/<name>/<set>`; a plain record's set is empty (`<name>#`,
/// `<zone id>/<name>/`), and a name without `#` (a plain record's) gets an empty one.
pub(super) fn known_record_key(name_or_id: &str) -> String {
    let key = match name_or_id.rsplitn(3, '/').collect::<Vec<_>>()[..] {
        [set, name, _zone] => format!("{}#{set}", name.trim_end_matches('.')),
        _ if !name_or_id.contains('#') => format!("{}#", name_or_id.trim_end_matches('.')),
        _ => name_or_id.to_string(),
    };
    key.to_ascii_lowercase()
}

/// `<name>#<set identifier>` (lower-case, no final dot) of a failover A record, `<name>#` of
/// a plain A record; `None` for any other record (weighted, latency ..., other types).
pub(super) fn record_key(s: &ResourceRecordSet) -> Option<String> {
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
