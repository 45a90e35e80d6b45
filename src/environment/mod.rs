//! An environment: a loaded spec, where its state lives, and the plans made for it.
//!
//! Invariant: planning reads AWS (one batched refresh) and the state, and writes neither.

mod explain;
mod global;
mod placement;
mod reconcile;
mod unreached;

pub use explain::{check_plan_is_current, protected_deletions};
use explain::{
    check_replace, check_targets, explain_role_changes, explain_zone_deletions, new_bucket_names,
    password_migrations,
};
pub use global::Unread;
pub use placement::check_placement;
use reconcile::recorded_names;
pub use reconcile::{leave_shared, reconcile};
pub use unreached::Unreached;

use crate::address::Address;
use crate::config::{self, Diagnostics, Role, Spec, VarInputs};
use crate::plan::{diff, Action, DiffOptions, Plan};
use crate::provider::{GlobalRead, KnownResource, Observed, Provider, Scope};
use crate::state::check::{self, Expected};
use crate::state::{Backend, Failover, S3Location, State, StateStore};
use crate::topology::{self, Desired};
use anyhow::{bail, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct Environment {
    pub spec: Spec,
    /// The local state file (with the local backend; beside it, the backend record).
    pub state_path: PathBuf,
    /// How long to wait for a held lock (`--lock-timeout`); `None` fails at once.
    pub lock_timeout: Option<Duration>,
    /// When the state may be read, locked and written in the backend's replica alone
    /// (promote and rebuild, with their `--assume-down` regions; apply).
    pub state_failover: Failover,
}

#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Read live AWS first (the default); with false the state is taken as the truth.
    pub refresh: bool,
    pub targets: Vec<Address>,
    /// `--replace`: resources to replace even when nothing changed.
    pub replace: Vec<Address>,
    /// Plan to delete everything (`standby destroy`, `plan --destroy`).
    pub destroy: bool,
    /// Regions not to call at all (`--assume-down`): not refreshed, nothing changed there;
    /// the state's last-known view of them stands in.
    pub assume_down: BTreeSet<String>,
    /// Roles to plan for instead of the state's (promote and rebuild set these).
    pub roles: Option<BTreeMap<String, Role>>,
    /// A Route 53 or IAM read that fails leaves the state's view of its resources in place
    /// instead of failing the plan (promote and rebuild, which must work in an outage).
    pub degrade_global: bool,
}

/// What a refresh leaves out or adds to the plain read of the environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions<'a> {
    /// Regions not read at all: the state's view of them stands.
    pub assume_down: Option<&'a BTreeSet<String>>,
    /// Global control planes that fail fall back to the state (promote and rebuild).
    pub degrade_global: bool,
    /// Also resources that carry the environment's tags but no address (drift).
    pub unmanaged: bool,
}

/// What a refresh found, and what it could not read.
#[derive(Debug, Default)]
pub struct Refreshed {
    pub live: Vec<Observed>,
    /// Global control planes that could not be read (with `degrade_global`).
    pub unread: Vec<Unread>,
    /// Failed regions that could not be read: their state view is in `live`.
    pub unreached: Vec<Unreached>,
}

impl Environment {
    /// Loads the spec in `env_dir`; spec problems come back as diagnostics.
    pub fn load(env_dir: &Path, vars: &VarInputs) -> Result<Environment, Diagnostics> {
        let spec = config::load(env_dir, vars)?;
        let state_path = StateStore::path_for(&spec.env_dir, &spec.environment);
        Ok(Environment {
            spec,
            state_path,
            lock_timeout: None,
            state_failover: Failover::Never,
        })
    }

    /// Where the spec says the state lives: the `backend "s3"` block, or the local file.
    pub fn backend(&self) -> Backend {
        match &self.spec.backend {
            Some(b) => Backend::S3(S3Location::from(b)),
            None => Backend::Local {
                path: self.state_path.clone(),
            },
        }
    }

