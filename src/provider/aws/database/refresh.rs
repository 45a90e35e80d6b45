//! Reading every region's databases in batch; `replica_of` is decided once all regions are
//! read.

use super::*;

impl Rds {
    // --- paginated describes -------------------------------------------------------------

    pub(super) async fn list_instances(&self, subject: &str) -> anyhow::Result<Vec<DbInstance>> {
        let _permit = self.limit.acquire().await?;
        let pages = self
            .client
            .describe_db_instances()
            .into_paginator()
            .items()
            .send();
        pages
            .try_collect()
            .await
            .op("DescribeDBInstances", &self.region, &subject)
    }

    /// Manual snapshots only: automated ones and final snapshots are never drills'.
    pub(super) async fn list_snapshots(&self, subject: &str) -> anyhow::Result<Vec<DbSnapshot>> {
        let _permit = self.limit.acquire().await?;
        let pages = self
            .client
            .describe_db_snapshots()
            .snapshot_type("manual")
            .into_paginator()
            .items()
            .send();
        pages
            .try_collect()
            .await
            .op("DescribeDBSnapshots", &self.region, &subject)
    }

    pub(super) async fn list_subnet_groups(
        &self,
        subject: &str,
    ) -> anyhow::Result<Vec<DbSubnetGroup>> {
        let _permit = self.limit.acquire().await?;
        let pages = self
            .client
            .describe_db_subnet_groups()
            .into_paginator()
            .items()
            .send();
        pages
            .try_collect()
            .await
            .op("DescribeDBSubnetGroups", &self.region, &subject)
    }
}

/// Every subnet group the caller knows and every instance tagged for the scope, in every
/// region of the scope: one paginated describe per type and region, regions concurrently;
/// the known drill snapshots too, with one more describe in the regions that hold any (so a
/// refresh without drills costs what it did). `replica_of` is decided once all regions are
/// read (a source may live in another).
pub(crate) async fn refresh(
    scope: &Scope,
    rds_in: &(dyn Fn(&str) -> Rds + Send + Sync),
) -> anyhow::Result<Vec<Observed>> {
    let subject = format!("the refresh of {}/{}", scope.service, scope.environment);
    let snapshot_regions: HashSet<Option<&str>> = scope
        .known
        .iter()
        .filter(|k| k.kind == Kind::DbSnapshot)
        .map(|k| k.region.as_deref())
        .collect();
    let read = try_join_all(scope.regions.iter().map(|region| {
        let rds = rds_in(region);
        let subject = &subject;
        let snapshots =
            snapshot_regions.contains(&Some(region.as_str())) || snapshot_regions.contains(&None);
        async move {
            let snapshots = async {
                if snapshots {
                    rds.list_snapshots(subject).await
                } else {
                    Ok(Vec::new())
                }
            };
            let (groups, instances, snapshots) = tokio::try_join!(
                rds.list_subnet_groups(subject),
                rds.list_instances(subject),
                snapshots
            )?;
            Ok::<_, anyhow::Error>((region.clone(), groups, instances, snapshots))
        }
    }))
    .await?;

    let known_groups: HashMap<(Option<&str>, &str), &Address> = scope
        .known
        .iter()
        .filter(|k| k.kind == Kind::DbSubnetGroup)
        .map(|k| ((k.region.as_deref(), k.name.as_str()), &k.address))
        .collect();
    let known_dbs: HashMap<(Option<&str>, &str), &Address> = scope
        .known
        .iter()
        .filter(|k| k.kind == Kind::Database)
        .map(|k| ((k.region.as_deref(), k.name.as_str()), &k.address))
        .collect();
    let known_db_any: HashMap<&str, &Address> = scope
        .known
        .iter()
        .filter(|k| k.kind == Kind::Database)
        .map(|k| (k.name.as_str(), &k.address))
        .collect();

    // Every instance read, by ARN and by (region, identifier), tagged or not.
    let mut by_arn: HashMap<&str, (&str, &DbInstance)> = HashMap::new();
    let mut by_id: HashMap<(&str, &str), &DbInstance> = HashMap::new();
    for (region, _, instances, _) in &read {
        for i in instances {
            if let Some(arn) = i.db_instance_arn() {
                by_arn.insert(arn, (region.as_str(), i));
            }
            if let Some(id) = i.db_instance_identifier() {
                by_id.insert((region.as_str(), id), i);
            }
        }
    }

    let mut out = Vec::new();
    let mut conflicts = Vec::new();
    let ours = tags::ours(scope);
    let fix = "rename the environment (or the service) so the names differ";
    let mut group_address: HashMap<(&str, &str), Address> = HashMap::new();
    let known_groups = &known_groups;
    let groups = read.iter().flat_map(|(region, groups, _, _)| {
        groups.iter().filter_map(move |g| {
            let name = g.db_subnet_group_name()?;
            let address = known_groups
                .get(&(Some(region.as_str()), name))
                .or_else(|| known_groups.get(&(None, name)))?;
            Some((region, g, name, *address))
        })
    });
    let tagged = try_join_all(groups.map(|(region, g, name, address)| {
        let (rds, subject) = (rds_in(region), &subject);
        async move {
            let arn = g.db_subnet_group_arn().unwrap_or_default();
            let live = rds.resource_tags(arn, subject).await?;
            Ok::<_, anyhow::Error>((region, g, name, address, live))
        }
    }))
    .await?;
    for (region, g, name, address, live) in tagged {
        match tags::owner(&live) {
            Some(owner) if owner != ours => {
                let what = format!("DB subnet group {name} in {region}");
                conflicts.push(tags::conflict(address, &what, &owner, &ours, fix));
            }
            Some(_) => {
                group_address.insert((region.as_str(), name), address.clone());
                out.push(subnet_group_observed(g, address.clone(), region, &live));
            }
            // Untagged: an interrupted creation; the create that follows adopts it.
            None => {}
        }
    }
    let mut db_address: HashMap<(&str, &str), Address> = HashMap::new();
    for (region, _, instances, _) in &read {
        for i in instances {
            let tags = tag_map(i.tag_list());
            let id = i.db_instance_identifier().unwrap_or_default();
            let known = known_dbs.get(&(Some(region.as_str()), id));
            if let (Some(owner), Some(a)) = (tags::foreign(&tags, scope), known) {
                let what = format!("RDS instance {id} in {region}");
                conflicts.push(tags::conflict(a, &what, &owner, &ours, fix));
                continue;
            }
            if tags::owner(&tags).as_ref() != Some(&ours) {
                continue;
            }
            let address = match tags.get(TAG_ADDRESS) {
                Some(a) => Address::new(a.clone()),
                None => match known_dbs.get(&(Some(region.as_str()), id)) {
                    Some(a) => (*a).clone(),
                    None => continue,
                },
            };
            let mut o = instance_observed(i, address, region);
            let mut deps = Vec::new();
            if let Some(g) = i
                .db_subnet_group()
                .and_then(|g| g.db_subnet_group_name())
                .and_then(|n| group_address.get(&(region.as_str(), n)))
            {
                deps.push(g.clone());
            }
            let source = live_source(i, region, &tags, scope, &by_arn, &by_id, &known_db_any);
            if let Some(s) = &source {
                deps.push(s.clone());
            }
            o.attrs.insert(
                "replica_of".into(),
                source.map(|s| json!(s.as_str())).unwrap_or(Value::Null),
            );
            o.depends_on = deps;
            db_address.insert(
                (
                    region.as_str(),
                    i.db_instance_identifier().unwrap_or_default(),
                ),
                o.address.clone(),
            );
            out.push(o);
        }
    }

    // Snapshots: only those the caller knows as snapshots (by tag or by identifier), so a
    // final snapshot carrying its database's tags is never taken for one.
    let known_snapshots: HashMap<(Option<&str>, &str), &Address> = scope
        .known
        .iter()
        .filter(|k| k.kind == Kind::DbSnapshot)
        .map(|k| ((k.region.as_deref(), k.name.as_str()), &k.address))
        .collect();
    let snapshot_addresses: HashSet<&str> = known_snapshots.values().map(|a| a.as_str()).collect();
    for (region, _, _, snapshots) in &read {
        for s in snapshots {
            let tags = tag_map(s.tag_list());
            let id = s.db_snapshot_identifier().unwrap_or_default();
            if tags::foreign(&tags, scope).is_some() {
                continue;
            }
            let address = match tags.get(TAG_ADDRESS) {
                Some(a) if snapshot_addresses.contains(a.as_str()) => Address::new(a.clone()),
                Some(_) => continue,
                None => match known_snapshots
                    .get(&(Some(region.as_str()), id))
                    .or_else(|| known_snapshots.get(&(None, id)))
                {
                    Some(a) => (*a).clone(),
                    None => continue,
                },
            };
            let mut o = snapshot_observed(s, address, region);
            o.depends_on = match tags.get(TAG_COPY_OF) {
                Some(source) => vec![Address::new(source.clone())],
                None => s
                    .db_instance_identifier()
                    .and_then(|db| db_address.get(&(region.as_str(), db)))
                    .cloned()
                    .into_iter()
                    .collect(),
            };
            out.push(o);
        }
    }
    tags::refuse(conflicts)?;
    Ok(out)
}

