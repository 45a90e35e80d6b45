//! `standby state list|show|mv|rm|pull|push|unlock`: read and edit the state through its
//! backend, without touching AWS.
//!
//! Invariant: every subcommand that writes holds the state lock while it reads, changes and
//! saves, and releases it on every path; nothing here calls an AWS API other than the state
//! backend's.

use super::apply::release_after;
use super::{confirm, EnvArg, GlobalArgs, Outcome};
use crate::address::Address;
use crate::state::{edit, State};
use anyhow::{anyhow, bail, Context, Result};
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
    /// Remove a stuck lock left by an operation that died (S3 backend)
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

pub async fn run(cmd: StateCommand, g: &GlobalArgs) -> Result<Outcome> {
    match cmd {
        StateCommand::List { env } => {
            let env = g.load(&env.env)?;
            if let Some(state) = env.read_state().await? {
                for r in &state.resources {
                    println!("{}", r.address);
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
            println!("{}", serde_json::to_string_pretty(r)?);
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
            for (old, new) in release_after(&mut store, result).await? {
                eprintln!("Moved {old} to {new}");
            }
            eprintln!("The state was changed; nothing in AWS was.");
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
            let gone = release_after(&mut store, result).await?;
            for r in &gone {
                eprintln!("Removed {} ({}) from the state", r.address, r.id);
            }
            eprintln!(
                "Nothing was destroyed: {} resource(s) still exist in AWS. A refresh adopts resources \
                 that carry the environment's standby: tags, so remove those tags too if standby should stop managing them.",
                gone.len()
            );
        }
        StateCommand::Pull { env } => {
            let env = g.load(&env.env)?;
            let state = env.read_state().await?.ok_or_else(|| {
                anyhow!(
                    "environment {} has no state yet in {}",
                    env.spec.environment,
                    env.backend()
                )
            })?;
            println!("{}", serde_json::to_string_pretty(&state)?);
        }
        StateCommand::Push { file, env, force } => {
            let env = g.load(&env.env)?;
            let bytes = std::fs::read(&file)
                .with_context(|| format!("cannot read the state file {}", file.display()))?;
            let mut pushed: State = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a standby state file", file.display()))?;
            if pushed.environment != env.spec.environment && !force {
                bail!(
                    "{} is a state of environment {}, not {}: pass --force to push it anyway",
                    file.display(),
                    pushed.environment,
                    env.spec.environment
                );
            }
            let mut store = env.open_state("state push").await?;
            let result = async {
                let current = store.exists().then(|| store.state());
                pushed.serial = edit::check_push(current, &pushed, force)?;
                *store.state_mut() = pushed;
                store.save().await?;
                Ok(store.state().serial)
            }
            .await;
            let serial = release_after(&mut store, result).await?;
            eprintln!(
                "Pushed {} to {} (serial {serial}).",
                file.display(),
                env.backend()
            );
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
                    if !confirm::approve(
                        &format!("Remove the lock held by {h}; do so only if that operation is no longer running"),
                        force,
                    )? {
                        eprintln!("Unlock cancelled: the lock is still held.");
                        return Ok(Outcome::Success);
                    }
                }
            }
            let removed = backend.force_unlock(&id).await?;
            eprintln!("Removed the lock of {backend} held by {removed}.");
        }
    }
    Ok(Outcome::Success)
}
