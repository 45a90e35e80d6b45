//! Progress of a long apply: what runs now, what finished, elapsed time and, once some
//! steps finished, the time left (indicatif's estimate).
//!
//! Invariant: progress goes to the Shell's stderr; when stderr is not a terminal every event
//! is one plain line, so CI logs read the same story.

use super::Shell;
use crate::apply::ApplyEvent;
use console::style;
use indicatif::{HumanDuration, ProgressBar, ProgressStyle};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::mpsc;

/// Renders events until the channel closes.
pub async fn render(shell: Shell, total: usize, mut events: mpsc::UnboundedReceiver<ApplyEvent>) {
    let bar = ProgressBar::with_draw_target(Some(total as u64), shell.progress_target());
    bar.set_style(bar_style(false));
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut running: BTreeSet<String> = BTreeSet::new();
    let line = |s: String| {
        if bar.is_hidden() {
            shell.status(&s);
        } else {
            bar.println(s);
        }
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let e = tokio::select! {
            e = events.recv() => match e {
                Some(e) => e,
                None => break,
            },
            _ = tick.tick() => {
                bar.set_message(message(&running));
                continue;
            }
        };
        match e {
            ApplyEvent::Started { address, verb } => {
                tracing::info!(%address, verb, "started");
                running.insert(address.to_string());
                if bar.is_hidden() {
                    shell.status(&format!("{address}: {verb} started"));
                }
            }
            ApplyEvent::Finished {
                address,
                verb,
                elapsed,
            } => {
                running.remove(address.as_str());
                if bar.position() == 0 && total > 0 {
                    bar.set_style(bar_style(true));
                }
                bar.inc(1);
                line(format!(
                    "{address}: {verb} {} after {:.1}s{}",
                    style("done").green().for_stderr(),
                    elapsed.as_secs_f64(),
                    steps_left(bar.position(), total as u64, bar.eta())
                ));
            }
            ApplyEvent::Failed {
                address,
                verb,
                error,
            } => {
                running.remove(address.as_str());
                line(format!(
                    "{address}: {verb} {}: {error}",
                    style("failed").red().for_stderr()
                ));
            }
            ApplyEvent::StateSaved { serial } => tracing::debug!(serial, "state saved"),
        }
        bar.set_message(message(&running));
    }
    bar.finish_and_clear();
}

/// What runs, at most three, each with what it waits for on AWS (`poll.rs`): "database.main
/// (waiting for available (now modifying))".
fn message(running: &BTreeSet<String>) -> String {
    let waiting = crate::provider::aws::poll::waiting();
    let shown: Vec<String> = running
        .iter()
        .take(3)
        .map(|a| match waiting.get(a) {
            Some(what) => format!("{a} (waiting for {what})"),
            None => a.clone(),
        })
        .collect();
    let more = running.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// The bar; with `eta` (once a step finished, so there is a rate to go by) the time left.
fn bar_style(eta: bool) -> ProgressStyle {
    let template = if eta {
        "{spinner} [{elapsed_precise}] {pos}/{len} steps, about {eta} left  {wide_msg}"
    } else {
        "{spinner} [{elapsed_precise}] {pos}/{len} steps  {wide_msg}"
    };
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// ` (3/10 steps, about 12 seconds left)` after a finished step, for plain-line output;
/// empty when the total is unknown.
pub fn steps_left(done: u64, total: u64, eta: std::time::Duration) -> String {
    if total == 0 {
        String::new()
    } else if done >= total || eta.is_zero() {
        format!(" ({done}/{total} steps)")
    } else {
        let eta = eta.max(std::time::Duration::from_secs(1));
        format!(" ({done}/{total} steps, about {} left)", HumanDuration(eta))
    }
}