/// The address of a live replica's source, `None` for a standalone instance. A source in a
/// region that was read must still list the replica; one outside the scope (a region
/// assumed down) cannot be checked and is believed.
pub(super) fn live_source(
    i: &DbInstance,
    region: &str,
    tags: &BTreeMap<String, String>,
    scope: &Scope,
    by_arn: &HashMap<&str, (&str, &DbInstance)>,
    by_id: &HashMap<(&str, &str), &DbInstance>,
    known: &HashMap<&str, &Address>,
) -> Option<Address> {
    let source = i.read_replica_source_db_instance_identifier()?;
    if tags.contains_key(TAG_PROMOTED) {
        return None;
    }
    let (source_region, source_id) = match source.strip_prefix("arn:") {
        // arn:aws:rds:<region>:<account>:db:<identifier>
        Some(_) => {
            let parts: Vec<&str> = source.split(':').collect();
            (*parts.get(3)?, *parts.last()?)
        }
        None => (region, source),
    };
    let found = by_arn
        .get(source)
        .map(|(_, s)| *s)
        .or_else(|| by_id.get(&(source_region, source_id)).copied());
    match found {
        Some(s) => {
            let me_id = i.db_instance_identifier().unwrap_or_default();
            let me_arn = i.db_instance_arn().unwrap_or_default();
            let listed = s
                .read_replica_db_instance_identifiers()
                .iter()
                .any(|r| r == me_id || r == me_arn);
            if !listed {
                return None;
            }
            tag_map(s.tag_list())
                .get(TAG_ADDRESS)
                .map(|a| Address::new(a.clone()))
                .or_else(|| known.get(source_id).map(|a| (*a).clone()))
        }
        None if !scope.regions.contains(source_region) => {
            known.get(source_id).map(|a| (*a).clone())
        }
        None => None,
    }
}
