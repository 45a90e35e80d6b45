//! `standby status [ENV] [--json]`: regions, roles, instances, replica lag, replication,
//! DNS, last promote and drill.

use super::{render, EnvArg, GlobalArgs, Outcome};
use crate::ops::Context;
use anyhow::Result;
use clap::Args;
use serde::Serialize;

/// Version of the `status --json` document (README.md, "status --json").
pub const STATUS_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Print the status as JSON (format version 1, documented in the README)
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: StatusArgs, g: &GlobalArgs, cx: &Context) -> Result<Outcome> {
    let env = g.load(&args.env.env)?;
    let status = crate::ops::read::status(cx, &env).await?;
    if args.json {
        cx.shell.document(&json(&status));
    } else {
        cx.shell.out(&render::status(&status));
    }
    Ok(Outcome::Success)
}

#[derive(Serialize)]
struct StatusDocument<'a> {
    format_version: u32,
    #[serde(flatten)]
    status: &'a crate::dr::Status,
}

/// `status --json`: the status with its format version.
pub fn json(status: &crate::dr::Status) -> String {
    let doc = StatusDocument {
        format_version: STATUS_FORMAT_VERSION,
        status,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
