//! `standby restore [ENV] --to-time T | --latest | --snapshot ID [--region R]`: the primary's
//! databases restored to an earlier point and swapped in, as a reviewed plan; `--cleanup`
//! deletes the instances restores kept; `--buckets` also brings each object of the region's
//! buckets back to its version of then.

use super::converge::{approved, finish};
use super::{render, EnvArg, GlobalArgs, Outcome};
use crate::dr::{RestorePoint, RestoreRequest};
use crate::environment::Environment;
use crate::ops::{self, Context};
use anyhow::{bail, Result};
use clap::{ArgGroup, Args};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("point").args(["to_time", "latest", "snapshot"])))]
pub struct RestoreArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Restore to this time (RFC 3339, such as 2026-12-01T09:30:00Z), within the backup
    /// retention window
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub to_time: Option<OffsetDateTime>,
    /// Restore to the latest restorable time
    #[arg(long)]
    pub latest: bool,
    /// Restore from this DB snapshot of the region
    #[arg(long, value_name = "ID")]
    pub snapshot: Option<String>,
    /// Also bring each object of the region's buckets back to its version as of --to-time
    #[arg(long, requires = "to_time")]
    pub buckets: bool,
    /// The region whose databases are restored (default: the primary)
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Delete the instances earlier restores replaced and kept (their snapshots stay)
    #[arg(long, conflicts_with_all = ["point", "region"])]
    pub cleanup: bool,
    /// Restore without asking
    #[arg(long)]
    pub auto_approve: bool,
    /// Actions run at once
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub parallelism: usize,
}

fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|_| format!("{s:?} is not an RFC 3339 time: write it like 2026-12-01T09:30:00Z"))
}

pub async fn run(args: RestoreArgs, g: &GlobalArgs, cx: &Context) -> Result<Outcome> {
    let point = match (&args.to_time, args.latest, &args.snapshot) {
        (Some(t), _, _) => Some(RestorePoint::Time(*t)),
        (_, true, _) => Some(RestorePoint::Latest),
        (_, _, Some(id)) => Some(RestorePoint::Snapshot(id.clone())),
        _ => None,
    };
    if point.is_none() && !args.cleanup {
        bail!(
            "give the point to restore to: --to-time T, --latest or --snapshot ID (or --cleanup)"
        );
    }
    let env = g.load(&args.env.env)?;
    let Some(point) = point else {
        return cleanup(cx, &env, &args).await;
    };
    let req = RestoreRequest {
        region: args.region.clone(),
        point,
        buckets: args.buckets,
    };
    let restore = ops::dr::prepare_restore(cx, &env, &req).await?;
    cx.shell.out(&render::plan(&restore.prepared.plan));
    let (region, point) = (&restore.region, &restore.point);
    cx.shell.out(&render::restore_summary(
        region,
        point,
        &restore.swaps,
        &restore.buckets,
    ));
    let question = format!("Restore the databases of {region}");
    let declined = "Restore cancelled: nothing changed.";
    let approval = approved(cx, restore.prepared, &question, args.auto_approve, declined);
    if let Some(prepared) = approval.await? {
        finish(cx, prepared.run(cx, args.parallelism).await?)?;
        cx.shell.status(
            "Restored: the replaced instances stay stopped until `standby restore --cleanup`.",
        );
    }
    Ok(Outcome::Success)
}

/// `restore --cleanup`: deletes the instances restores kept.
async fn cleanup(cx: &Context, env: &Environment, args: &RestoreArgs) -> Result<Outcome> {
    let prepared = ops::dr::prepare_restore_cleanup(cx, env).await?;
    if !prepared.plan.has_changes() {
        cx.shell
            .status("No instance kept by a restore: nothing to clean up.");
        prepared.release(cx).await?;
        return Ok(Outcome::Success);
    }
    cx.shell.out(&render::plan(&prepared.plan));
    let question = "Delete the instances restores kept";
    let declined = "Cleanup cancelled: nothing changed.";
    if let Some(prepared) = approved(cx, prepared, question, args.auto_approve, declined).await? {
        finish(cx, prepared.run(cx, args.parallelism).await?)?;
    }
    Ok(Outcome::Success)
}
