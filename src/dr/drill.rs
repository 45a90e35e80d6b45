//! `drill R`: stand an isolated copy of the stack up in R under a drill id, check it,
//! measure the time to ready against the RTO, tear it down, and report.
//!
//! Invariant: production is only read (a fresh snapshot of its primary database is the one
//! thing made from it, and it belongs to the drill); the drill's resources live in their own
//! state file `state/<env>.drill-<id>.json` until they are gone, so teardown happens after
//! success, failure, error or Ctrl-C, and `drill --cleanup` finds what an interrupted drill
//! left.

mod ready;

use ready::check_ready;

use crate::address::Address;
use crate::apply::{apply, ApplyEvent, ApplyOptions, ApplyReport};
use crate::config::Role;
use crate::environment::Environment;
use crate::plan::{diff, Action, DiffOptions, Plan};
use crate::provider::{Observed, Provider};
use crate::state::{history_now, StateStore};
use crate::topology::{drill_environment, expand_drill, Desired, Kind};
use anyhow::{anyhow, bail, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

pub struct DrillRequest {
    pub region: String,
    /// Leave everything up for inspection; the report says how to remove it.
    pub keep: bool,
    pub parallelism: usize,
}

/// One timed step of the drill, for the timeline.
#[derive(Debug, Clone)]
pub struct DrillStep {
    pub name: String,
    /// RFC 3339.
    pub started_at: String,
    /// Seconds since the drill started.
    pub offset_s: f64,
    pub duration_s: f64,
    pub outcome: DrillStepOutcome,
    pub detail: String,
}

/// The report of one drill, written as JSON (`report::drill`'s document; this is not
/// `Serialize`) and Markdown.
#[derive(Debug, Clone)]
pub struct DrillReport {
    pub id: String,
    pub environment: String,
    pub service: String,
    pub region: String,
    pub started_at: String,
    pub rto_s: f64,
    /// Start to ready, when the drill got ready.
    pub recovery_time_s: Option<f64>,
    pub verdict: DrillVerdict,
    pub steps: Vec<DrillStep>,
    /// Every address the drill created.
    pub created: Vec<String>,
    /// Whether everything it created is gone.
    pub removed: bool,
    /// What is still up (after `--keep` or a failed teardown).
    pub left: Vec<String>,
    /// How to remove what is left.
    pub cleanup: Option<String>,
    pub error: Option<String>,
}

/// How one step of a drill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrillStepOutcome {
    Ok,
    Failed,
}

/// How a drill went against the RTO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrillVerdict {
    /// Ready within the RTO.
    Met,
    /// Ready, but slower than the RTO.
    Missed,
    /// Never ready.
    Failed,
}

impl DrillReport {
    pub fn succeeded(&self) -> bool {
        self.verdict == DrillVerdict::Met && self.error.is_none()
    }
}

/// Where drill `id` of `env` keeps its state.
pub fn drill_state_path(env: &Environment, id: &str) -> PathBuf {
    StateStore::path_for(
        &env.spec.env_dir,
        &format!("{}.drill-{id}", env.spec.environment),
    )
}

struct Clock {
    start: Instant,
    steps: Vec<DrillStep>,
}

impl Clock {
    fn step(&mut self, name: &str, started: Instant, started_at: String, ok: bool, detail: String) {
        self.steps.push(DrillStep {
            name: name.to_string(),
            started_at,
            offset_s: (started - self.start).as_secs_f64(),
            duration_s: started.elapsed().as_secs_f64(),
            outcome: if ok {
                DrillStepOutcome::Ok
            } else {
                DrillStepOutcome::Failed
            },
            detail,
        });
    }
}

/// A drill ready to run: its id and the plan that stands it up, to show before asking.
pub struct PreparedDrill {
    pub id: String,
    pub primary: String,
    pub desired: Vec<Desired>,
    pub plan: Plan,
}

/// Picks the drill's id and plans its stand-up; nothing is created yet.
pub async fn prepare_drill(env: &Environment, region: &str) -> Result<PreparedDrill> {
    let state = env.read_state().await?;
    let roles = env.roles(state.as_ref());
    let primary = roles
        .iter()
        .find(|(_, r)| **r == Role::Primary)
        .map(|(n, _)| n.clone())
        .ok_or_else(|| anyhow!("there is no primary to drill from"))?;
    if env.spec.region(region).is_none() {
        bail!("region {region} is not in the spec");
    }
    let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let desired = expand_drill(
        &env.spec,
        region,
        &primary,
        &id,
        replicated_backups(env, state.as_ref(), &roles, region),
    )?;
    let plan = drill_plan(env, &id, &desired, Vec::new(), false);
    Ok(PreparedDrill {
        id,
        primary,
        desired,
        plan,
    })
}

