//! `standby status [ENV]`: regions, roles, health, replica lag, last promote and drill.

use super::{render, EnvArg, GlobalArgs, Outcome};
use crate::provider::aws::AwsProvider;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Print the status as JSON
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: StatusArgs, g: &GlobalArgs) -> Result<Outcome> {
    let env = g.load(&args.env.env)?;
    let state = env.read_state().await?;
    let provider = AwsProvider::from_env().await?;
    let status = crate::dr::status(&env, &provider, state.as_ref()).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", render::status(&status));
    }
    Ok(Outcome::Success)
}
