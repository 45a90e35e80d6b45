//! DB subnet groups: over every subnet of the region, found by their deterministic name.

use super::*;

impl Rds {
    // --- subnet groups -------------------------------------------------------------------

    /// Creates the subnet group over every `subnet*` reference, or adopts and modifies one of
    /// its deterministic name that is ours.
    pub(super) async fn put_subnet_group(
        &self,
        d: &Desired,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let name = str_attr(d, "name")?;
        let refs = resolve_refs(d, ctx)?;
        let subnets: Vec<String> = refs
            .iter()
            .filter(|(k, _)| k.starts_with("subnet"))
            .map(|(_, o)| o.id.clone())
            .collect();
        if subnets.is_empty() {
            bail!("{a}: a DB subnet group needs at least one `subnet` reference");
        }
        let description = format!("standby: {a}");
        {
            let created = self
                .client
                .create_db_subnet_group()
                .db_subnet_group_name(name)
                .db_subnet_group_description(&description)
                .set_subnet_ids(Some(subnets.clone()))
                .set_tags(Some(rds_tags(d)))
                .send()
                .await
                .absent_if(
                    &[
                        "DBSubnetGroupAlreadyExists",
                        "DBSubnetGroupAlreadyExistsFault",
                    ],
                    "CreateDBSubnetGroup",
                    r,
                    a,
                )?;
            if let Some(out) = created {
                if let Some(g) = out.db_subnet_group() {
                    return Ok(subnet_group_observed(g, a.clone(), r, &BTreeMap::new()));
                }
            }
            // Deterministic name: ours from an interrupted apply. Adopt it below.
        }
        {
            let out = self
                .client
                .modify_db_subnet_group()
                .db_subnet_group_name(name)
                .db_subnet_group_description(&description)
                .set_subnet_ids(Some(subnets))
                .send()
                .await
                .op("ModifyDBSubnetGroup", r, a)?;
            let group = out.db_subnet_group().ok_or_else(|| {
                anyhow!("ModifyDBSubnetGroup in {r} failed for {a}: no group in the answer")
            })?;
            if let Some(arn) = group.db_subnet_group_arn() {
                self.ensure_group_ours(d, arn).await?;
                self.retag(arn, &rds_tags(d), &[], a).await?;
            }
            Ok(subnet_group_observed(group, a.clone(), r, &BTreeMap::new()))
        }
    }

    /// A subnet group's one in-place change: its tags (its name is replaced, its subnets
    /// follow the region's zones). ModifyDBSubnetGroup is not needed for that, and moto 5.2.5
    /// loses the group on it.
    pub(super) async fn retag_subnet_group(
        &self,
        d: &Desired,
        current: &Observed,
    ) -> anyhow::Result<Observed> {
        let arn = current
            .computed
            .get("arn")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                anyhow!(
                    "{}: the subnet group {} has no ARN in the state",
                    d.address,
                    current.id
                )
            })?;
        self.ensure_group_ours(d, arn).await?;
        self.retag(arn, &rds_tags(d), &tags::removed(d, current), &d.address)
            .await?;
        Ok(current.clone())
    }

    /// Refuses a subnet group whose tags name another environment.
    pub(super) async fn ensure_group_ours(&self, d: &Desired, arn: &str) -> anyhow::Result<()> {
        let live = self.resource_tags(arn, &d.address).await?;
        let ours = tags::owner(&d.tags).unwrap_or_default();
        match tags::owner(&live).filter(|o| *o != ours) {
            None => Ok(()),
            Some(owner) => {
                let what = format!("DB subnet group {} in {}", current_name(arn), self.region);
                let fix = "rename the environment (or the service) so the names differ";
                bail!("{}", tags::conflict(&d.address, &what, &owner, &ours, fix))
            }
        }
    }
}

impl Rds {
    pub(super) async fn subnet_group_exists(
        &self,
        name: &str,
        address: &Address,
    ) -> anyhow::Result<bool> {
        Ok(self
            .client
            .describe_db_subnet_groups()
            .db_subnet_group_name(name)
            .send()
            .await
            .absent_if(
                NO_SUBNET_GROUP,
                "DescribeDBSubnetGroups",
                &self.region,
                address,
            )?
            .is_some())
    }
}

pub(super) fn subnet_group_observed(
    g: &DbSubnetGroup,
    address: Address,
    region: &str,
    live: &BTreeMap<String, String>,
) -> Observed {
    let mut computed = Map::new();
    if let Some(arn) = g.db_subnet_group_arn() {
        computed.insert("arn".into(), json!(arn));
    }
    if let Some(vpc) = g.vpc_id() {
        computed.insert("vpc_id".into(), json!(vpc));
    }
    let mut o = Observed {
        address,
        kind: Kind::DbSubnetGroup,
        region: Some(region.to_string()),
        id: g.db_subnet_group_name().unwrap_or_default().to_string(),
        attrs: map([("name", json!(g.db_subnet_group_name()))]),
        computed,
        depends_on: Vec::new(),
    };
    tags::observe(&mut o, live.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    o
}

/// The name at the end of an RDS ARN (`arn:aws:rds:<region>:<account>:subgrp:<name>`).
pub(super) fn current_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}