/// Whether `region` is a cold standby holding restorable replicated backups of every
/// database (the state read a latest restorable time: a replication still `pending` has
/// none): its drill restores from them.
fn replicated_backups(
    env: &Environment,
    state: Option<&crate::state::State>,
    roles: &BTreeMap<String, Role>,
    region: &str,
) -> bool {
    let held = |db: &crate::config::Component<crate::config::DatabaseSettings>| {
        let backups = db.name.address(Some(region), "database").child("backups");
        state
            .and_then(|s| s.get(&backups))
            .is_some_and(|o| o.computed.contains_key("latest_restorable"))
    };
    roles.get(region) == Some(&Role::ColdStandby)
        && !env.spec.databases.is_empty()
        && env.spec.databases.iter().all(held)
}

/// Runs a whole drill. Errors after the stand-up began end up in the report, not in `Err`:
/// the teardown and the report happen whatever went wrong.
pub async fn run_drill(
    env: &Environment,
    provider: Arc<dyn Provider>,
    req: &DrillRequest,
    prepared: PreparedDrill,
    events: mpsc::UnboundedSender<ApplyEvent>,
    cancel: watch::Receiver<bool>,
) -> Result<DrillReport> {
    let PreparedDrill {
        id,
        primary,
        desired,
        plan,
    } = prepared;
    // The drill region's image and zones, before anything is created.
    let no_region_down = std::collections::BTreeSet::new();
    crate::environment::check_placement(&*provider, &plan, &desired, &no_region_down).await?;
    let path = drill_state_path(env, &id);
    let environment = drill_environment(&env.spec, &id);
    let mut store = StateStore::open(&path, &environment, &format!("drill {}", req.region))?;
    let mut clock = Clock {
        start: Instant::now(),
        steps: Vec::new(),
    };
    let started_at = history_now();

    let mut error: Option<String> = None;
    let mut ready_after: Option<Duration> = None;

    // Stand up.
    let t = Instant::now();
    let at = history_now();
    let opts = ApplyOptions {
        parallelism: req.parallelism,
        cancel: cancel.clone(),
        events: events.clone(),
    };
    match apply(&plan, provider.clone(), &mut store, opts).await {
        Ok(report) => {
            let ok = report.succeeded();
            clock.step("stand up", t, at, ok, summary(&report));
            if !ok {
                error = Some(failure_text(&report, "stand-up"));
            }
        }
        Err(e) => {
            clock.step("stand up", t, at, false, format!("{e:#}"));
            error = Some(format!("{e:#}"));
        }
    }

    // Readiness checks, only when everything stood up.
    if error.is_none() {
        match check_ready(
            env,
            &*provider,
            &id,
            &req.region,
            &primary,
            &desired,
            &mut clock,
        )
        .await
        {
            Ok(()) => ready_after = Some(clock.start.elapsed()),
            Err(e) => error = Some(format!("{e:#}")),
        }
    }

    // Teardown, whatever happened (Ctrl-C included: it gets a cancel of its own).
    // The state holds every resource the stand-up completed (it is sorted by address).
    let created = held(&store);
    let (removed, left, cleanup) = if req.keep {
        (
            false,
            created.clone(),
            Some(format!(
                "standby drill --cleanup {}",
                env.spec.env_dir.display()
            )),
        )
    } else {
        let t = Instant::now();
        let at = history_now();
        let (_never, no_cancel) = watch::channel(false);
        let result = teardown(
            env,
            provider.clone(),
            &mut store,
            &id,
            req.parallelism,
            events.clone(),
            no_cancel,
        )
        .await;
        let left = held(&store);
        match result {
            Ok(report) => clock.step(
                "tear down",
                t,
                at,
                report.succeeded() && left.is_empty(),
                summary(&report),
            ),
            Err(e) => {
                clock.step("tear down", t, at, false, format!("{e:#}"));
                error.get_or_insert_with(|| format!("teardown: {e:#}"));
            }
        }
        let gone = left.is_empty();
        if gone {
            drop(store);
            remove_state_files(&path);
        } else {
            store.release().await.ok();
        }
        let cleanup =
            (!gone).then(|| format!("standby drill --cleanup {}", env.spec.env_dir.display()));
        (gone, left, cleanup)
    };

    let rto = env.spec.service.rto;
    let verdict = match ready_after {
        Some(t) if error.is_none() && t <= rto => DrillVerdict::Met,
        Some(_) if error.is_none() => DrillVerdict::Missed,
        _ => DrillVerdict::Failed,
    };
    Ok(DrillReport {
        id,
        environment: env.spec.environment.clone(),
        service: env.spec.service.name.clone(),
        region: req.region.clone(),
        started_at,
        rto_s: rto.as_secs_f64(),
        recovery_time_s: ready_after.map(|d| d.as_secs_f64()),
        verdict,
        steps: clock.steps,
        created,
        removed,
        left,
        cleanup,
        error,
    })
}

