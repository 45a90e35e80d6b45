//! Progress of a long apply: what runs now, what finished, elapsed time (indicatif).
//!
//! Invariant: progress goes to stderr; when stderr is not a terminal every event is one
//! plain line, so CI logs read the same story.

use crate::apply::ApplyEvent;
use console::style;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::mpsc;

/// Renders events until the channel closes.
pub async fn render(total: usize, mut events: mpsc::UnboundedReceiver<ApplyEvent>) {
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos}/{len} steps  {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut running: BTreeSet<String> = BTreeSet::new();
    let line = |s: String| {
        if bar.is_hidden() {
            eprintln!("{s}");
        } else {
            bar.println(s);
        }
    };
    while let Some(e) = events.recv().await {
        match e {
            ApplyEvent::Started { address, verb } => {
                tracing::info!(%address, verb, "started");
                running.insert(address.to_string());
                if bar.is_hidden() {
                    eprintln!("{address}: {verb} started");
                }
            }
            ApplyEvent::Finished {
                address,
                verb,
                elapsed,
            } => {
                running.remove(address.as_str());
                bar.inc(1);
                line(format!(
                    "{address}: {verb} {} after {:.1}s",
                    style("done").green().for_stderr(),
                    elapsed.as_secs_f64()
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
        let shown: Vec<&str> = running.iter().take(3).map(String::as_str).collect();
        let more = running.len().saturating_sub(shown.len());
        bar.set_message(if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        });
    }
    bar.finish_and_clear();
}
