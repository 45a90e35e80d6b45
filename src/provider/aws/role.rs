//! `Iam`: the global IAM roles S3 replication assumes.
//!
//! Invariant: roles live under the `/standby/` path with deterministic names, so a role the
//! state lost is found by one listing and adopted (`EntityAlreadyExists` reads it back); the
//! role's inline policy is rewritten on every create and update, never merged. Least
//! privilege: the policy names only the bucket component's buckets, and the trust policy
//! lets S3 assume the role only on behalf of this account (`aws:SourceAccount`).

use super::attrs::{map, str_attr};
use super::error::AwsResultExt;
use super::tags;
use super::AwsProvider;
use crate::address::Address;
use crate::provider::{ApplyContext, GlobalRead, Observed, Scope};
use crate::topology::TAG_ADDRESS;
use crate::topology::{Desired, Kind};
use anyhow::anyhow;
use aws_sdk_iam::types::{Role, Tag};
use aws_sdk_iam::Client;
use futures::future::try_join_all;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
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
    /// `account`: the caller's account id, for the trust policy's condition.
    pub(crate) async fn create_role(&self, d: &Desired, account: &str) -> anyhow::Result<Observed> {
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
            .assume_role_policy_document(trust_policy(account))
            .description(format!("standby: S3 replication for {a}"))
            .set_tags(Some(tags))
            .send()
            .await
            .absent_if(&["EntityAlreadyExists"], "CreateRole", REGION, a)?;
        let role = match created.and_then(|o| o.role().cloned()) {
            Some(role) => role,
            // Ours from an interrupted apply (same deterministic name): adopt it, unless its
            // tags name another environment.
            None => {
                let live = self.role_tags(name, a).await?.unwrap_or_default();
                let ours = tags::owner(&d.tags).unwrap_or_default();
                if let Some(owner) = tags::owner(&live).filter(|o| *o != ours) {
                    let what = format!("IAM role {name}");
                    let fix = "rename the bucket component or the environment so the names differ";
                    anyhow::bail!("{}", tags::conflict(a, &what, &owner, &ours, fix));
                }
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
        self.put_policies(d, name, account).await?;
        let mut o = observed(&role, a.clone(), &BTreeMap::new(), buckets_attr(d)?);
        o.depends_on = d.dependencies().cloned().collect();
        Ok(o)
    }

    pub(crate) async fn update_role(
        &self,
        d: &Desired,
        current: &Observed,
        account: &str,
    ) -> anyhow::Result<Observed> {
        let name = str_attr(d, "role_name")?;
        self.tag(d).await?;
        let removed = tags::removed(d, current);
        if !removed.is_empty() {
            self.client
                .untag_role()
                .role_name(name)
                .set_tag_keys(Some(removed))
                .send()
                .await
                .op("UntagRole", REGION, &d.address)?;
        }
        self.put_policies(d, name, account).await?;
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
        let mut o = observed(&role, d.address.clone(), &BTreeMap::new(), buckets_attr(d)?);
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

    /// The scope's replication roles: one paginated listing under `/standby/`, then each
    /// candidate's tags (IAM ListRoles returns no tags): a role is adopted only when they
    /// name this environment, and one this environment needs that another owns refuses.
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
        let subject = &subject;
        let tagged = try_join_all(roles.iter().map(|role| async move {
            let _p = self.limit.acquire().await?;
            let Some(tags) = self.role_tags(role.role_name(), subject).await? else {
                return Ok(None);
            };
            let buckets = self.policy_buckets(role.role_name(), subject).await?;
            Ok::<_, anyhow::Error>(Some((role, tags, buckets)))
        }))
        .await?;
        let mut out = Vec::new();
        let mut conflicts = Vec::new();
        for (role, tags, buckets) in tagged.into_iter().flatten() {
            let known = known.get(role.role_name());
            if let (Some(owner), Some(a)) = (tags::foreign(&tags, scope), known) {
                let what = format!("IAM role {}", role.role_name());
                let fix = "rename the bucket component or the environment so the names differ";
                conflicts.push(tags::conflict(a, &what, &owner, &tags::ours(scope), fix));
                continue;
            }
            if tags::owner(&tags) != Some(tags::ours(scope)) {
                continue;
            }
            let address = match (tags.get(TAG_ADDRESS), known) {
                (Some(a), _) => Address::new(a.clone()),
                (None, Some(a)) => (*a).clone(),
                (None, None) => continue,
            };
            out.push(observed(role, address, &tags, buckets));
        }
        tags::refuse(conflicts)?;
        Ok(out)
    }

    /// The role's tags; `None` when the role does not exist.
    async fn role_tags(
        &self,
        name: &str,
        subject: &(dyn std::fmt::Display + Sync),
    ) -> anyhow::Result<Option<BTreeMap<String, String>>> {
        let items = self
            .client
            .list_role_tags()
            .role_name(name)
            .into_paginator()
            .items()
            .send();
        let tags: Option<Vec<Tag>> = items.try_collect().await.absent_if(
            &["NoSuchEntity"],
            "ListRoleTags",
            REGION,
            subject,
        )?;
        Ok(tags.map(|ts| {
            ts.iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect()
        }))
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

    /// Rewrites the trust policy (roles made before it had its condition get it) and the
    /// inline policy.
    async fn put_policies(&self, d: &Desired, name: &str, account: &str) -> anyhow::Result<()> {
        let buckets = buckets_attr(d)?;
        if buckets.is_empty() {
            anyhow::bail!("{}: attribute `buckets` names no bucket", d.address);
        }
        self.client
            .update_assume_role_policy()
            .role_name(name)
            .policy_document(trust_policy(account))
            .send()
            .await
            .op("UpdateAssumeRolePolicy", REGION, &d.address)?;
        self.client
            .put_role_policy()
            .role_name(name)
            .policy_name(POLICY_NAME)
            .policy_document(replication_policy(&buckets))
            .send()
            .await
            .op("PutRolePolicy", REGION, &d.address)?;
        Ok(())
    }

    /// The buckets the role's inline policy names (those it may list); none without one.
    async fn policy_buckets(
        &self,
        name: &str,
        subject: &(dyn std::fmt::Display + Sync),
    ) -> anyhow::Result<Vec<String>> {
        let out = self
            .client
            .get_role_policy()
            .role_name(name)
            .policy_name(POLICY_NAME)
            .send()
            .await
            .absent_if(&["NoSuchEntity"], "GetRolePolicy", REGION, subject)?;
        let Some(out) = out else {
            return Ok(Vec::new());
        };
        // IAM answers the document URL-encoded (GetRolePolicy, `PolicyDocument`).
        let text = percent_encoding::percent_decode_str(out.policy_document()).decode_utf8()?;
        Ok(listed_buckets(&text))
    }
}

fn observed(
    role: &Role,
    address: Address,
    live: &BTreeMap<String, String>,
    buckets: Vec<String>,
) -> Observed {
    let mut o = Observed {
        address,
        kind: Kind::ReplicationRole,
        region: None,
        id: role.role_name().to_string(),
        attrs: map([
            ("role_name", json!(role.role_name())),
            ("buckets", json!(buckets)),
        ]),
        computed: map([("arn", json!(role.arn()))]),
        depends_on: Vec::new(),
    };
    tags::observe(&mut o, live.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    o
}

/// S3 may assume the role only for this account's buckets: the confused-deputy guard
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html).
fn trust_policy(account: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}}
        }]
    })
    .to_string()
}

