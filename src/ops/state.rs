//! `standby state mv|rm|push` and `init [--migrate-state]`: edits of the state under its
//! lock, saved and released on every path; nothing here calls an AWS API other than the
//! state backend's.
//!
//! Invariant: a migration never mixes two states: it refuses a destination that holds
//! another lineage or a newer serial, copies under both locks, keeps lineage and serial
//! (the write bumps the serial once), and leaves the source readable (a local source is
//! renamed to `.migrated`, a remote one is left as it was).

use super::apply::release_after;
use super::Context;
use crate::address::Address;
use crate::environment::Environment;
use crate::provider::Observed;
use crate::state::{
    edit, record_backend, record_lineage, recorded_backend, recorded_lineage, Backend, OpenOptions,
    S3Location, State, StateStore,
};
use anyhow::{Context as _, Result};
use std::path::PathBuf;

/// `state mv`: every address moved, old and new.
pub async fn mv(
    cx: &Context,
    env: &Environment,
    from: &Address,
    to: &Address,
) -> Result<Vec<(Address, Address)>> {
    let mut store = env.open_state("state mv").await?;
    let result = async {
        let moved = edit::rename(store.state_mut(), from, to)?;
        store.save().await?;
        Ok(moved)
    }
    .await;
    release_after(&cx.shell, &mut store, result).await
}

/// `state rm`: the resources forgotten (they still exist in AWS).
pub async fn rm(cx: &Context, env: &Environment, address: &Address) -> Result<Vec<Observed>> {
    let mut store = env.open_state("state rm").await?;
    let result = async {
        let gone = edit::forget(store.state_mut(), address)?;
        store.save().await?;
        Ok(gone)
    }
    .await;
    release_after(&cx.shell, &mut store, result).await
}

/// What `state push` saved.
pub struct Pushed {
    pub serial: u64,
    /// What `--force` overrode.
    pub overrides: Vec<String>,
}

/// `state push`: replaces the state with `pushed` once `edit::check_push` allows it; a
/// forced push is saved as this environment's (its service and environment are the spec's).
pub async fn push(cx: &Context, env: &Environment, pushed: State, force: bool) -> Result<Pushed> {
    let mut store = env.open_state_as_is("state push").await?;
    let result = replace(env, &mut store, pushed, force).await;
    release_after(&cx.shell, &mut store, result).await
}

async fn replace(
    env: &Environment,
    store: &mut StateStore,
    mut pushed: State,
    force: bool,
) -> Result<Pushed> {
    let current = store.exists().then(|| store.state());
    let lineage = match current {
        Some(c) => Some(c.lineage.clone()),
        None => recorded_lineage(&env.state_path)?,
    };
    let allowed = edit::check_push(current, &pushed, &env.expected(lineage), force)?;
    pushed.serial = allowed.serial;
    pushed.service = env.spec.service.name.clone();
    pushed.environment = env.spec.environment.clone();
    *store.state_mut() = pushed;
    store.save().await?;
    record_lineage(&env.state_path, &store.state().lineage)?;
    Ok(Pushed {
        serial: store.state().serial,
        overrides: allowed.overrides,
    })
}

/// What `init` found where the spec keeps the state.
pub enum Init {
    /// The backend did not move; the state there, if any.
    InPlace {
        backend: Backend,
        state: Option<InPlace>,
    },
    /// The backend moved and the old one held no state: the new one is recorded.
    NothingToCopy { from: Backend, to: Backend },
    /// The backend moved and the old one holds a state: `migrate` copies it.
    Moved(Box<Migration>),
}

/// The state `init` found in place.
pub struct InPlace {
    pub serial: u64,
    /// `(was, is)` when the backend holds another lineage than the one recorded (accepted).
    pub lineage_changed: Option<(String, String)>,
}

/// A state to copy from one backend to another.
pub struct Migration {
    pub from: Backend,
    pub to: Backend,
    source: State,
}

impl Migration {
    pub fn lineage(&self) -> &str {
        &self.source.lineage
    }

    pub fn serial(&self) -> u64 {
        self.source.serial
    }
}

