//! Cross-Region automated backups replication, which moto 5.2.5 lacks: the proxy keeps the
//! replications itself and answers as RDS documents.

use super::{elements, Call, Clock, Refusal, Reply, Rule};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `StartDBInstanceAutomatedBackupsReplication` (called in the destination region) starts
/// replicating a DB instance's automated backups there: `pending`, then `replicating`;
/// `DescribeDBInstanceAutomatedBackups` in the destination lists them with their source's
/// `Region` and a `RestoreWindow` (the latest restorable time trails by about five minutes);
/// `StopDBInstanceAutomatedBackupsReplication` stops it; `RestoreDBInstanceToPointInTime`
/// with `SourceDBInstanceAutomatedBackupsArn` restores from them in the destination region,
/// with the source's engine and storage, whether or not the source region answers.
/// AWS: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_StartDBInstanceAutomatedBackupsReplication.html,
/// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBInstanceToPointInTime.html,
/// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReplicateBackups.html.
#[derive(Default)]
pub struct BackupsReplication {
    /// What `DescribeDBInstances` answers showed of each instance, by ARN.
    instances: HashMap<String, Instance>,
    replications: Vec<Replication>,
}

#[derive(Clone)]
struct Instance {
    identifier: String,
    engine: String,
    engine_version: String,
    storage: String,
    master_username: String,
}

struct Replication {
    destination: String,
    source_arn: String,
    source: Instance,
    retention: String,
    kms: String,
    arn: String,
    started: Instant,
    started_wall: SystemTime,
}

const MINUTE: Duration = Duration::from_secs(60);
/// How long a new replication is `pending` before `replicating`.
const PENDING: Duration = MINUTE.saturating_mul(5);
/// How far the latest restorable time trails: RDS uploads transaction logs every five
/// minutes (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIT.html).
const TRAIL: Duration = MINUTE.saturating_mul(5);

