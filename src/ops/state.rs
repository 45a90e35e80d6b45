//! `standby state mv|rm|push`: edits of the state under its lock, saved and released on
//! every path; nothing here calls an AWS API other than the state backend's.

use super::apply::release_after;
use super::Context;
use crate::address::Address;
use crate::environment::Environment;
use crate::provider::Observed;
use crate::state::{edit, record_lineage, recorded_lineage, State, StateStore};
use anyhow::Result;

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
