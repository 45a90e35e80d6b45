//! A drill's readiness checks: what "ready" means for each kind of resource it stood up.

use super::Clock;
use crate::address::Address;
use crate::environment::Environment;
use crate::provider::{GlobalRead, KnownResource, Observed, Provider, Scope};
use crate::state::history_now;
use crate::topology::{drill_environment, reads, Desired, Kind};
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// Instances running, database available and writable, bucket versioned, DNS answering
/// with the drill's instances: each timed.
pub(super) async fn check_ready(
    env: &Environment,
    provider: &dyn Provider,
    id: &str,
    region: &str,
    primary: &str,
    desired: &[Desired],
    clock: &mut Clock,
) -> Result<()> {
    let t = Instant::now();
    let at = history_now();
    let scope = Scope {
        service: env.spec.service.name.clone(),
        environment: drill_environment(&env.spec, id),
        regions: BTreeSet::from([region.to_string(), primary.to_string()]),
        global: GlobalRead::all(),
        include_unmanaged: false,
        known: desired
            .iter()
            .map(|d| KnownResource {
                address: d.address.clone(),
                kind: d.kind,
                region: d.region.clone(),
                name: d.name.clone(),
            })
            .collect(),
    };
    let live = provider
        .refresh(&scope)
        .await
        .context("reading the drill's resources")?;
    clock.step(
        "read the drill's resources",
        t,
        at,
        true,
        format!("{} resources", live.len()),
    );
    let by_address: BTreeMap<&Address, &Observed> = live.iter().map(|o| (&o.address, o)).collect();
    let mut problems = Vec::new();

    let t = Instant::now();
    let at = history_now();
    let groups = desired.iter().filter(|d| d.kind == Kind::AutoScalingGroup);
    let wanted: u64 = groups
        .clone()
        .map(|d| reads::desired_capacity(&d.attrs))
        .sum();
    let running: u64 = groups
        .filter_map(|d| by_address.get(&d.address))
        .map(|o| reads::in_service(&o.computed))
        .sum();
    let ok = running == wanted;
    clock.step(
        "instances running",
        t,
        at,
        ok,
        format!("{running}/{wanted} running"),
    );
    if !ok {
        problems.push(format!("{running} of {wanted} instances running"));
    }

    for d in desired.iter().filter(|d| d.kind == Kind::Database) {
        let t = Instant::now();
        let at = history_now();
        let (ok, detail) = match by_address.get(&d.address) {
            None => (false, "not found".to_string()),
            Some(o) => {
                let replica = reads::is_replica(&o.attrs);
                let status = reads::db_status(&o.computed).unwrap_or("unknown");
                (
                    !replica && status == "available",
                    format!(
                        "{} is {status}{}",
                        o.id,
                        if replica { ", a replica" } else { ", writable" }
                    ),
                )
            }
        };
        clock.step(
            &format!("database {} available and writable", d.address),
            t,
            at,
            ok,
            detail.clone(),
        );
        if !ok {
            problems.push(format!("{}: {detail}", d.address));
        }
    }

    for d in desired.iter().filter(|d| d.kind == Kind::Bucket) {
        let t = Instant::now();
        let at = history_now();
        let versioning = by_address
            .get(&d.address)
            .and_then(|o| reads::versioning(&o.attrs));
        let ok = versioning == Some("Enabled");
        clock.step(
            &format!("bucket {} versioned", d.name),
            t,
            at,
            ok,
            format!("versioning {}", versioning.unwrap_or("unknown")),
        );
        if !ok {
            problems.push(format!("bucket {} is not versioned", d.name));
        }
    }

    for d in desired.iter().filter(|d| d.kind == Kind::Record) {
        let t = Instant::now();
        let at = history_now();
        let name = d
            .attrs
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let zone_id = d
            .refs
            .get("zone")
            .and_then(|z| by_address.get(z))
            .and_then(|z| {
                z.computed
                    .get("zone_id")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
                    .or(Some(z.id.clone()))
            })
            .unwrap_or_default();
        // The record must alias the drill's own load balancer and answer.
        let lb_name = d
            .bindings
            .get("alias_dns_name")
            .and_then(|b| b.from.first())
            .and_then(|a| by_address.get(a))
            .and_then(|o| reads::dns_name(&o.computed))
            .unwrap_or_default()
            .to_string();
        let aliased = by_address
            .get(&d.address)
            .and_then(|o| reads::alias_dns_name(&o.attrs));
        let expected = [lb_name.clone()];
        let answer = provider.test_dns_answer(&zone_id, name).await?;
        let ok = !answer.is_empty() && !lb_name.is_empty() && aliased == Some(lb_name.as_str());
        clock.step(
            &format!("dns {name} answers"),
            t,
            at,
            ok,
            format!("answer {}", answer.join(", ")),
        );
        if !ok {
            problems.push(format!(
                "{name} answers [{}], expected [{}]",
                answer.join(", "),
                expected.join(", ")
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        bail!("readiness checks failed: {}", problems.join("; "))
    }
}