/// `init`: records the spec's backend when the state stays where it is (reading it proves
/// the backend is reachable with these credentials) or the old one held none; a state to
/// move is checked and returned for `migrate`.
pub async fn init(env: &Environment) -> Result<Init> {
    let wanted = env.backend();
    let current = recorded_backend(&env.state_path)?.unwrap_or_else(|| Backend::Local {
        path: env.state_path.clone(),
    });
    if current.same_place(&wanted) {
        let state = in_place(env, &wanted).await?;
        return Ok(Init::InPlace {
            backend: wanted,
            state,
        });
    }
    let Some(source) = current.read().await? else {
        record_backend(&env.state_path, &wanted)?;
        return Ok(Init::NothingToCopy {
            from: current,
            to: wanted,
        });
    };
    Ok(Init::Moved(Box::new(Migration {
        from: current,
        to: wanted,
        source,
    })))
}

/// Whether `m` may go ahead: the destination holds no other lineage and no newer serial.
/// Whether it replaces an older copy there.
pub async fn check_destination(m: &Migration) -> Result<bool> {
    let existing = m.to.read().await?;
    edit::check_migration(&m.source, existing.as_ref())?;
    Ok(existing.is_some())
}

async fn in_place(env: &Environment, wanted: &Backend) -> Result<Option<InPlace>> {
    let state = wanted.read().await?;
    record_backend(&env.state_path, wanted)?;
    if state.is_some() && matches!(wanted, Backend::S3(loc) if loc.replica.is_some()) {
        // Opening under the lock reconciles the replica (a new one gets its first copy).
        wanted
            .open(&env.spec.environment, "init", &lock_options(env))
            .await?
            .release()
            .await?;
    }
    let Some(s) = state else { return Ok(None) };
    // Lineage aside (accepting a replaced object is what this does), the state must be
    // this environment's.
    crate::state::check::loaded(&s, &env.expected(None))?;
    let lineage_changed = recorded_lineage(&env.state_path)?
        .filter(|l| *l != s.lineage)
        .map(|old| (old, s.lineage.clone()));
    record_lineage(&env.state_path, &s.lineage)?;
    Ok(Some(InPlace {
        serial: s.serial,
        lineage_changed,
    }))
}

fn lock_options(env: &Environment) -> OpenOptions {
    OpenOptions {
        lock_timeout: env.lock_timeout,
        ..OpenOptions::default()
    }
}

/// `init --migrate-state`: copies the state under both locks (the source's first, so that
/// nobody writes either meanwhile), checked again under them, and records the new backend;
/// the serial saved. The source stays as it was until `retire`.
pub async fn migrate(cx: &Context, env: &Environment, m: &Migration) -> Result<u64> {
    let operation = "init --migrate-state";
    let name = &env.spec.environment;
    let mut source = m.from.open(name, operation, &lock_options(env)).await?;
    let mut dest = match m.to.open(name, operation, &lock_options(env)).await {
        Ok(d) => d,
        Err(e) => return release_after(&cx.shell, &mut source, Err(e)).await,
    };
    let result = async {
        edit::check_migration(source.state(), dest.exists().then(|| dest.state()))?;
        *dest.state_mut() = source.state().clone();
        dest.save().await?;
        record_backend(&env.state_path, &m.to)?;
        Ok(dest.state().serial)
    }
    .await;
    let result = release_after(&cx.shell, &mut dest, result).await;
    release_after(&cx.shell, &mut source, result).await
}

/// What became of a migrated state's source.
pub enum Retired {
    /// A local file renamed: no longer read.
    Renamed(PathBuf),
    /// A remote object left as it was.
    Left(S3Location),
}

/// After `migrate`: a local source is renamed to `.migrated`, a remote one is left alone.
pub fn retire(from: &Backend) -> Result<Retired> {
    match from {
        Backend::Local { path } => {
            let retired = path.with_extension("json.migrated");
            std::fs::rename(path, &retired).with_context(|| {
                format!(
                    "the state was copied, but {} could not be renamed to {}: remove it by hand",
                    path.display(),
                    retired.display()
                )
            })?;
            Ok(Retired::Renamed(retired))
        }
        Backend::S3(loc) => Ok(Retired::Left(loc.clone())),
    }
}
