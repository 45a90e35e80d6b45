//! The recovery-time estimate of a DR plan: its critical path (the longest action of each
//! stage, stages running one after the other), each action timed from this environment's
//! history when it recorded one of the same kind, else from a documented default.

use crate::plan::{Action, ChangeReason, Plan};
use crate::provider::aws::{FAILURE_THRESHOLD, REQUEST_INTERVAL};
use crate::state::State;
use crate::topology::Kind;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// The estimate, shown with every promote plan (not `Serialize`: `report::plan` converts it).
#[derive(Debug, Clone)]
pub struct Estimate {
    /// One action per stage: the one that takes longest.
    pub critical_path: Vec<EstimatedStep>,
    pub total: Duration,
    pub rto: Duration,
}

#[derive(Debug, Clone)]
pub struct EstimatedStep {
    pub stage: u32,
    /// `update aws_db.orders.us-west-2`: the step's name in the history.
    pub step: String,
    pub duration: Duration,
    pub basis: Basis,
}

/// Where an action's duration comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The latest step of the same verb and kind in this environment's history.
    Recorded,
    /// RDS: "the promotion process can take several minutes or longer"
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Promote.html).
    DatabasePromote,
    /// EC2: a launched instance is `pending`, then `running`
    /// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-lifecycle.html).
    InstanceLaunch,
    /// Route 53: a record's TTL plus the health check's failure threshold times its request
    /// interval (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html).
    DnsFailover,
    /// Any other API change: one call and its wait.
    ApiCall,
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Basis::Recorded => "recorded",
            Basis::DatabasePromote => "default: rds promote",
            Basis::InstanceLaunch => "default: instance launch to running",
            Basis::DnsFailover => "default: dns ttl + health check threshold x interval",
            Basis::ApiCall => "default: api call",
        })
    }
}

impl Estimate {
    /// The estimate of `plan`, from the durations `state`'s history recorded.
    pub fn of(plan: &Plan, state: &State, rto: Duration) -> Estimate {
        let recorded = recorded(state);
        let mut longest: BTreeMap<u32, EstimatedStep> = BTreeMap::new();
        // A promote stops the old primary's database after the traffic moved: no part of
        // the recovery.
        let stop = Some(&ChangeReason::FenceStop);
        for a in plan.actions.iter().filter(|a| a.reason() != stop) {
            let stage = plan.stages.get(a.address()).copied().unwrap_or(0);
            let (duration, basis) = match recorded.get(&(a.verb(), a.kind())) {
                Some(d) => (*d, Basis::Recorded),
                None => default_for(a),
            };
            let step = EstimatedStep {
                stage,
                step: format!("{} {}", a.verb(), a.address()),
                duration,
                basis,
            };
            match longest.get(&stage) {
                Some(l) if l.duration >= duration => {}
                _ => {
                    longest.insert(stage, step);
                }
            }
        }
        let critical_path: Vec<EstimatedStep> = longest.into_values().collect();
        let total = critical_path.iter().map(|s| s.duration).sum();
        Estimate {
            critical_path,
            total,
            rto,
        }
    }

    pub fn exceeds_rto(&self) -> bool {
        self.total > self.rto
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "estimated recovery {} (rto {})",
            minutes(self.total),
            minutes(self.rto)
        )?;
        if self.exceeds_rto() {
            f.write_str(": exceeds the rto")?;
        }
        writeln!(f)?;
        for s in &self.critical_path {
            writeln!(
                f,
                "  stage {}: {} {} ({})",
                s.stage + 1,
                s.step,
                humantime::format_duration(s.duration),
                s.basis
            )?;
        }
        Ok(())
    }
}

/// Rounded up to the minute, as people plan an RTO: `14m`.
fn minutes(d: Duration) -> String {
    let m = (d.as_millis() as u64).div_ceil(60_000);
    humantime::format_duration(Duration::from_secs(m * 60)).to_string()
}

/// The latest recorded duration of each (verb, kind) that completed, over every history
/// entry and the journal of a run under way; steps name `verb address`.
fn recorded(state: &State) -> BTreeMap<(&'static str, Kind), Duration> {
    let kinds: BTreeMap<&str, Kind> = state
        .resources()
        .iter()
        .map(|o| (o.address.as_str(), o.kind))
        .collect();
    let mut out = BTreeMap::new();
    for step in state.history().iter().flat_map(|h| &h.steps) {
        let Some((verb, address)) = step.name.rsplit_once(' ') else {
            continue;
        };
        let (Some(kind), Some(verb)) = (kinds.get(address), action_verb(verb)) else {
            continue;
        };
        if step.outcome == crate::state::StepOutcome::Done {
            out.insert((verb, *kind), Duration::from_millis(step.duration_ms));
        }
    }
    out
}

/// A step's verb as the action's (`delete (replace)` is part of a replace).
fn action_verb(verb: &str) -> Option<&'static str> {
    Some(match verb {
        "create" => "create",
        "update" => "update",
        "delete" => "delete",
        "delete (replace)" | "create (replace)" => "replace",
        _ => return None,
    })
}

fn default_for(a: &Action) -> (Duration, Basis) {
    match a.kind() {
        Kind::Database => (Duration::from_secs(10 * 60), Basis::DatabasePromote),
        Kind::Instance | Kind::AutoScalingGroup => {
            (Duration::from_secs(2 * 60), Basis::InstanceLaunch)
        }
        Kind::Record => {
            let attrs = match a {
                Action::Create { desired }
                | Action::Update { desired, .. }
                | Action::Replace { desired, .. } => &desired.attrs,
                Action::Delete { current, .. } => &current.attrs,
            };
            let ttl = crate::topology::reads::ttl_seconds(attrs);
            let detect = (FAILURE_THRESHOLD * REQUEST_INTERVAL) as u64;
            (Duration::from_secs(ttl + detect), Basis::DnsFailover)
        }
        _ => (Duration::from_secs(30), Basis::ApiCall),
    }
}
