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

use super::attrs::{map, str_attr};
use super::dns_owner;
use super::emulator::{self, Emulator};
use super::error::{self, AwsResultExt};
use super::tags;
use super::AwsProvider;
use crate::address::Address;
use crate::provider::{resolve_refs, ApplyContext, GlobalRead, Observed, Scope};
use crate::topology::{Desired, Kind, OWNER, TAGS, UNKNOWN};
use crate::topology::{TAG_ADDRESS, TAG_ENVIRONMENT, TAG_NAME, TAG_SERVICE};
use anyhow::{anyhow, bail, Context as _};
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, HealthCheck, HealthCheckConfig,
    HealthCheckType, HostedZone, ResourceRecordSet, ResourceRecordSetFailover, RrType, Tag,
    TagResourceType,
};
use aws_sdk_route53::Client;
use futures::future::try_join_all;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

mod health_check;
mod record;
mod refresh;
mod test_answer;
mod zone;
use refresh::*;
use zone::*;

/// Route 53 is global; errors name it as the region.
const REGION: &str = "global";
/// The region a health check watches (not part of its configuration in Route 53).
const TAG_WATCHES: &str = "standby:region";
/// How long to wait for a record change to reach every Route 53 server.
const CHANGE_WAIT: Duration = Duration::from_secs(300);
/// Health-check settings standby does not expose.
pub(crate) const REQUEST_INTERVAL: i32 = 30;
pub(crate) const FAILURE_THRESHOLD: i32 = 3;
const NO_ZONE: &[&str] = &["NoSuchHostedZone"];

/// The Route 53 API (global, signed for us-east-1).
pub(crate) struct Route53 {
    pub(crate) client: Client,
    /// The one limiter of every Route 53 call the provider makes (`rate.rs`).
    pub(crate) limit: Arc<super::rate::Rate>,
    /// Whether the emulator workarounds apply (`emulator.rs`).
    pub(crate) emulator: Emulator,
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
                if !crate::topology::reads::zone_shared(&current.computed) {
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

    /// This call's slot of the account's five Route 53 requests a second.
    async fn permit(&self) -> anyhow::Result<Slot> {
        self.limit.take().await;
        Ok(Slot)
    }
}

/// A Route 53 call's turn (`permit`).
pub(crate) struct Slot;

// --- normalisation -----------------------------------------------------------------------

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
/// Whether standby may use the zone `z` for `name`: a public zone of exactly that name. A
/// private zone of the name answers only inside its VPCs, so records there would never serve
/// the failover (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/hosted-zones-private.html).
fn adoptable(z: &HostedZone, name: &str) -> bool {
    same_name(z.name(), name) && !z.config().is_some_and(|c| c.private_zone())
}

pub(crate) fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// The DNS family's handler: hosted zones, health checks and records, global, read only when
/// global services are.
pub(super) struct Dns;

#[async_trait::async_trait]
impl super::handler::KindHandler for Dns {
    async fn refresh(&self, p: &AwsProvider, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        if !scope.global.contains(&GlobalRead::Route53) {
            return Ok(Vec::new());
        }
        p.route53().refresh(scope).await
    }

    async fn create(
        &self,
        p: &AwsProvider,
        d: &Desired,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        p.route53().create(d, ctx).await
    }

    async fn update(
        &self,
        p: &AwsProvider,
        d: &Desired,
        current: &Observed,
        ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        p.route53().update(d, current, ctx).await
    }

    async fn delete(&self, p: &AwsProvider, current: &Observed) -> anyhow::Result<()> {
        p.route53().delete(current).await
    }
}
