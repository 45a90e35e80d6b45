//! `standby init [ENV] [--migrate-state]`: set up the spec's state backend and, when it
//! changed (a backend block added, changed or removed), copy the state over
//! (`ops::state::{init, migrate, retire}`).

use super::{confirm, EnvArg, GlobalArgs, Outcome};
use crate::ops::state::{self, InPlace, Init, Migration, Retired};
use crate::ops::Context;
use anyhow::{bail, Result};
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
    let m = match state::init(&env).await? {
        Init::InPlace { backend, state } => {
            in_place(cx, name, &backend, state);
            return Ok(Outcome::Success);
        }
        Init::NothingToCopy { from, to } => {
            cx.shell.status(&format!("The state of {name} will be kept in {to}; {from} held none, so nothing was copied."));
            return Ok(Outcome::Success);
        }
        Init::Moved(m) => m,
    };
    let (current, wanted) = (&m.from, &m.to);
    if !args.migrate_state {
        bail!(
            "the backend of environment {name} changed from {current} to {wanted}, and {current} holds its state (serial {}): \
             run `standby init --migrate-state` to copy it over",
            m.serial()
        );
    }
    let replaces = state::check_destination(&m).await?;
    let question = question(name, &m, replaces);
    if !confirm::approve(&cx.shell, &question, args.auto_approve).await? {
        cx.shell.status(&format!(
            "Migration cancelled: the state stays in {current}."
        ));
        return Ok(Outcome::Success);
    }
    let serial = state::migrate(cx, &env, &m).await?;
    cx.shell.status(&format!(
        "Copied the state of {name} to {wanted} (serial {serial})."
    ));
    match state::retire(current)? {
        Retired::Renamed(retired) => cx.shell.status(&format!(
            "The local copy is kept as {} and is no longer read.",
            retired.display()
        )),
        Retired::Left(loc) => cx.shell.status(&format!(
            "The object {loc} is left as it was and is no longer read: delete it once you no longer need it."
        )),
    }
    Ok(Outcome::Success)
}

fn in_place(cx: &Context, name: &str, wanted: &crate::state::Backend, state: Option<InPlace>) {
    match state {
        Some(s) => {
            if let Some((old, new)) = s.lineage_changed {
                cx.shell.status(&format!("The state in {wanted} has lineage {new} (it was {old}): from now on that is the one expected."));
            }
            cx.shell.status(&format!(
                "The state of {name} is in {wanted} (serial {}): nothing to migrate.",
                s.serial
            ))
        }
        None => cx.shell.status(&format!(
            "The state of {name} will be kept in {wanted}; it has none yet."
        )),
    }
}

fn question(name: &str, m: &Migration, replaces: bool) -> String {
    format!(
        "Copy the state of {name} (lineage {}, serial {}) from {} to {}{}",
        m.lineage(),
        m.serial(),
        m.from,
        m.to,
        if replaces {
            ", replacing the older copy there"
        } else {
            ""
        }
    )
}