/// What replication needs, on the named buckets only: read the configuration and list the
/// source, read its object versions, replicate into the destination. Every bucket is named
/// in both roles, since a promote makes a standby's bucket the source
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html).
fn replication_policy(buckets: &[String]) -> String {
    let arns: Vec<String> = buckets
        .iter()
        .map(|b| format!("arn:aws:s3:::{b}"))
        .collect();
    let objects: Vec<String> = arns.iter().map(|a| format!("{a}/*")).collect();
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                "Resource": arns
            },
            {
                "Effect": "Allow",
                "Action": [
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging",
                    "s3:ReplicateObject",
                    "s3:ReplicateDelete",
                    "s3:ReplicateTags"
                ],
                "Resource": objects
            }
        ]
    })
    .to_string()
}

/// The buckets of the statement that lists them in a policy `replication_policy` wrote.
fn listed_buckets(policy: &str) -> Vec<String> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else {
        return Vec::new();
    };
    let statements = doc["Statement"].as_array().cloned().unwrap_or_default();
    let mut buckets: Vec<String> = statements
        .iter()
        .filter(|s| {
            s["Action"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a == "s3:ListBucket"))
        })
        .flat_map(|s| match &s["Resource"] {
            serde_json::Value::Array(rs) => rs.clone(),
            one => vec![one.clone()],
        })
        .filter_map(|r| {
            r.as_str()?
                .strip_prefix("arn:aws:s3:::")
                .map(str::to_string)
        })
        .collect();
    buckets.sort();
    buckets
}

fn buckets_attr(d: &Desired) -> anyhow::Result<Vec<String>> {
    let bad = || {
        anyhow!(
            "{}: attribute `buckets` must be a list of bucket names",
            d.address
        )
    };
    d.attrs
        .get("buckets")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(bad)?
        .iter()
        .map(|b| b.as_str().map(str::to_string).ok_or_else(bad))
        .collect()
}

/// The replication role family's handler: global, read only when global services are.
pub(super) struct Roles;

#[async_trait::async_trait]
impl super::handler::KindHandler for Roles {
    async fn refresh(&self, p: &AwsProvider, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        if !scope.global.contains(&GlobalRead::Iam) {
            return Ok(Vec::new());
        }
        p.iam().refresh(scope).await
    }

    async fn create(
        &self,
        p: &AwsProvider,
        d: &Desired,
        _ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        p.iam().create_role(d, &p.account_id().await?).await
    }

    async fn update(
        &self,
        p: &AwsProvider,
        d: &Desired,
        current: &Observed,
        _ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        p.iam()
            .update_role(d, current, &p.account_id().await?)
            .await
    }

    async fn delete(&self, p: &AwsProvider, current: &Observed) -> anyhow::Result<()> {
        p.iam().delete_role(current).await
    }
}
