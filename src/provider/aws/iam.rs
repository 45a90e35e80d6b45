//! `Iam`: the global IAM roles S3 replication assumes.
//!
//! Invariant: roles live under the `/standby/` path with deterministic names, so a role the
//! state lost is found by one listing and adopted (`EntityAlreadyExists` reads it back); the
//! role's inline policy is rewritten on every create and update, never merged.

use super::ec2::{map, str_attr};
use super::error::AwsResultExt;
use crate::address::Address;
use crate::provider::{Observed, Scope};
use crate::topology::{Desired, Kind};
use crate::topology::{TAG_ADDRESS, TAG_ENVIRONMENT, TAG_SERVICE};
use anyhow::anyhow;
use aws_sdk_iam::types::{Role, Tag};
use aws_sdk_iam::Client;
use futures::future::try_join_all;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Semaphore;

const PATH: &str = "/standby/";
const POLICY_NAME: &str = "standby-replication";
/// IAM is global; errors name it as the region.
const REGION: &str = "global";

/// The IAM API (global).
pub(crate) struct Iam {
    pub(crate) client: Client,
    pub(crate) limit: Arc<Semaphore>,
}

impl Iam {
    pub(crate) async fn create_role(&self, d: &Desired) -> anyhow::Result<Observed> {
        let a = &d.address;
        let name = str_attr(d, "role_name")?;
        let tags = d
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()?;
        let created = self
            .client
            .create_role()
            .role_name(name)
            .path(PATH)
            .assume_role_policy_document(trust_policy())
            .description(format!("standby: S3 replication for {a}"))
            .set_tags(Some(tags))
            .send()
            .await
            .absent_if(&["EntityAlreadyExists"], "CreateRole", REGION, a)?;
        let role = match created.and_then(|o| o.role().cloned()) {
            Some(role) => role,
            // Ours from an interrupted apply (same deterministic name): adopt it.
            None => {
                self.tag(d).await?;
                self.client
                    .get_role()
                    .role_name(name)
                    .send()
                    .await
                    .op("GetRole", REGION, a)?
                    .role()
                    .cloned()
                    .ok_or_else(|| {
                        anyhow!("GetRole in {REGION} failed for {a}: no role in the answer")
                    })?
            }
        };
        self.put_policy(d, name).await?;
        let mut o = observed(&role, a.clone());
        o.depends_on = d.dependencies().cloned().collect();
        Ok(o)
    }

    pub(crate) async fn update_role(&self, d: &Desired) -> anyhow::Result<Observed> {
        let name = str_attr(d, "role_name")?;
        self.tag(d).await?;
        self.put_policy(d, name).await?;
        let role = self
            .client
            .get_role()
            .role_name(name)
            .send()
            .await
            .op("GetRole", REGION, &d.address)?
            .role()
            .cloned()
            .ok_or_else(|| {
                anyhow!(
                    "GetRole in {REGION} failed for {}: no role in the answer",
                    d.address
                )
            })?;
        let mut o = observed(&role, d.address.clone());
        o.depends_on = d.dependencies().cloned().collect();
        Ok(o)
    }

    /// Deletes the role's inline and attached policies, then the role.
    pub(crate) async fn delete_role(&self, current: &Observed) -> anyhow::Result<()> {
        let (a, name) = (&current.address, current.id.as_str());
        let gone = &["NoSuchEntity"];
        let Some(inline) = self
            .client
            .list_role_policies()
            .role_name(name)
            .send()
            .await
            .absent_if(gone, "ListRolePolicies", REGION, a)?
        else {
            return Ok(());
        };
        for policy in inline.policy_names() {
            self.client
                .delete_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await
                .absent_if(gone, "DeleteRolePolicy", REGION, a)?;
        }
        if let Some(attached) = self
            .client
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .absent_if(gone, "ListAttachedRolePolicies", REGION, a)?
        {
            for p in attached.attached_policies() {
                self.client
                    .detach_role_policy()
                    .role_name(name)
                    .set_policy_arn(p.policy_arn().map(str::to_owned))
                    .send()
                    .await
                    .absent_if(gone, "DetachRolePolicy", REGION, a)?;
            }
        }
        self.client
            .delete_role()
            .role_name(name)
            .send()
            .await
            .absent_if(gone, "DeleteRole", REGION, a)?;
        Ok(())
    }

