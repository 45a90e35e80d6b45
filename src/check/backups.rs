//! The data of a cold standby (issue 19): the primary's automated backups replicated into
//! it, their latest restorable time's age against the RPO (what a promote with every other
//! region down loses) and their retention against the spec's `backup`.

use super::rows::Region;
use super::{Check, CheckRow, Measure, Unknown, Verdict};
use crate::provider::Observed;
use crate::topology::{reads, Desired, Kind};
use serde_json::Value;
use std::time::{Duration, SystemTime};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

impl Region<'_> {
    /// Two rows per backup replication into the region.
    pub fn backups(&self, now: SystemTime) -> Vec<CheckRow> {
        let rpo = self.env.spec.service.rpo;
        let mut rows = Vec::new();
        let replications = self.desired.iter().filter(|d| {
            d.kind == Kind::BackupReplication && d.region.as_deref() == Some(self.region)
        });
        for d in replications {
            let found = self.live.iter().find(|o| o.address == d.address);
            rows.push(backup_age(self.region, d, found, rpo, now));
            rows.push(retention(self.region, d, found));
        }
        rows
    }
}

/// The age of the latest restorable time of the replicated backups, at most the RPO
/// (the time RDS reports in their `RestoreWindow`, as `promote` gates on it).
fn backup_age(
    region: &str,
    d: &Desired,
    found: Option<&Observed>,
    rpo: Duration,
    now: SystemTime,
) -> CheckRow {
    let check = Check::ReplicatedBackups {
        backups: d.address.clone(),
    };
    let Some(found) = found else {
        return verdict(region, check, Verdict::NotReady, Measure::None, rpo);
    };
    let latest = found
        .computed
        .get("latest_restorable")
        .and_then(Value::as_str)
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
    let Some(latest) = latest else {
        let mut row = verdict(region, check, Verdict::Unknown, Measure::None, rpo);
        row.unknown = Some(Unknown::NoRestoreWindow);
        return row;
    };
    let age = now
        .duration_since(SystemTime::from(latest))
        .unwrap_or_default();
    let ok = if age <= rpo {
        Verdict::Ready
    } else {
        Verdict::NotReady
    };
    verdict(region, check, ok, Measure::duration(age), rpo)
}

fn verdict(
    region: &str,
    check: Check,
    verdict: Verdict,
    measured: Measure,
    rpo: Duration,
) -> CheckRow {
    CheckRow {
        region: region.to_string(),
        area: check.area(),
        check,
        verdict,
        measured,
        threshold: Measure::duration(rpo),
        unknown: None,
    }
}

/// The days of backups the replication keeps, as the spec asks.
fn retention(region: &str, d: &Desired, found: Option<&Observed>) -> CheckRow {
    let want = reads::retention_days(&d.attrs).unwrap_or_default();
    let have = found.and_then(|o| reads::retention_days(&o.attrs));
    let check = Check::BackupRetention {
        backups: d.address.clone(),
    };
    CheckRow {
        region: region.to_string(),
        area: check.area(),
        check,
        verdict: if have == Some(want) {
            Verdict::Ready
        } else {
            Verdict::NotReady
        },
        measured: have.map_or(Measure::None, Measure::Days),
        threshold: Measure::Days(want),
        unknown: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Address;
    use serde_json::json;

    fn replication(latest: Option<&str>, days: u64) -> (Desired, Observed) {
        let address = Address::new("region.eu-west-1.database.orders.backups");
        let attrs = |n: u64| {
            [("retention_days".to_string(), json!(n))]
                .into_iter()
                .collect::<serde_json::Map<_, _>>()
        };
        let d = Desired {
            address: address.clone(),
            kind: Kind::BackupReplication,
            region: Some("eu-west-1".into()),
            name: "checkout-prod-orders-us-east-1".into(),
            attrs: attrs(7),
            tags: Default::default(),
            refs: Default::default(),
            depends_on: Vec::new(),
            bindings: Default::default(),
            prevent_destroy: false,
        };
        let mut computed = serde_json::Map::new();
        if let Some(t) = latest {
            computed.insert("latest_restorable".into(), json!(t));
        }
        let o = Observed {
            address,
            kind: Kind::BackupReplication,
            region: Some("eu-west-1".into()),
            id: "arn".into(),
            attrs: attrs(days),
            computed,
            depends_on: Vec::new(),
        };
        (d, o)
    }

    #[test]
    fn backups_older_than_the_rpo_or_kept_for_another_retention_are_not_ready() {
        let now = SystemTime::from(time::macros::datetime!(2026-12-01 10:00:00 UTC));
        let rpo = Duration::from_secs(300);
        let (d, fresh) = replication(Some("2026-12-01T09:58:00Z"), 7);
        let row = backup_age("eu-west-1", &d, Some(&fresh), rpo, now);
        assert_eq!(row.verdict, Verdict::Ready);
        assert_eq!(row.measured, Measure::Seconds(120.0));
        let (_, stale) = replication(Some("2026-12-01T09:00:00Z"), 7);
        let row = backup_age("eu-west-1", &d, Some(&stale), rpo, now);
        assert_eq!(row.verdict, Verdict::NotReady);
        assert_eq!(row.measured, Measure::Seconds(3600.0));
        let (_, pending) = replication(None, 7);
        let row = backup_age("eu-west-1", &d, Some(&pending), rpo, now);
        assert_eq!(row.unknown, Some(Unknown::NoRestoreWindow));
        assert_eq!(
            backup_age("eu-west-1", &d, None, rpo, now).verdict,
            Verdict::NotReady
        );

        assert_eq!(
            retention("eu-west-1", &d, Some(&fresh)).verdict,
            Verdict::Ready
        );
        let (_, shorter) = replication(None, 3);
        let row = retention("eu-west-1", &d, Some(&shorter));
        assert_eq!(row.verdict, Verdict::NotReady);
        assert_eq!(
            (row.measured, row.threshold),
            (Measure::Days(3), Measure::Days(7))
        );
    }
}