/// Removes what interrupted or kept drills of `env` left, one drill state at a time.
/// Returns the drill ids cleaned up.
pub async fn cleanup_drills(
    env: &Environment,
    provider: Arc<dyn Provider>,
    parallelism: usize,
    events: mpsc::UnboundedSender<ApplyEvent>,
) -> Result<Vec<String>> {
    let dir = env
        .state_path
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let prefix = format!("{}.drill-", env.spec.environment);
    let mut cleaned = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(_) => return Ok(cleaned),
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter_map(|n| {
            n.strip_prefix(&prefix)
                .and_then(|r| r.strip_suffix(".json"))
                .map(str::to_string)
        })
        .collect();
    ids.sort();
    for id in ids {
        let path = drill_state_path(env, &id);
        let mut store =
            StateStore::open(&path, &drill_environment(&env.spec, &id), "drill cleanup")?;
        let (_never, cancel) = watch::channel(false);
        let report = teardown(
            env,
            provider.clone(),
            &mut store,
            &id,
            parallelism,
            events.clone(),
            cancel,
        )
        .await?;
        if !report.succeeded() || !store.state().resources().is_empty() {
            bail!(
                "drill {id}: {} resources could not be removed: {}",
                store.state().resources().len(),
                failure_text(&report, "cleanup")
            );
        }
        drop(store);
        remove_state_files(&path);
        cleaned.push(id);
    }
    Ok(cleaned)
}

/// The addresses a drill's state holds (sorted).
fn held(store: &StateStore) -> Vec<String> {
    let resources = store.state().resources();
    resources.iter().map(|r| r.address.to_string()).collect()
}

fn remove_state_files(path: &std::path::Path) {
    for p in [
        path.to_path_buf(),
        path.with_extension("json.backup"),
        path.with_extension("json.lock"),
    ] {
        let _ = std::fs::remove_file(p);
    }
}

/// A plan over the drill's own state: create what is desired, or (teardown) delete all of
/// it except hosted zones, which belong to production.
fn drill_plan(
    env: &Environment,
    id: &str,
    desired: &[Desired],
    prior: Vec<Observed>,
    destroy: bool,
) -> Plan {
    let opts = DiffOptions {
        destroy,
        ..Default::default()
    };
    let actions: Vec<Action> = diff(desired, &prior, &opts)
        .into_iter()
        .filter(|a| !(destroy && a.kind() == Kind::HostedZone))
        .collect();
    Plan {
        environment: drill_environment(&env.spec, id),
        env_dir: env.spec.env_dir.clone(),
        backend: None,
        state_lineage: None,
        state_serial: 0,
        roles: BTreeMap::new(),
        prior,
        actions,
        targets: Vec::new(),
        notes: Vec::new(),
        blocked: Vec::new(),
        stages: BTreeMap::new(),
        best_effort: BTreeSet::new(),
        journal: None,
        details: serde_json::Value::Null,
        split_brain: Vec::new(),
        outputs: BTreeMap::new(),
    }
}

async fn teardown(
    env: &Environment,
    provider: Arc<dyn Provider>,
    store: &mut StateStore,
    id: &str,
    parallelism: usize,
    events: mpsc::UnboundedSender<ApplyEvent>,
    cancel: watch::Receiver<bool>,
) -> Result<ApplyReport> {
    let prior = store.state().resources().to_vec();
    let plan = drill_plan(env, id, &[], prior, true);
    let report = apply(
        &plan,
        provider,
        store,
        ApplyOptions {
            parallelism,
            cancel,
            events,
        },
    )
    .await?;
    // Hosted zones were only ever adopted: forget them without deleting.
    let zones: Vec<Address> = store
        .state()
        .resources()
        .iter()
        .filter(|r| r.kind == Kind::HostedZone)
        .map(|r| r.address.clone())
        .collect();
    for z in zones {
        store.state_mut().remove(&z);
    }
    store.save().await?;
    Ok(report)
}

fn summary(r: &ApplyReport) -> String {
    format!(
        "{} of {} steps done, {} failed",
        r.completed,
        r.total,
        r.failures.len()
    )
}

fn failure_text(r: &ApplyReport, what: &str) -> String {
    if r.failures.is_empty() && r.cancelled {
        return format!("{what} interrupted");
    }
    r.failures
        .iter()
        .map(|f| format!("{}: {}", f.address, f.error))
        .collect::<Vec<_>>()
        .join("; ")
}