    /// The scope's replication roles: one paginated listing under `/standby/`; tags are read
    /// only for roles the caller does not know by name.
    pub(crate) async fn refresh(&self, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        let subject = format!("the refresh of {}/{}", scope.service, scope.environment);
        let prefix = format!("standby-{}-{}-", scope.service, scope.environment);
        let known: HashMap<&str, &Address> = scope
            .known
            .iter()
            .filter(|k| k.kind == Kind::ReplicationRole)
            .map(|k| (k.name.as_str(), &k.address))
            .collect();
        let roles: Vec<_> = {
            let _p = self.limit.acquire().await?;
            let items = self
                .client
                .list_roles()
                .path_prefix(PATH)
                .into_paginator()
                .items()
                .send();
            let all: Vec<_> = items
                .try_collect()
                .await
                .op("ListRoles", REGION, &subject)?;
            all.into_iter()
                .filter(|r| known.contains_key(r.role_name()) || r.role_name().starts_with(&prefix))
                .collect()
        };
        let found = try_join_all(roles.iter().map(|role| {
            let subject = &subject;
            let known = &known;
            async move {
                if let Some(a) = known.get(role.role_name()) {
                    return Ok::<_, anyhow::Error>(Some(observed(role, (*a).clone())));
                }
                let _p = self.limit.acquire().await?;
                let tags = self
                    .client
                    .list_role_tags()
                    .role_name(role.role_name())
                    .send()
                    .await
                    .absent_if(&["NoSuchEntity"], "ListRoleTags", REGION, subject)?;
                let Some(tags) = tags else { return Ok(None) };
                let tag = |k: &str| {
                    tags.tags()
                        .iter()
                        .find(|t| t.key() == k)
                        .map(|t| t.value().to_string())
                };
                if tag(TAG_SERVICE).as_deref() != Some(scope.service.as_str())
                    || tag(TAG_ENVIRONMENT).as_deref() != Some(scope.environment.as_str())
                {
                    return Ok(None);
                }
                Ok(tag(TAG_ADDRESS).map(|a| observed(role, Address::new(a))))
            }
        }))
        .await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn tag(&self, d: &Desired) -> anyhow::Result<()> {
        let name = str_attr(d, "role_name")?;
        let tags = d
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()?;
        self.client
            .tag_role()
            .role_name(name)
            .set_tags(Some(tags))
            .send()
            .await
            .op("TagRole", REGION, &d.address)?;
        Ok(())
    }

    async fn put_policy(&self, d: &Desired, name: &str) -> anyhow::Result<()> {
        self.client
            .put_role_policy()
            .role_name(name)
            .policy_name(POLICY_NAME)
            .policy_document(replication_policy())
            .send()
            .await
            .op("PutRolePolicy", REGION, &d.address)?;
        Ok(())
    }
}

fn observed(role: &Role, address: Address) -> Observed {
    Observed {
        address,
        kind: Kind::ReplicationRole,
        region: None,
        id: role.role_name().to_string(),
        attrs: map([("role_name", json!(role.role_name()))]),
        computed: map([("arn", json!(role.arn()))]),
        depends_on: Vec::new(),
    }
}

fn trust_policy() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string()
}

fn replication_policy() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                "Resource": "arn:aws:s3:::*"
            },
            {
                "Effect": "Allow",
                "Action": ["s3:GetObjectVersion*", "s3:Replicate*"],
                "Resource": "arn:aws:s3:::*/*"
            }
        ]
    })
    .to_string()
}