impl Rule for BackupsReplication {
    fn name(&self) -> &'static str {
        "rds.automated-backups-replication"
    }

    fn before(&mut self, call: &Call, _now: Instant, _clock: Clock) -> Option<Refusal> {
        if call.service != "rds" {
            return None;
        }
        let name = self.name();
        match call.operation.as_str() {
            "StartDBInstanceAutomatedBackupsReplication" => {
                let arn = call.param("SourceDBInstanceArn").unwrap_or_default();
                if !self.instances.contains_key(arn) {
                    return Some(not_found(
                        name,
                        "DBInstanceNotFound",
                        &format!("DBInstance {arn} not found."),
                    ));
                }
                None
            }
            "StopDBInstanceAutomatedBackupsReplication" => {
                let arn = call.param("SourceDBInstanceArn").unwrap_or_default();
                let found = self
                    .replications
                    .iter()
                    .any(|r| r.source_arn == arn && r.destination == call.region);
                (!found).then(|| {
                    not_found(
                        name,
                        "DBInstanceNotFound",
                        &format!(
                            "no automated backups of {arn} are replicated to {}.",
                            call.region
                        ),
                    )
                })
            }
            "RestoreDBInstanceToPointInTime" => {
                let arn = call.param("SourceDBInstanceAutomatedBackupsArn")?;
                if call.param("RestoreTime").is_some()
                    && call.param("UseLatestRestorableTime") == Some("true")
                {
                    return Some(Refusal::bad_request(
                        name,
                        "InvalidParameterCombination",
                        "Cannot specify both RestoreTime and UseLatestRestorableTime",
                    ));
                }
                let found = self
                    .replications
                    .iter()
                    .any(|r| r.arn == arn && r.destination == call.region);
                (!found).then(|| {
                    not_found(
                        name,
                        "DBInstanceAutomatedBackupNotFound",
                        &format!("DBInstanceAutomatedBackup {arn} not found."),
                    )
                })
            }
            _ => None,
        }
    }

    fn forward_as(&mut self, call: &Call) -> Option<BTreeMap<String, String>> {
        if call.service != "rds" || call.operation != "RestoreDBInstanceToPointInTime" {
            return None;
        }
        let arn = call.param("SourceDBInstanceAutomatedBackupsArn")?;
        let r = self
            .replications
            .iter()
            .find(|r| r.arn == arn && r.destination == call.region)?;
        const RESTORE_ONLY: &[&str] = &[
            "Action",
            "SourceDBInstanceAutomatedBackupsArn",
            "UseLatestRestorableTime",
            "RestoreTime",
            "TargetDBInstanceIdentifier",
        ];
        let mut params: BTreeMap<String, String> = call
            .params
            .iter()
            .filter(|(k, _)| !RESTORE_ONLY.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        params.insert("Action".into(), "CreateDBInstance".into());
        params.insert(
            "DBInstanceIdentifier".into(),
            call.param("TargetDBInstanceIdentifier")?.into(),
        );
        params.insert("Engine".into(), r.source.engine.clone());
        params.insert("EngineVersion".into(), r.source.engine_version.clone());
        params.insert("AllocatedStorage".into(), r.source.storage.clone());
        params.insert("MasterUsername".into(), r.source.master_username.clone());
        params.insert("StorageEncrypted".into(), "true".into());
        Some(params)
    }

    fn after(&mut self, call: &Call, reply: &mut Reply, now: Instant, clock: Clock) -> bool {
        if call.service != "rds" {
            return false;
        }
        match call.operation.as_str() {
            "DescribeDBInstances" if reply.status == 200 => {
                self.learn(&reply.body);
                false
            }
            "StartDBInstanceAutomatedBackupsReplication" => {
                let member = self.start(call, now);
                let member = self.replications[member].xml(now, clock);
                *reply = ok("StartDBInstanceAutomatedBackupsReplication", &member);
                true
            }
            "StopDBInstanceAutomatedBackupsReplication" => {
                let arn = call.param("SourceDBInstanceArn").unwrap_or_default();
                let at = self
                    .replications
                    .iter()
                    .position(|r| r.source_arn == arn && r.destination == call.region);
                let Some(at) = at else { return false };
                let member = self
                    .replications
                    .remove(at)
                    .xml(now, clock)
                    .replace("<Status>replicating</Status>", "<Status>retained</Status>");
                *reply = ok("StopDBInstanceAutomatedBackupsReplication", &member);
                true
            }
            "DescribeDBInstanceAutomatedBackups" if reply.status == 200 => {
                let members: String = self
                    .replications
                    .iter()
                    .filter(|r| r.destination == call.region)
                    .map(|r| r.xml(now, clock))
                    .collect();
                if members.is_empty() {
                    return false;
                }
                let list = "<DBInstanceAutomatedBackups>";
                reply.body = reply.body.replace(
                    "<DBInstanceAutomatedBackups/>",
                    "<DBInstanceAutomatedBackups></DBInstanceAutomatedBackups>",
                );
                if let Some(at) = reply.body.find(list) {
                    reply.body.insert_str(at + list.len(), &members);
                }
                true
            }
            "RestoreDBInstanceToPointInTime"
                if call.param("SourceDBInstanceAutomatedBackupsArn").is_some() =>
            {
                // moto made the instance with `CreateDBInstance` (`forward_as`); the answer
                // is the restore's.
                for part in ["Response", "Result"] {
                    for (from, to) in [
                        ("<CreateDBInstance", "<RestoreDBInstanceToPointInTime"),
                        ("</CreateDBInstance", "</RestoreDBInstanceToPointInTime"),
                    ] {
                        reply.body = reply
                            .body
                            .replace(&format!("{from}{part}"), &format!("{to}{part}"));
                    }
                }
                reply.status == 200
            }
            _ => false,
        }
    }
}

