//! `standby state list|show|mv|rm|pull|push|unlock`: read and edit the state through its
//! backend, without touching AWS.
//!
//! Invariant: every subcommand that writes holds the state lock while it reads, changes and
//! saves, and releases it on every path; nothing here calls an AWS API other than the state
//! backend's.

use super::{confirm, EnvArg, GlobalArgs, Outcome};
use crate::address::Address;
use crate::environment::Environment;
use crate::ops::apply::release_after;
use crate::ops::Context;
use crate::state::{check, edit, record_lineage, recorded_lineage, State, StateStore};
use anyhow::{anyhow, bail, Context as _, Result};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the addresses in the state
    List {
        #[command(flatten)]
        env: EnvArg,
    },
    /// Show one resource of the state as JSON
    Show {
        /// The resource's address
        address: String,
        #[command(flatten)]
        env: EnvArg,
    },
    /// Rename an address (and everything inside it) in the state; AWS is not touched
    Mv {
        /// The address now
        from: String,
        /// The new address; must not be in the state yet
        to: String,
        #[command(flatten)]
        env: EnvArg,
    },
    /// Forget an address (and everything inside it) without destroying it in AWS
    Rm {
        /// The address to forget
        address: String,
        #[command(flatten)]
        env: EnvArg,
    },
    /// Print the state as JSON on stdout
    Pull {
        #[command(flatten)]
        env: EnvArg,
        /// Print the backend's replica instead (`replica { ... }` in the backend block)
        #[arg(long)]
        replica: bool,
    },
    /// Replace the state with FILE: same lineage and a newer serial, unless --force
    Push {
        /// A state file, such as one written by `standby state pull`
        file: PathBuf,
        #[command(flatten)]
        env: EnvArg,
        /// Push another lineage or an older serial anyway
        #[arg(long)]
        force: bool,
    },
    /// Remove a stuck lock left by an operation that died or a machine that was lost
    Unlock {
        /// The lock id, as the "state is locked" message shows it
        id: String,
        #[command(flatten)]
        env: EnvArg,
        /// Remove it without asking
        #[arg(long, alias = "auto-approve")]
        force: bool,
    },
}

pub async fn run(cmd: StateCommand, g: &GlobalArgs, cx: &Context) -> Result<Outcome> {
    match cmd {
        StateCommand::List { env } => {
            let env = g.load(&env.env)?;
            if let Some(state) = env.read_state().await? {
                for r in state.resources() {
                    cx.shell.out_line(&r.address.to_string());
                }
            }
        }
        StateCommand::Show { address, env } => {
            let env = g.load(&env.env)?;
            let state = env
                .read_state()
                .await?
                .ok_or_else(|| anyhow!("the environment has no state yet"))?;
            let r = state.get(&address.as_str().into()).ok_or_else(|| {
                anyhow!("{address} is not in the state: `standby state list` shows the addresses")
            })?;
            cx.shell.document(&serde_json::to_string_pretty(r)?);
        }
        StateCommand::Mv { from, to, env } => {
            let env = g.load(&env.env)?;
            let mut store = env.open_state("state mv").await?;
            let result = async {
                let moved = edit::rename(
                    store.state_mut(),
                    &Address::new(from.as_str()),
                    &Address::new(to.as_str()),
                )?;
                store.save().await?;
                Ok(moved)
            }
            .await;
            for (old, new) in release_after(&cx.shell, &mut store, result).await? {
                cx.shell.status(&format!("Moved {old} to {new}"));
            }
            cx.shell
                .status("The state was changed; nothing in AWS was.");
        }
        StateCommand::Rm { address, env } => {
            let env = g.load(&env.env)?;
            let mut store = env.open_state("state rm").await?;
            let result = async {
                let gone = edit::forget(store.state_mut(), &Address::new(address.as_str()))?;
                store.save().await?;
                Ok(gone)
            }
            .await;
            let gone = release_after(&cx.shell, &mut store, result).await?;
            for r in &gone {
                cx.shell
                    .status(&format!("Removed {} ({}) from the state", r.address, r.id));
            }
            cx.shell.status(&format!(
                "Nothing was destroyed: {} resource(s) still exist in AWS. A refresh adopts resources \
                 that carry the environment's standby: tags, so remove those tags too if standby should stop managing them.",
                gone.len()
            ));
        }
        StateCommand::Pull { env, replica } => {
            let env = g.load(&env.env)?;
            let state = env.read_state_as_is(replica).await?.ok_or_else(|| {
                anyhow!(
                    "environment {} has no state yet in {}",
                    env.spec.environment,
                    env.backend()
                )
            })?;
            // Pull shows a refused state as it is, so that it can be repaired and pushed.
            let lineage = recorded_lineage(&env.state_path)?;
            if let Err(e) = check::loaded(&state, &env.expected(lineage)) {
                cx.shell.warn(&format!("{e:#}"));
            }
            cx.shell.document(&serde_json::to_string_pretty(&state)?);
        }
        StateCommand::Push { file, env, force } => {
            let env = g.load(&env.env)?;
            let bytes = std::fs::read(&file)
                .with_context(|| format!("cannot read the state file {}", file.display()))?;
            let pushed: State = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a standby state file", file.display()))?;
            let mut store = env.open_state_as_is("state push").await?;
            let result = push(&env, &mut store, pushed, force).await;
            let (serial, overrides) = release_after(&cx.shell, &mut store, result).await?;
            for o in overrides {
                cx.shell.status(&format!("--force overrides: {o}"));
            }
            cx.shell.status(&format!(
                "Pushed {} to {} (serial {serial}).",
                file.display(),
                env.backend()
            ));
        }
        StateCommand::Unlock { id, env, force } => {
            let env = g.load(&env.env)?;
            let backend = env.backend();
            let holder = backend.lock_holder().await?;
            match &holder {
                None => bail!("the state {backend} is not locked: there is nothing to unlock"),
                Some(h) if h.id != id => {
                    bail!("lock id {id} is not the current lock of {backend}: it is held by {h}")
                }
                Some(h) => {
                    if matches!(backend, crate::state::Backend::Local { .. }) {
                        crate::state::refuse_running(h)?;
                    }
                    if !confirm::approve(
                        &cx.shell,
                        &format!("Remove the lock held by {h}; do so only if that operation is no longer running"),
                        force,
                    ).await? {
                        cx.shell.status("Unlock cancelled: the lock is still held.");
                        return Ok(Outcome::Success);
                    }
                }
            }
            let removed = backend.force_unlock(&id).await?;
            cx.shell
                .status(&format!("Removed the lock of {backend} held by {removed}."));
        }
    }
    Ok(Outcome::Success)
}

/// Replaces the open state with `pushed` once `edit::check_push` allows it; a forced push is
/// saved as this environment's (its service and environment are the spec's). Returns the
/// saved serial and what `--force` overrode.
async fn push(
    env: &Environment,
    store: &mut StateStore,
    mut pushed: State,
    force: bool,
) -> Result<(u64, Vec<String>)> {
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
    Ok((store.state().serial, allowed.overrides))
}
