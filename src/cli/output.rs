//! `standby output [NAME]`: the outputs recorded by the last apply.

use super::{GlobalArgs, Outcome};
use crate::state::StateStore;
use anyhow::{anyhow, Context, Result};
use clap::Args;
use serde_json::Value;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// One output's name; all of them when absent
    pub name: Option<String>,
    /// Environment directory (default: the current directory)
    #[arg(long, value_name = "ENV", default_value = ".")]
    pub env: PathBuf,
}

pub async fn run(args: OutputArgs, g: &GlobalArgs) -> Result<Outcome> {
    let dir = args
        .env
        .canonicalize()
        .with_context(|| format!("no environment at {}", args.env.display()))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Through the spec's backend when the spec loads; the local file otherwise (outputs
    // need no variables).
    let state = match g.load(&dir) {
        Ok(env) => env.read_state().await?,
        Err(_) => StateStore::read(&StateStore::path_for(&dir, &name))?,
    }
    .ok_or_else(|| anyhow!("environment {name} has no state yet: run `standby apply` first"))?;
    match args.name {
        Some(n) => {
            let v = state.outputs.get(&n).ok_or_else(|| {
                anyhow!(
                    "no output named {n}: the outputs are {}",
                    state.outputs.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            })?;
            match v {
                Value::String(s) => println!("{s}"),
                other => println!("{other}"),
            }
        }
        None => {
            for (k, v) in &state.outputs {
                println!("{k} = {v}");
            }
        }
    }
    Ok(Outcome::Success)
}
