//! The critical path of standby's apply, from what the apply recorded in its state: each
//! step's start and duration (the last history entry) and each resource's dependencies. The
//! longest chain of dependent steps is the least time any schedule needs once the refresh
//! and plan are done; the time outside the steps (process start, refresh, plan, the last
//! state write) is a chain of its own, added to it.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The critical path of the apply recorded in `state` (a standby state file) that took
/// `wall`, and the chain of steps within it.
pub fn of_apply(state: &Path, wall: Duration) -> Option<(Duration, Duration)> {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state).ok()?).ok()?;
    let deps: HashMap<&str, Vec<&str>> = doc["resources"]
        .as_array()?
        .iter()
        .filter_map(|r| {
            let list = r["depends_on"]
                .as_array()
                .map(|d| d.iter().filter_map(|a| a.as_str()).collect());
            Some((r["address"].as_str()?, list.unwrap_or_default()))
        })
        .collect();
    let mut steps: HashMap<&str, (OffsetDateTime, Duration)> = HashMap::new();
    for s in doc["history"].as_array()?.last()?["steps"].as_array()? {
        let address = s["name"].as_str()?.rsplit(' ').next()?;
        let start = OffsetDateTime::parse(s["started_at"].as_str()?, &Rfc3339).ok()?;
        let took = Duration::from_millis(s["duration_ms"].as_u64()?);
        steps.insert(address, (start, took));
    }
    let first = steps.values().map(|(s, _)| *s).min()?;
    let last = steps.values().map(|(s, d)| *s + *d).max()?;
    let span: Duration = (last - first).try_into().ok()?;
    let mut memo = HashMap::new();
    let chain = steps
        .keys()
        .map(|a| longest(a, &steps, &deps, &mut memo))
        .max()?;
    Some((wall.saturating_sub(span) + chain, chain))
}

/// The longest chain of steps ending with `address`'s.
fn longest<'a>(
    address: &'a str,
    steps: &HashMap<&'a str, (OffsetDateTime, Duration)>,
    deps: &HashMap<&'a str, Vec<&'a str>>,
    memo: &mut HashMap<&'a str, Duration>,
) -> Duration {
    if let Some(d) = memo.get(address) {
        return *d;
    }
    let own = steps.get(address).map_or(Duration::ZERO, |(_, d)| *d);
    let before = deps
        .get(address)
        .into_iter()
        .flatten()
        .map(|d| longest(d, steps, deps, memo))
        .max()
        .unwrap_or_default();
    memo.insert(address, own + before);
    own + before
}