impl BackupsReplication {
    /// Records each instance of a `DescribeDBInstances` answer.
    fn learn(&mut self, body: &str) {
        for instance in elements(body, "DBInstance") {
            let one = |tag: &str| {
                elements(instance, tag)
                    .first()
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            };
            let arn = one("DBInstanceArn");
            if arn.is_empty() {
                continue;
            }
            self.instances.insert(
                arn,
                Instance {
                    identifier: one("DBInstanceIdentifier"),
                    engine: one("Engine"),
                    engine_version: one("EngineVersion"),
                    storage: one("AllocatedStorage"),
                    master_username: one("MasterUsername"),
                },
            );
        }
    }

    /// The replication a start makes (or the one already running), by position.
    fn start(&mut self, call: &Call, now: Instant) -> usize {
        let source_arn = call
            .param("SourceDBInstanceArn")
            .unwrap_or_default()
            .to_string();
        let destination = call.region.clone();
        if let Some(at) = self
            .replications
            .iter()
            .position(|r| r.source_arn == source_arn && r.destination == destination)
        {
            return at;
        }
        let account = source_arn
            .split(':')
            .nth(4)
            .unwrap_or("123456789012")
            .to_string();
        let n = self.replications.len() + 1;
        self.replications.push(Replication {
            arn: format!("arn:aws:rds:{destination}:{account}:auto-backup:ab-standby{n:08}"),
            source: self.instances[&source_arn].clone(),
            destination,
            source_arn,
            // RDS's default for replicated backups: 7 days.
            retention: call
                .param("BackupRetentionPeriod")
                .unwrap_or("7")
                .to_string(),
            kms: call.param("KmsKeyId").unwrap_or_default().to_string(),
            started: now,
            started_wall: SystemTime::now(),
        });
        self.replications.len() - 1
    }
}

impl Replication {
    /// The `DBInstanceAutomatedBackup` RDS shows in the destination region.
    fn xml(&self, now: Instant, clock: Clock) -> String {
        let elapsed = now.duration_since(self.started);
        let status = if elapsed < clock.of(PENDING) {
            "pending"
        } else {
            "replicating"
        };
        let latest = SystemTime::now()
            .checked_sub(clock.of(TRAIL))
            .filter(|t| *t > self.started_wall)
            .unwrap_or(self.started_wall);
        let source_region = self.source_arn.split(':').nth(3).unwrap_or_default();
        let s = &self.source;
        format!(
            "<DBInstanceAutomatedBackup><DBInstanceArn>{}</DBInstanceArn><Region>{source_region}</Region>\
             <DBInstanceIdentifier>{}</DBInstanceIdentifier><RestoreWindow><EarliestTime>{}</EarliestTime>\
             <LatestTime>{}</LatestTime></RestoreWindow><AllocatedStorage>{}</AllocatedStorage>\
             <Status>{status}</Status><Engine>{}</Engine><EngineVersion>{}</EngineVersion>\
             <BackupRetentionPeriod>{}</BackupRetentionPeriod><Encrypted>true</Encrypted><KmsKeyId>{}</KmsKeyId>\
             <DBInstanceAutomatedBackupsArn>{}</DBInstanceAutomatedBackupsArn></DBInstanceAutomatedBackup>",
            self.source_arn, s.identifier, rfc3339(self.started_wall), rfc3339(latest), s.storage,
            s.engine, s.engine_version, self.retention, self.kms, self.arn
        )
    }
}

fn ok(operation: &str, member: &str) -> Reply {
    Reply {
        status: 200,
        body: format!(
            "<{operation}Response xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><{operation}Result>{member}</{operation}Result>\
             <ResponseMetadata><RequestId>standby-strict-proxy</RequestId></ResponseMetadata></{operation}Response>"
        ),
    }
}

fn not_found(rule: &str, code: &str, message: &str) -> Refusal {
    Refusal {
        status: 404,
        ..Refusal::bad_request(rule, code, message)
    }
}

/// `t` as `2026-11-30T23:13:30Z` (UTC).
pub(super) fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_formats_utc() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_796_080_410);
        assert_eq!(super::rfc3339(t), "2026-11-30T23:13:30Z");
    }
}