    /// Refuses when the state is somewhere else than the spec's backend (the backend block
    /// was added, changed or removed): `standby init --migrate-state` moves it.
    pub fn check_backend(&self) -> Result<()> {
        let wanted = self.backend();
        let recorded = crate::state::recorded_backend(&self.state_path)?;
        let current = match recorded {
            Some(r) => r,
            // A fresh checkout with a remote backend has no record and no local file.
            None if matches!(wanted, Backend::S3(_)) && !self.state_path.exists() => return Ok(()),
            None => Backend::Local {
                path: self.state_path.clone(),
            },
        };
        if current.same_place(&wanted) {
            return Ok(());
        }
        bail!(
            "the state of environment {} is in {current}, but the spec's backend is {wanted}: \
             run `standby init --migrate-state` to copy it over (or restore the backend block as it was)",
            self.spec.environment
        )
    }

    /// What this environment's state must match; `lineage` as the backend last recorded it.
    pub fn expected(&self, lineage: Option<String>) -> Expected<'_> {
        Expected {
            location: self.backend().to_string(),
            service: &self.spec.service.name,
            environment: &self.spec.environment,
            regions: self.spec.regions.iter().map(|r| r.name.as_str()).collect(),
            lineage,
        }
    }

    /// Refuses a state that is another environment's or does not hold together.
    fn check_loaded(&self, state: &State) -> Result<()> {
        let lineage = crate::state::recorded_lineage(&self.state_path)?;
        check::loaded(state, &self.expected(lineage))
    }

    /// Reads the state through the backend, without locking it, and checks it is this
    /// environment's and holds together.
    pub async fn read_state(&self) -> Result<Option<State>> {
        self.check_backend()?;
        let state = self.backend().read().await?;
        if let Some(s) = &state {
            self.check_loaded(s)?;
        }
        Ok(state)
    }

    /// Reads the state, or with `replica` its replica, as it is, without checking or
    /// reconciling it (`state pull`, which shows a refused state).
    pub async fn read_state_as_is(&self, replica: bool) -> Result<Option<State>> {
        self.check_backend()?;
        self.backend().read_copy(replica).await
    }

    /// Locks the state through the backend for `operation`, loads it and checks it is this
    /// environment's and holds together; a refused state is released at once.
    pub async fn open_state(&self, operation: &str) -> Result<StateStore> {
        let mut store = self.open_backend(operation, false).await?;
        if store.exists() {
            if let Err(e) = self.check_loaded(store.state()) {
                let _ = store.release().await;
                return Err(e);
            }
            crate::state::record_lineage(&self.state_path, &store.state().lineage)?;
        }
        // States written before standby recorded the service get it on their next write.
        if store.state().service.is_empty() {
            store.state_mut().service = self.spec.service.name.clone();
        }
        Ok(store)
    }

    /// Locks and loads the state without checking it (`state push`, which replaces it, also
    /// over a replica that diverged).
    pub async fn open_state_as_is(&self, operation: &str) -> Result<StateStore> {
        self.open_backend(operation, true).await
    }

    async fn open_backend(&self, operation: &str, overwrite_diverged: bool) -> Result<StateStore> {
        self.check_backend()?;
        let backend = self.backend();
        if matches!(backend, Backend::S3(_)) {
            // Remembered so that removing the backend block later cannot silently start
            // a new local state.
            crate::state::record_backend(&self.state_path, &backend)?;
        }
        let opts = crate::state::OpenOptions {
            lock_timeout: self.lock_timeout,
            failover: self.state_failover.clone(),
            overwrite_diverged,
        };
        backend.open(&self.spec.environment, operation, &opts).await
    }

    /// Every region's role, the state's taking precedence over the spec's (and those an
    /// interrupted promote or rebuild leads to over the state's).
    pub fn roles(&self, state: Option<&State>) -> BTreeMap<String, Role> {
        let planned = state.map(State::planned_roles).unwrap_or_default();
        topology::effective_roles(&self.spec, &planned)
    }

    pub fn desired(&self, roles: &BTreeMap<String, Role>) -> Result<Vec<Desired>> {
        topology::expand(&self.spec, roles)
    }

    /// The desired resources with the names the state's resources were created with (names
    /// are fixed at creation, so a component renamed after `state mv` replaces nothing), and
    /// no two of them named alike.
    pub fn desired_in(
        &self,
        roles: &BTreeMap<String, Role>,
        state: Option<&State>,
    ) -> Result<Vec<Desired>> {
        let mut desired = self.desired(roles)?;
        let recorded = state.map(recorded_names).unwrap_or_default();
        topology::pin_names(&mut desired, &recorded);
        topology::check_unique_names(&desired, &recorded)?;
        Ok(desired)
    }

    /// The refresh scope: the spec's and the state's regions, and every known name.
    pub fn scope(&self, state: Option<&State>, desired: &[Desired]) -> Scope {
        let mut regions: BTreeSet<String> =
            self.spec.regions.iter().map(|r| r.name.clone()).collect();
        let mut known: Vec<KnownResource> = desired
            .iter()
            .map(|d| KnownResource {
                address: d.address.clone(),
                kind: d.kind,
                region: d.region.clone(),
                name: d.name.clone(),
            })
            .collect();
        if let Some(state) = state {
            for r in state.resources() {
                if let Some(region) = &r.region {
                    regions.insert(region.clone());
                }
                known.push(KnownResource {
                    address: r.address.clone(),
                    kind: r.kind,
                    region: r.region.clone(),
                    name: r.id.clone(),
                });
            }
        }
        Scope {
            service: self.spec.service.name.clone(),
            environment: self.spec.environment.clone(),
            regions,
            global: GlobalRead::all(),
            known,
            include_unmanaged: false,
        }
    }

    /// Reads live AWS, keeping what only the state knows (dependencies) for what it finds;
    /// with `degrade_global`, also the global control planes that could not be read. The
    /// regions failed both in the state and in `roles` are read on their own: one that
    /// cannot be read keeps its state view (`Refreshed::unreached`).
    pub async fn refresh(
        &self,
        provider: &dyn Provider,
        state: Option<&State>,
        desired: &[Desired],
        roles: &BTreeMap<String, Role>,
        read: ReadOptions<'_>,
    ) -> Result<Refreshed> {
        let none = BTreeSet::new();
        let (assume_down, degrade_global) =
            (read.assume_down.unwrap_or(&none), read.degrade_global);
        let mut scope = self.scope(state, desired);
        scope.include_unmanaged = read.unmanaged;
        scope.regions.retain(|r| !assume_down.contains(r));
        let held = self.held_roles(state);
        let failed: BTreeSet<String> = unreached::still_failed(&held, roles)
            .intersection(&scope.regions)
            .cloned()
            .collect();
        scope.regions.retain(|r| !failed.contains(r));
        let rest = async {
            if degrade_global {
                global::refresh_degrading(provider, &scope, state).await
            } else {
                Ok((provider.refresh(&scope).await?, Vec::new()))
            }
        };
        let (rest, (failed_live, unreached)) =
            futures::join!(rest, unreached::read_failed(provider, &scope, &failed));
        let (mut live, unread) = rest?;
        live.extend(failed_live);
        reconcile(&mut live, state, desired);
        let kept: BTreeSet<&String> = assume_down
            .iter()
            .chain(unreached.iter().map(|u| &u.region))
            .collect();
        if let Some(state) = state {
            // Regions assumed down or unreached are not read: the state's view stands.
            live.extend(
                state
                    .resources()
                    .iter()
                    .filter(|r| r.region.as_ref().is_some_and(|r| kept.contains(r)))
                    .cloned(),
            );
        }
        live.sort_by(|a, b| a.address.cmp(&b.address));
        Ok(Refreshed {
            live,
            unread,
            unreached,
        })
    }

    /// The roles the state holds (an interrupted operation's may run ahead of them).
    fn held_roles(&self, state: Option<&State>) -> BTreeMap<String, Role> {
        let held = state.map(|s| s.roles.clone()).unwrap_or_default();
        topology::effective_roles(&self.spec, &held)
    }

    /// Makes the plan that converges AWS to the spec (or, with `destroy`, empties it).
    pub async fn plan(
        &self,
        provider: &dyn Provider,
        state: Option<&State>,
        opts: &PlanOptions,
    ) -> Result<Plan> {
        let roles = opts.roles.clone().unwrap_or_else(|| self.roles(state));
        let desired = self.desired_in(&roles, state)?;
        let read = if opts.refresh {
            self.refresh(
                provider,
                state,
                &desired,
                &roles,
                ReadOptions {
                    assume_down: Some(&opts.assume_down),
                    degrade_global: opts.degrade_global,
                    unmanaged: false,
                },
            )
            .await?
        } else {
            Refreshed {
                live: state.map(|s| s.resources().to_vec()).unwrap_or_default(),
                ..Refreshed::default()
            }
        };
        let unreached: BTreeSet<String> = read.unreached.iter().map(|u| u.region.clone()).collect();
        let mut plan = self.plan_against(state, roles, &desired, read.live, opts, &unreached)?;
        plan.notes.extend(read.unread.iter().map(Unread::note));
        plan.notes
            .extend(read.unreached.iter().map(Unreached::note));
        if opts.refresh {
            // Regions not read (assumed down, failed and unreached) are not checked either.
            let skipped: BTreeSet<String> = opts.assume_down.union(&unreached).cloned().collect();
            placement::check_placement(provider, &plan, &desired, &skipped).await?;
        }
        Ok(plan)
    }

    /// The diff part of `plan`, without any AWS call.
    pub fn plan_against(
        &self,
        state: Option<&State>,
        roles: BTreeMap<String, Role>,
        desired: &[Desired],
        prior: Vec<Observed>,
        opts: &PlanOptions,
        unreached: &BTreeSet<String>,
    ) -> Result<Plan> {
        check_targets(&opts.targets, desired, &prior)?;
        let mut notes: Vec<String> = state
            .and_then(|s| s.journal.as_ref())
            .map(|j| j.note())
            .into_iter()
            .collect();
        // About the roles the state holds, which an interrupted operation's may run ahead of.
        let held = state.map(|_| self.held_roles(state));
        notes.extend(self.role_notes(held.as_ref().unwrap_or(&roles)));
        notes.extend(check_replace(&opts.replace, desired, &prior)?);
        let failed: BTreeSet<String> = roles
            .iter()
            .filter(|(_, r)| **r == Role::Failed)
            .map(|(n, _)| n.clone())
            .collect();
        // Not reached: as if assumed down (fenced by the first plan that reaches them).
        let unseen: BTreeSet<String> = opts.assume_down.union(unreached).cloned().collect();
        let diff_opts = DiffOptions {
            targets: opts.targets.clone(),
            destroy: opts.destroy,
            replace: opts.replace.clone(),
            frozen_regions: failed.union(&unseen).cloned().collect(),
            fenced_regions: failed.difference(&unseen).cloned().collect(),
            fence_time: time::OffsetDateTime::now_utc().unix_timestamp(),
        };
        let mut bound = bind_from_prior(desired, &prior, &BTreeSet::new());
        leave_shared(&mut bound, &prior);
        let mut actions = diff(&bound, &prior, &diff_opts);
        // A replaced source (requested, or cascading from its parent) gets new values, such
        // as an instance's IP: what binds to it is known only after apply.
        let replaced: BTreeSet<Address> = actions
            .iter()
            .filter(|a| matches!(a, Action::Replace { .. }))
            .map(|a| a.address().clone())
            .collect();
        if !replaced.is_empty() {
            let mut bound = bind_from_prior(desired, &prior, &replaced);
            leave_shared(&mut bound, &prior);
            actions = diff(&bound, &prior, &diff_opts);
        }
        explain_role_changes(&mut actions, state, &roles);
        explain_zone_deletions(&mut actions);
        let (stages, fence_notes) = fence_first(&actions);
        notes.extend(fence_notes);
        // Failed in the state and read: what there could still act as a second primary.
        let reached: BTreeSet<String> = held
            .as_ref()
            .unwrap_or(&roles)
            .iter()
            .filter(|(r, role)| **role == Role::Failed && !unseen.contains(*r))
            .map(|(r, _)| r.clone())
            .collect();
        let split_brain = crate::plan::split_brain(&reached, &prior);
        let blocked = protected_deletions(desired, &actions);
        notes.extend(opts.assume_down.iter().map(|r| {
            format!("region {r} is assumed down: no call goes to it, and its resources are as the state last saw them")
        }));
        notes.extend(blocked.iter().cloned());
        notes.extend(new_bucket_names(&actions));
        notes.extend(password_migrations(&actions));
        Ok(Plan {
            environment: self.spec.environment.clone(),
            env_dir: self.spec.env_dir.clone(),
            backend: Some(self.backend()),
            state_lineage: state.map(|s| s.lineage.clone()),
            state_serial: state.map(|s| s.serial).unwrap_or(0),
            notes,
            blocked,
            stages,
            best_effort: BTreeSet::new(),
            journal: None,
            details: serde_json::Value::Null,
            split_brain,
            roles,
            prior,
            actions,
            targets: opts.targets.clone(),
            // Once everything is destroyed there is nothing for the outputs to name.
            outputs: if opts.destroy {
                BTreeMap::new()
            } else {
                self.spec.outputs.clone()
            },
        })
    }

    /// Says plainly where the state's roles differ from the spec's.
    fn role_notes(&self, roles: &BTreeMap<String, Role>) -> Vec<String> {
        self.spec
            .regions
            .iter()
            .filter_map(|r| {
                let actual = roles.get(&r.name)?;
                (*actual != r.role).then(|| {
                    format!(
                        "region {} is {} in the state but {} in the spec; the state's role is used (set by promote or rebuild)",
                        r.name, actual, r.role
                    )
                })
            })
            .collect()
    }
}

