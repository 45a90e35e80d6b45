//! `standby state list|show`: read the state without touching AWS.

use super::{EnvArg, GlobalArgs, Outcome};
use anyhow::{anyhow, Result};
use clap::Subcommand;

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
}

pub fn run(cmd: StateCommand, g: &GlobalArgs) -> Result<Outcome> {
    match cmd {
        StateCommand::List { env } => {
            let env = g.load(&env.env)?;
            if let Some(state) = env.read_state()? {
                for r in &state.resources {
                    println!("{}", r.address);
                }
            }
        }
        StateCommand::Show { address, env } => {
            let env = g.load(&env.env)?;
            let state = env
                .read_state()?
                .ok_or_else(|| anyhow!("the environment has no state yet"))?;
            let r = state.get(&address.as_str().into()).ok_or_else(|| {
                anyhow!("{address} is not in the state: `standby state list` shows the addresses")
            })?;
            println!("{}", serde_json::to_string_pretty(r)?);
        }
    }
    Ok(Outcome::Success)
}
