//! `promote R`: R becomes the primary. The plan fences the old primary, promotes R's
//! replica, points bucket replication from R, moves DNS, and scales R to full size last,
//! in that order.
//!
//! Invariant: the RPO gate runs before any change: a replica lagging beyond the service's
//! RPO, or an unknown lag with the old primary unreachable, refuses the promote unless the
//! user accepts data loss, which the history records. A region without a replica is never
//! promoted (that would make an empty database the primary). Roles change stage by stage
//! through the plan's journal (see `state::Journal`): the old primary becomes `failed` when
//! the fence stage completes, R becomes `primary` when its database promotion completes.

use super::from_backups;
use crate::address::Address;
use crate::config::Role;
use crate::environment::{Environment, PlanOptions};
use crate::plan::{Action, Plan};
use crate::provider::Provider;
use crate::state::{Journal, JournalStage, Operation, Stage, State};
use crate::topology::Kind;
use anyhow::{bail, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct PromoteRequest {
    pub region: String,
    pub assume_down: BTreeSet<String>,
    pub accept_data_loss: bool,
    /// Give up another interrupted promote or rebuild instead of refusing.
    pub abandon_interrupted: bool,
}

/// What the RPO gate measured and decided. Not `Serialize`: the journal's details take
/// `details()`.
#[derive(Debug, Clone)]
pub struct RpoGate {
    /// The largest `ReplicaLag` over R's replicas; `None` when CloudWatch had no datapoint.
    pub lag: Option<Duration>,
    /// A cold standby restored from replicated backups: the age of their latest restorable
    /// time, and that time (RFC 3339).
    pub backup_age: Option<Duration>,
    pub restore_time: Option<String>,
    pub rpo: Duration,
    /// Whether the old primary can be fenced first (it is not assumed down).
    pub fenced_first: bool,
    pub accepted_data_loss: bool,
    /// One line for people.
    pub verdict: String,
}

impl RpoGate {
    /// The gate as the history keeps it: durations as humantime strings, the backup age and
    /// restore time only for a restore from backups.
    pub fn details(&self) -> serde_json::Value {
        let human = |d: Duration| humantime::format_duration(d).to_string();
        let mut m = serde_json::Map::new();
        m.insert("lag".into(), self.lag.map(human).into());
        if let Some(age) = self.backup_age {
            m.insert("backup_age".into(), human(age).into());
        }
        if let Some(t) = &self.restore_time {
            m.insert("restore_time".into(), t.clone().into());
        }
        m.insert("rpo".into(), human(self.rpo).into());
        m.insert("fenced_first".into(), self.fenced_first.into());
        m.insert("accepted_data_loss".into(), self.accepted_data_loss.into());
        m.insert("verdict".into(), self.verdict.clone().into());
        m.into()
    }
}

pub struct PromotePlan {
    /// Carries the journal apply records stage by stage.
    pub plan: Plan,
    pub gate: RpoGate,
    pub old_primary: Option<String>,
    /// This run finishes an interrupted promote of the same region.
    pub resumed: bool,
}

/// Builds the promote plan, after the RPO gate; resumes an interrupted promote of the same
/// region.
pub async fn plan_promote(
    env: &Environment,
    provider: &dyn Provider,
    state: &State,
    req: &PromoteRequest,
) -> Result<PromotePlan> {
    let r = req.region.as_str();
    if env.spec.region(r).is_none() {
        bail!(
            "region {r} is not in the spec: the regions are {}",
            env.spec
                .regions
                .iter()
                .map(|x| x.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if req.assume_down.contains(r) {
        bail!("cannot promote {r} while assuming it is down: drop --assume-down {r}");
    }
    let operation = Operation::Promote { region: r.into() };
    let resumed = super::resuming(state, &operation, req.abandon_interrupted)?;
    let (roles, old_primary, from_backups) = match resumed {
        Some(j) => (
            j.roles.clone(),
            j.details["old_primary"].as_str().map(str::to_string),
            j.details["from_backups"] == true,
        ),
        None => fresh_roles(env, state, req)?,
    };
    let fenced_first = old_primary
        .as_ref()
        .is_some_and(|p| !req.assume_down.contains(p));
    let opts = PlanOptions {
        refresh: true,
        assume_down: req.assume_down.clone(),
        roles: Some(roles.clone()),
        degrade_global: true,
        ..Default::default()
    };
    let mut plan = env.plan(provider, Some(state), &opts).await?;
    if from_backups {
        from_backups::restore_from_backups(&mut plan, r)?;
    }
    refuse_an_empty_primary(&plan, r)?;
    let promoted = resumed.is_some() && already_promoted(&plan, r);
    let gate = if promoted {
        RpoGate {
            lag: None,
            backup_age: None,
            restore_time: None,
            rpo: env.spec.service.rpo,
            fenced_first,
            accepted_data_loss: false,
            verdict: format!(
                "the database in {r} was promoted by the interrupted run: no lag to check"
            ),
        }
    } else if from_backups {
        let rpo = env.spec.service.rpo;
        from_backups::backup_gate(&plan, r, rpo, req.accept_data_loss)?
    } else {
        rpo_gate(env, provider, &roles, r, fenced_first, req.accept_data_loss).await?
    };
    super::explain_resumption(&mut plan, state, resumed.is_some());
    let mut journal = match resumed {
        Some(j) => {
            let mut j = j.clone();
            j.resume_run();
            j
        }
        None => new_journal(env, req, &roles, old_primary.as_deref(), from_backups),
    };
    stage(&mut plan, r, old_primary.as_deref(), &journal);
    if !promoted {
        // The gate that let the database promotion go ahead is the one the history keeps.
        journal.details["gate"] = gate.details();
        journal.details["accept_data_loss"] = req.accept_data_loss.into();
    }
    plan.journal = Some(journal);
    Ok(PromotePlan {
        plan,
        gate,
        old_primary,
        resumed: resumed.is_some(),
    })
}

/// Whether R's databases are all standalone already (an interrupted run promoted them, and
/// maybe was killed before it could record so).
fn already_promoted(plan: &Plan, r: &str) -> bool {
    let mut dbs = plan
        .prior
        .iter()
        .filter(|o| o.kind == Kind::Database && o.region.as_deref() == Some(r))
        .peekable();
    dbs.peek().is_some()
        && dbs.all(|o| !crate::topology::reads::is_replica(&o.attrs))
        && !plan
            .actions
            .iter()
            .any(|a| a.kind() == Kind::Database && a.region() == Some(r))
}

/// The roles after the promote, the old primary, and whether R is a cold standby restored
/// from its replicated backups, from the roles that are true now. A cold standby is promoted
/// so only with every region that could serve as the primary down: a reachable warm standby
/// is the one to promote.
fn fresh_roles(
    env: &Environment,
    state: &State,
    req: &PromoteRequest,
) -> Result<(BTreeMap<String, Role>, Option<String>, bool)> {
    let r = req.region.as_str();
    let mut roles = super::true_roles(env, state);
    let mut from_backups = false;
    match roles.get(r) {
        Some(Role::WarmStandby) => {}
        Some(Role::Primary) => bail!("region {r} is already the primary"),
        Some(Role::ColdStandby) => {
            let up: Vec<&String> = roles
                .iter()
                .filter(|(n, role)| {
                    matches!(role, Role::Primary | Role::WarmStandby)
                        && !req.assume_down.contains(*n)
                })
                .map(|(n, _)| n)
                .collect();
            if let Some(other) = up.first() {
                bail!(
                    "region {r} is a cold standby and has no replica to promote, while {other} is not assumed down: promote a warm standby, or run `standby rebuild {r} --role warm-standby` first; a cold standby is promoted from its replicated backups only with the primary and the warm standbys down (--assume-down each)"
                );
            }
            from_backups = true;
        }
        Some(Role::Failed) | None => {
            bail!("region {r} is failed: run `standby rebuild {r} --role warm-standby` first")
        }
    }
    let old_primary = roles
        .iter()
        .find(|(_, role)| **role == Role::Primary)
        .map(|(n, _)| n.clone());
    if let Some(p) = &old_primary {
        roles.insert(p.clone(), Role::Failed);
    }
    if from_backups {
        for down in from_backups::down_standbys(&roles, &req.assume_down) {
            roles.insert(down, Role::Failed);
        }
    }
    roles.insert(r.to_string(), Role::Primary);
    Ok((roles, old_primary, from_backups))
}

/// A promote whose plan creates or replaces R's database would make an empty database the
/// primary: refused, whatever the lag (`--accept-data-loss` accepts lag, not this).
fn refuse_an_empty_primary(plan: &Plan, r: &str) -> Result<()> {
    let restored = |a: &Action| match a {
        Action::Create { desired } => desired.attrs.contains_key("restore_backup"),
        _ => false,
    };
    let empty = plan.actions.iter().find(|a| {
        a.kind() == Kind::Database
            && a.region() == Some(r)
            && matches!(a, Action::Create { .. } | Action::Replace { .. })
            && !restored(a)
    });
    let Some(a) = empty else { return Ok(()) };
    let why = match a {
        Action::Replace { reason, .. } => {
            format!("its database {} would be replaced ({reason})", a.address())
        }
        _ => format!(
            "{} has no read replica to promote, neither in the state nor in AWS",
            a.address()
        ),
    };
    let identifier = match a {
        Action::Create { desired } | Action::Replace { desired, .. } => desired.name.as_str(),
        _ => "",
    };
    bail!(
        "refusing to promote {r}: {why}, so the new primary would be an empty database \
         (--accept-data-loss accepts replica lag, not an empty database): run \
         `standby rebuild {r} --role warm-standby` first to create the replica, or restore \
         the database into {r} as {identifier} from a named snapshot or a point in time, then \
         promote again"
    )
}

/// The journal of a new promote: its stages and the roles each makes true.
fn new_journal(
    env: &Environment,
    req: &PromoteRequest,
    roles: &BTreeMap<String, Role>,
    old_primary: Option<&str>,
    from_backups: bool,
) -> Journal {
    let r = req.region.as_str();
    let operation = Operation::Promote { region: r.into() };
    let mut resume = format!("standby promote {r}");
    for d in &req.assume_down {
        resume.push_str(&format!(" --assume-down {d}"));
    }
    let fence = match old_primary {
        Some(p) => JournalStage::new(
            Stage::Fence {
                old_primary: Some(p.to_string()),
            },
            BTreeMap::from([(p.to_string(), Role::Failed)]),
        ),
        None => JournalStage::new(Stage::Fence { old_primary: None }, BTreeMap::new()),
    };
    let mut fence = fence;
    // Warm standbys that fail with the old primary (a restore from backups) do so with it.
    for (region, role) in roles {
        if *role == Role::Failed && Some(region.as_str()) != old_primary {
            fence.roles.insert(region.clone(), Role::Failed);
        }
    }
    let stages = vec![
        fence,
        JournalStage::new(
            Stage::PromoteData { region: r.into() },
            BTreeMap::from([(r.to_string(), Role::Primary)]),
        ),
        // Data and traffic before capacity: a scale-up short of capacity or vCPU quota must
        // not hold back replication and DNS (issue 14, point 12).
        JournalStage::new(Stage::Replication { region: r.into() }, BTreeMap::new()),
        JournalStage::new(Stage::Traffic { region: r.into() }, BTreeMap::new()),
        JournalStage::new(Stage::Scale { region: r.into() }, BTreeMap::new()),
    ];
    let mut journal = Journal::new(operation, &resume, stages, roles.clone());
    journal.details = serde_json::json!({
        "region": r,
        "old_primary": old_primary,
        "assume_down": req.assume_down,
        "rto": humantime::format_duration(env.spec.service.rto).to_string(),
        "from_backups": from_backups,
    });
    journal
}

async fn rpo_gate(
    env: &Environment,
    provider: &dyn Provider,
    roles: &BTreeMap<String, Role>,
    region: &str,
    fenced_first: bool,
    accept_data_loss: bool,
) -> Result<RpoGate> {
    let rpo = env.spec.service.rpo;
    let replicas: Vec<String> = env
        .desired(roles)?
        .into_iter()
        .filter(|d| d.kind == Kind::Database && d.region.as_deref() == Some(region))
        .map(|d| d.name)
        .collect();
    let mut lag: Option<Duration> = None;
    let mut unknown = false;
    for id in &replicas {
        match provider.replica_lag(region, id).await? {
            Some(l) => lag = Some(lag.map_or(l, |m: Duration| m.max(l))),
            None => unknown = true,
        }
    }
    let show = |d: Duration| humantime::format_duration(d).to_string();
    let (pass, verdict) = match lag {
        _ if replicas.is_empty() => (true, "no database to promote: nothing to lose".to_string()),
        Some(l) if l > rpo => (
            false,
            format!("replica lag {} in {region} exceeds the rpo of {}", show(l), show(rpo)),
        ),
        Some(l) if !unknown => (true, format!("replica lag {} in {region} is within the rpo of {}", show(l), show(rpo))),
        _ if fenced_first => (
            true,
            format!(
                "replica lag in {region} is unknown (no ReplicaLag datapoint); the old primary is fenced first, rpo {}",
                show(rpo)
            ),
        ),
        _ => (
            false,
            format!(
                "replica lag in {region} is unknown (no ReplicaLag datapoint) and the old primary cannot be fenced first, rpo {}",
                show(rpo)
            ),
        ),
    };
    if !pass && !accept_data_loss {
        bail!("refusing to promote {region}: {verdict}; pass --accept-data-loss to promote anyway");
    }
    Ok(RpoGate {
        lag,
        backup_age: None,
        restore_time: None,
        rpo,
        fenced_first,
        accepted_data_loss: !pass && accept_data_loss,
        verdict: if pass {
            verdict
        } else {
            format!("{verdict}; data loss accepted")
        },
    })
}

/// Orders the plan by the journal's stages: fence, promote the database, bucket
/// replication, DNS (with the load balancers it points at), then the Auto Scaling groups'
/// scale-up last, so that a group short of capacity stops nothing else. A journal left by an
/// earlier build keeps its own order. Route 53 changes are best effort: its control plane
/// may be impaired with us-east-1 down, and the health-checked failover records fail over
/// by themselves.
fn stage(plan: &mut Plan, region: &str, old_primary: Option<&str>, journal: &Journal) {
    let index = |wanted: fn(&Stage) -> bool| {
        journal
            .stages
            .iter()
            .position(|s| wanted(&s.name))
            .unwrap_or(journal.stages.len()) as u32
    };
    let fence = index(|s| matches!(s, Stage::Fence { .. }));
    let data = index(|s| matches!(s, Stage::PromoteData { .. }));
    let replication = index(|s| matches!(s, Stage::Replication { .. }));
    let traffic = index(|s| matches!(s, Stage::Traffic { .. }));
    let scale = index(|s| matches!(s, Stage::Scale { .. }));
    let mut stages: BTreeMap<Address, u32> = BTreeMap::new();
    for a in &plan.actions {
        let global_dns = matches!(
            a.kind(),
            Kind::Record | Kind::HealthCheck | Kind::HostedZone
        );
        let in_old = old_primary
            .is_some_and(|p| a.region() == Some(p) || a.address().served_region() == Some(p));
        let stage = match a {
            Action::Delete { .. } if in_old => fence,
            // RDS stops the old primary's database only once no replica follows it, and
            // waiting for that must not hold the traffic back: last.
            _ if a.fences() && in_old => scale,
            // A failed region that answers again is fenced first.
            _ if a.fences() => fence,
            _ if a.kind() == Kind::Database && a.region() == Some(region) => data,
            _ if matches!(
                a.kind(),
                Kind::BucketReplication | Kind::ReplicationRole | Kind::BackupReplication
            ) =>
            {
                replication
            }
            _ if a.kind() == Kind::AutoScalingGroup => scale,
            _ => traffic,
        };
        stages.insert(a.address().clone(), stage);
        if global_dns {
            plan.best_effort.insert(a.address().clone());
        }
    }
    plan.stages = stages;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_from_backups_keeps_its_age_and_time_in_the_details() {
        let gate = RpoGate {
            lag: None,
            backup_age: Some(Duration::from_secs(90)),
            restore_time: Some("2026-01-01T00:00:00Z".into()),
            rpo: Duration::from_secs(300),
            fenced_first: false,
            accepted_data_loss: true,
            verdict: "v".into(),
        };
        assert_eq!(
            gate.details().to_string(),
            r#"{"lag":null,"backup_age":"1m 30s","restore_time":"2026-01-01T00:00:00Z","rpo":"5m","fenced_first":false,"accepted_data_loss":true,"verdict":"v"}"#
        );
    }
}
