//! RDS rules.

use super::{elements, Call, Clock, Refusal, Reply, Rule};
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// RDS installs a newer minor engine version by itself (`AutoMinorVersionUpgrade`, on by
/// default), so a `16.3` database reads `16.4` later; moto keeps the version asked for.
/// Every instance created (or replicated) through the proxy reads one minor version higher
/// from then on. AWS: "Automatically upgrading the minor engine version"
/// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.Maintenance.html#USER_UpgradeDBInstance.Upgrading.AutoMinorVersionUpgrades).
#[derive(Default)]
pub struct MinorUpgrade {
    upgraded: HashSet<String>,
}

impl Rule for MinorUpgrade {
    fn name(&self) -> &'static str {
        "rds.minor-upgrade"
    }

    fn after(&mut self, call: &Call, reply: &mut Reply, _now: Instant, _clock: Clock) -> bool {
        if call.service != "rds" || reply.status != 200 {
            return false;
        }
        match call.operation.as_str() {
            "CreateDBInstance" | "CreateDBInstanceReadReplica" => {
                if let Some(id) = call.param("DBInstanceIdentifier") {
                    self.upgraded.insert(id.to_ascii_lowercase());
                }
                false
            }
            "DescribeDBInstances" => {
                let mut fired = false;
                for id in &self.upgraded {
                    fired |= bump_version(&mut reply.body, id);
                }
                fired
            }
            _ => false,
        }
    }
}

/// Raises the last component of the `EngineVersion` of the `<DBInstance>` whose identifier
/// is `id`.
fn bump_version(body: &mut String, id: &str) -> bool {
    let Some(at) = body.find(&format!(
        "<DBInstanceIdentifier>{id}</DBInstanceIdentifier>"
    )) else {
        return false;
    };
    let start = body[..at].rfind("<DBInstance>").unwrap_or(0);
    let end = body[at..]
        .find("</DBInstance>")
        .map_or(body.len(), |i| at + i);
    let instance = &body[start..end];
    let Some(version) = elements(instance, "EngineVersion")
        .first()
        .map(|v| v.to_string())
    else {
        return false;
    };
    let Some((major, minor)) = version.rsplit_once('.') else {
        return false;
    };
    let Ok(minor) = minor.parse::<u64>() else {
        return false;
    };
    let old = format!("<EngineVersion>{version}</EngineVersion>");
    let new = format!("<EngineVersion>{major}.{}</EngineVersion>", minor + 1);
    let rewritten = instance.replacen(&old, &new, 1);
    body.replace_range(start..end, &rewritten);
    true
}

/// RDS refuses a read replica of a source whose master password it manages in Secrets
/// Manager (all engines but SQL Server); moto creates it. Instances created, restored or
/// modified with `ManageMasterUserPassword=true` are remembered, and
/// `CreateDBInstanceReadReplica` of one of them (by identifier or ARN) is refused. AWS:
/// "Limitations for Secrets Manager integration with Amazon RDS"
/// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations);
/// the error code is the one RDS gives parameters that do not go together.
#[derive(Default)]
pub struct ManagedPasswordReplica {
    managed: HashSet<String>,
}

impl Rule for ManagedPasswordReplica {
    fn name(&self) -> &'static str {
        "rds.managed-password-replica"
    }

    fn before(&mut self, call: &Call, _now: Instant, _clock: Clock) -> Option<Refusal> {
        if call.service != "rds" || call.operation != "CreateDBInstanceReadReplica" {
            return None;
        }
        let source = call.param("SourceDBInstanceIdentifier")?;
        // An ARN ends in `:db:<identifier>`.
        let id = source
            .rsplit(':')
            .next()
            .unwrap_or(source)
            .to_ascii_lowercase();
        self.managed.contains(&id).then(|| {
            Refusal::bad_request(
                self.name(),
                "InvalidParameterCombination",
                "read replicas are not supported for a source DB instance whose master user password is managed in AWS Secrets Manager",
            )
        })
    }

    fn after(&mut self, call: &Call, reply: &mut Reply, _now: Instant, _clock: Clock) -> bool {
        let manages = matches!(
            call.operation.as_str(),
            "CreateDBInstance" | "RestoreDBInstanceFromDBSnapshot" | "ModifyDBInstance"
        ) && call
            .param("ManageMasterUserPassword")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if call.service == "rds" && reply.status == 200 && manages {
            if let Some(id) = call.param("DBInstanceIdentifier") {
                self.managed.insert(id.to_ascii_lowercase());
            }
        }
        false
    }
}

/// RDS refuses to stop a DB instance that has a read replica or that is one; moto stops it.
/// Replicas made through the proxy are remembered with their source until deleted or
/// promoted, and `StopDBInstance` of either side answers `InvalidDBInstanceState`. AWS:
/// "Limitations of stopping your DB instance"
/// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_StopInstance.html#USER_StopInstance.Limitations).
#[derive(Default)]
pub struct StopWithReplicas {
    /// Replica identifier -> its source's identifier.
    sources: HashMap<String, String>,
}

impl Rule for StopWithReplicas {
    fn name(&self) -> &'static str {
        "rds.stop-with-replicas"
    }

    fn before(&mut self, call: &Call, _now: Instant, _clock: Clock) -> Option<Refusal> {
        if call.service != "rds" || call.operation != "StopDBInstance" {
            return None;
        }
        let id = call.param("DBInstanceIdentifier")?.to_ascii_lowercase();
        let message = if self.sources.contains_key(&id) {
            format!("{id} is a read replica and cannot be stopped")
        } else if self.sources.values().any(|s| *s == id) {
            format!("{id} has read replicas and cannot be stopped")
        } else {
            return None;
        };
        Some(Refusal::bad_request(
            self.name(),
            "InvalidDBInstanceState",
            &message,
        ))
    }

    fn after(&mut self, call: &Call, reply: &mut Reply, _now: Instant, _clock: Clock) -> bool {
        if call.service != "rds" || reply.status != 200 {
            return false;
        }
        let Some(id) = call
            .param("DBInstanceIdentifier")
            .map(str::to_ascii_lowercase)
        else {
            return false;
        };
        match call.operation.as_str() {
            "CreateDBInstanceReadReplica" => {
                if let Some(source) = call.param("SourceDBInstanceIdentifier") {
                    // A cross-region source is named by its ARN, ending in `:db:<identifier>`.
                    let source = source.rsplit(':').next().unwrap_or(source);
                    self.sources.insert(id, source.to_ascii_lowercase());
                }
            }
            "PromoteReadReplica" | "DeleteDBInstance" => {
                self.sources.remove(&id);
                self.sources.retain(|_, source| *source != id);
            }
            _ => {}
        }
        false
    }
}
