//! A drill run: a test copy stood up, checked, timed and torn down, with progress, Ctrl-C
//! (tear down what it made) and its history entry; and `drill --cleanup`.

use super::{history, Context};
use crate::dr::{cleanup_drills, run_drill, DrillReport, DrillRequest, PreparedDrill};
use crate::environment::Environment;
use crate::shell::progress;
use anyhow::Result;
use tokio::sync::mpsc;

/// Runs a prepared drill and records it in the production state's history.
pub async fn run(
    cx: &Context,
    env: &Environment,
    req: &DrillRequest,
    prepared: PreparedDrill,
) -> Result<DrillReport> {
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let renderer = tokio::spawn(progress::render(cx.shell.clone(), 0, events_rx));
    // Ctrl-C is handled here (tear down what the drill made), not by cancelling the command.
    let deferred = cx
        .cancel
        .defer(&cx.shell, "stopping the drill: tearing down what it made");
    let provider = cx.provider().await?;
    let result = run_drill(
        env,
        provider,
        req,
        prepared,
        events_tx,
        deferred.stop.clone(),
    )
    .await;
    drop(deferred);
    let _ = renderer.await;
    let report = result?;
    history::record_drill(env, &report).await?;
    Ok(report)
}

/// `drill --cleanup`: removes what interrupted or kept drills left; the drills cleaned.
pub async fn cleanup(cx: &Context, env: &Environment, parallelism: usize) -> Result<Vec<String>> {
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let renderer = tokio::spawn(progress::render(cx.shell.clone(), 0, events_rx));
    let cleaned = cleanup_drills(env, cx.provider().await?, parallelism, events_tx).await;
    let _ = renderer.await;
    cleaned
}
