//! Promote of a cold standby with the other regions down: its databases are restored from
//! the primary's automated backups replicated into it (`region.R.database.X.backups`), at
//! their latest restorable time. The RPO gate compares that time's age with the `rpo`.
//! (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReplicateBackups.html)

use super::promote::RpoGate;
use crate::address::Address;
use crate::config::Role;
use crate::plan::{Action, Plan};
use crate::topology::{reads, Kind};
use anyhow::{bail, Result};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The warm standbys assumed down: they fail with the old primary (their replicas follow a
/// primary that is gone, and nothing can reach them); `rebuild` brings them back.
pub(super) fn down_standbys(
    roles: &BTreeMap<String, Role>,
    assume_down: &BTreeSet<String>,
) -> Vec<String> {
    roles
        .iter()
        .filter(|(r, role)| **role == Role::WarmStandby && assume_down.contains(*r))
        .map(|(r, _)| r.clone())
        .collect()
}

/// Makes each database created in `r` a restore from the backups replicated into `r`;
/// refuses when a database has none there.
pub(super) fn restore_from_backups(plan: &mut Plan, r: &str) -> Result<()> {
    // Each replication's source database, by the replication's address.
    let replicated: BTreeMap<_, _> = plan
        .prior
        .iter()
        .filter(|o| o.kind == Kind::BackupReplication && o.region.as_deref() == Some(r))
        .map(|o| (o.address.clone(), reads::backup_source(&o.attrs)))
        .collect();
    let identifier = |address: &str| {
        let address: Address = address.parse().ok()?;
        plan.prior
            .iter()
            .find(|o| o.kind == Kind::Database && o.address == address)
            .map(|o| o.id.clone())
    };
    let sources: BTreeMap<_, _> = replicated
        .iter()
        .map(|(a, source)| (a.clone(), source.and_then(identifier)))
        .collect();
    for a in &mut plan.actions {
        let Action::Create { desired } = a else {
            continue;
        };
        if desired.kind != Kind::Database || desired.region.as_deref() != Some(r) {
            continue;
        }
        let backups = desired.address.child("backups");
        let Some(source) = sources.get(&backups).cloned().flatten() else {
            bail!(
                "refusing to promote {r}: it is a cold standby without replicated backups of {} ({backups} is neither in the state nor in AWS), so there is nothing to restore: run `standby apply` while the primary is up to replicate them, or `standby rebuild {r} --role warm-standby`",
                desired.address
            );
        };
        desired
            .attrs
            .insert("restore_backup".into(), Value::String(backups.to_string()));
        desired
            .attrs
            .insert("backup_of".into(), Value::String(source));
    }
    Ok(())
}

/// The RPO gate of a restore: the age of the oldest latest restorable time among `r`'s
/// replicated backups against the `rpo`; unknown refuses (the other regions are down, so
/// nothing else can be fenced first) unless data loss is accepted.
pub(super) fn backup_gate(plan: &Plan, r: &str, rpo: Duration, accept: bool) -> Result<RpoGate> {
    let now = OffsetDateTime::now_utc();
    let mut age: Option<Duration> = None;
    let mut unknown = false;
    let mut restore_time: Option<String> = None;
    let backups = plan
        .prior
        .iter()
        .filter(|o| o.kind == Kind::BackupReplication && o.region.as_deref() == Some(r));
    for o in backups {
        let latest = reads::latest_restorable(&o.computed);
        match latest.and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok()) {
            Some(t) => {
                let old = Duration::try_from(now - t).unwrap_or_default();
                if age.is_none_or(|a| old > a) {
                    age = Some(old);
                    restore_time = latest.map(str::to_string);
                }
            }
            None => unknown = true,
        }
    }
    let show =
        |d: Duration| humantime::format_duration(Duration::from_secs(d.as_secs())).to_string();
    let (pass, verdict) = match age {
        Some(a) if a > rpo => (
            false,
            format!("the latest restorable time of the backups replicated into {r} is {} old, beyond the rpo of {}", show(a), show(rpo)),
        ),
        Some(a) if !unknown => (
            true,
            format!("the latest restorable time of the backups replicated into {r} is {} old, within the rpo of {}", show(a), show(rpo)),
        ),
        _ => (
            false,
            format!("the latest restorable time of the backups replicated into {r} is unknown, rpo {}", show(rpo)),
        ),
    };
    if !pass && !accept {
        bail!("refusing to promote {r}: {verdict}; pass --accept-data-loss to restore anyway");
    }
    Ok(RpoGate {
        lag: None,
        backup_age: age,
        restore_time,
        rpo,
        fenced_first: false,
        accepted_data_loss: !pass,
        verdict: if pass {
            verdict
        } else {
            format!("{verdict}; data loss accepted")
        },
    })
}