/// The fence's actions (which the diff lists first) in a stage of their own that runs before
/// anything else, with a note for each database it stops.
fn fence_first(actions: &[Action]) -> (BTreeMap<Address, u32>, Vec<String>) {
    if !actions.iter().any(Action::fences) {
        return (BTreeMap::new(), Vec::new());
    }
    let stages = actions
        .iter()
        .map(|a| (a.address().clone(), u32::from(!a.fences())))
        .collect();
    let notes = actions
        .iter()
        .filter(|a| a.fences() && a.kind() == topology::Kind::Database)
        .map(|a| {
            format!(
                "{} is stopped, not deleted (`standby rebuild {}` replaces it); AWS starts a stopped database again after 7 days, and the next `standby plan` or `apply` stops it again",
                a.address(),
                a.region().unwrap_or_default()
            )
        })
        .collect();
    (stages, notes)
}

/// Fills bound attributes (record values, health-check addresses) from the refreshed view;
/// a source that does not exist yet, is about to change or is `replaced` leaves the value
/// unknown.
fn bind_from_prior(
    desired: &[Desired],
    prior: &[Observed],
    replaced: &BTreeSet<Address>,
) -> Vec<Desired> {
    let prior_by: BTreeMap<&Address, &Observed> = prior.iter().map(|o| (&o.address, o)).collect();
    let desired_by: BTreeMap<&Address, &Desired> =
        desired.iter().map(|d| (&d.address, d)).collect();
    desired
        .iter()
        .map(|d| {
            if d.bindings.is_empty() {
                return d.clone();
            }
            d.bind(|a| {
                let (o, want) = (prior_by.get(a)?, desired_by.get(a)?);
                let stable = !replaced.contains(a)
                    && crate::plan::unfulfilled(want.kind, &want.attrs, o).is_empty();
                stable.then(|| o.computed.clone())
            })
        })
        .collect()
}
