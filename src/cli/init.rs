//! `standby init [ENV] [--migrate-state]`: set up the spec's state backend and, when it
//! changed (a backend block added, changed or removed), copy the state over.
//!
//! Invariant: a migration never mixes two states: it refuses a destination that holds
//! another lineage or a newer serial, copies under both locks, keeps lineage and serial
//! (the write bumps the serial once), and leaves the source readable (a local source is
//! renamed to `.migrated`, a remote one is left as it was).

use super::{confirm, EnvArg, GlobalArgs, Outcome};
use crate::ops::apply::release_after;
use crate::ops::Context;
use crate::state::{
    edit, record_backend, record_lineage, recorded_backend, recorded_lineage, Backend, OpenOptions,
};
use anyhow::{bail, Context as _, Result};
use clap::Args;

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Copy the state to the spec's backend when it moved
    #[arg(long)]
    pub migrate_state: bool,
    /// Migrate without asking
    #[arg(long, alias = "force")]
    pub auto_approve: bool,
}

pub async fn run(args: InitArgs, g: &GlobalArgs, cx: &Context) -> Result<Outcome> {
    let env = g.load(&args.env.env)?;
    let name = &env.spec.environment;
    let wanted = env.backend();
    let current = recorded_backend(&env.state_path)?.unwrap_or_else(|| Backend::Local {
        path: env.state_path.clone(),
    });
    if current.same_place(&wanted) {
        // Reading proves the backend is reachable with these credentials.
        let state = wanted.read().await?;
        record_backend(&env.state_path, &wanted)?;
        if state.is_some() && matches!(&wanted, Backend::S3(loc) if loc.replica.is_some()) {
            // Opening under the lock reconciles the replica (a new one gets its first copy).
            let opts = OpenOptions {
                lock_timeout: env.lock_timeout,
                ..OpenOptions::default()
            };
            wanted.open(name, "init", &opts).await?.release().await?;
        }
        match state {
            Some(s) => {
                // Lineage aside (accepting a replaced object is what this does), the state
                // must be this environment's.
                crate::state::check::loaded(&s, &env.expected(None))?;
                if let Some(old) = recorded_lineage(&env.state_path)?.filter(|l| *l != s.lineage) {
                    cx.shell.status(&format!("The state in {wanted} has lineage {} (it was {old}): from now on that is the one expected.", s.lineage));
                }
                record_lineage(&env.state_path, &s.lineage)?;
                cx.shell.status(&format!(
                    "The state of {name} is in {wanted} (serial {}): nothing to migrate.",
                    s.serial
                ))
            }
            None => cx.shell.status(&format!(
                "The state of {name} will be kept in {wanted}; it has none yet."
            )),
        }
        return Ok(Outcome::Success);
    }
    let Some(source_state) = current.read().await? else {
        record_backend(&env.state_path, &wanted)?;
        cx.shell.status(&format!("The state of {name} will be kept in {wanted}; {current} held none, so nothing was copied."));
        return Ok(Outcome::Success);
    };
    if !args.migrate_state {
        bail!(
            "the backend of environment {name} changed from {current} to {wanted}, and {current} holds its state (serial {}): \
             run `standby init --migrate-state` to copy it over",
            source_state.serial
        );
    }
    let existing = wanted.read().await?;
    edit::check_migration(&source_state, existing.as_ref())?;
    let question = format!(
        "Copy the state of {name} (lineage {}, serial {}) from {current} to {wanted}{}",
        source_state.lineage,
        source_state.serial,
        if existing.is_some() {
            ", replacing the older copy there"
        } else {
            ""
        }
    );
    if !confirm::approve(&cx.shell, &question, args.auto_approve).await? {
        cx.shell.status(&format!(
            "Migration cancelled: the state stays in {current}."
        ));
        return Ok(Outcome::Success);
    }

    // Under both locks, the source's first, so that nobody writes either meanwhile.
    let operation = "init --migrate-state";
    let opts = OpenOptions {
        lock_timeout: env.lock_timeout,
        ..OpenOptions::default()
    };
    let mut source = current.open(name, operation, &opts).await?;
    let mut dest = match wanted.open(name, operation, &opts).await {
        Ok(d) => d,
        Err(e) => return release_after(&cx.shell, &mut source, Err(e)).await,
    };
    let result = async {
        edit::check_migration(source.state(), dest.exists().then(|| dest.state()))?;
        *dest.state_mut() = source.state().clone();
        dest.save().await?;
        record_backend(&env.state_path, &wanted)?;
        Ok(dest.state().serial)
    }
    .await;
    let result = release_after(&cx.shell, &mut dest, result).await;
    let serial = release_after(&cx.shell, &mut source, result).await?;
    cx.shell.status(&format!(
        "Copied the state of {name} to {wanted} (serial {serial})."
    ));
    match &current {
        Backend::Local { path } => {
            let retired = path.with_extension("json.migrated");
            std::fs::rename(path, &retired).with_context(|| {
                format!(
                    "the state was copied, but {} could not be renamed to {}: remove it by hand",
                    path.display(),
                    retired.display()
                )
            })?;
            cx.shell.status(&format!(
                "The local copy is kept as {} and is no longer read.",
                retired.display()
            ));
        }
        Backend::S3(loc) => cx.shell.status(&format!(
            "The object {loc} is left as it was and is no longer read: delete it once you no longer need it."
        )),
    }
    Ok(Outcome::Success)
}
