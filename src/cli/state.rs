//! `standby state list|show|mv|rm|pull|push|unlock`: read and edit the state through its
//! backend, without touching AWS.
//!
//! Invariant: every subcommand that writes holds the state lock while it reads, changes and
//! saves, and releases it on every path; nothing here calls an AWS API other than the state
//! backend's.

use super::{confirm, EnvArg, GlobalArgs, Outcome};
use crate::address::Address;
use crate::ops::{self, Context};
use crate::state::{check, recorded_lineage, State};
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
            cx.shell.document(&serde_json::to_string_pretty(
                &crate::state::file::resource_json(r),
            )?);
        }
        StateCommand::Mv { from, to, env } => {
            let env = g.load(&env.env)?;
            let (from, to) = (Address::new(from.as_str()), Address::new(to.as_str()));
            for (old, new) in ops::state::mv(cx, &env, &from, &to).await? {
                cx.shell.status(&format!("Moved {old} to {new}"));
            }
            cx.shell
                .status("The state was changed; nothing in AWS was.");
        }
        StateCommand::Rm { address, env } => {
            let env = g.load(&env.env)?;
            let gone = ops::state::rm(cx, &env, &Address::new(address.as_str())).await?;
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
            cx.shell
                .document(&String::from_utf8_lossy(&crate::state::file::write(&state)));
        }
        StateCommand::Push { file, env, force } => {
            let env = g.load(&env.env)?;
            let bytes = std::fs::read(&file)
                .with_context(|| format!("cannot read the state file {}", file.display()))?;
            let pushed: State = crate::state::file::read(&bytes)
                .map_err(|e| e.at(file.display(), "push a state file that standby wrote"))?;
            let ops::state::Pushed { serial, overrides } =
                ops::state::push(cx, &env, pushed, force).await?;
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
