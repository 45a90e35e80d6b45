//! Failed regions read on their own: a region that is `failed` in the state (its outage may
//! not be over) and stays failed in the plan is read with brief retries, and when it cannot
//! be read its state view stands and nothing is planned there (DESIGN.md, "Outages": only a
//! plan that can reach a failed region fences it). `apply` after a promote with
//! `--assume-down` thereby finishes the DNS steps while the old primary is still down.
//!
//! Invariant: only a region failed both in the state and in the plan is skipped this way; a
//! region a rebuild or promote brings back is read like any other and fails the plan.

use crate::config::Role;
use crate::provider::{Observed, Provider, Scope};
use std::collections::{BTreeMap, BTreeSet};

/// A failed region the refresh could not read.
#[derive(Debug, Clone)]
pub struct Unreached {
    pub region: String,
    /// Why the read failed, as the provider said it.
    pub error: String,
}

impl Unreached {
    /// One line for the plan.
    pub fn note(&self) -> String {
        format!(
            "region {} is failed in the state and could not be read, so nothing is planned there and its resources are as the state last saw them; once it answers, `standby apply` fences it first (its bucket replication removed, its database taken out of service) ({})",
            self.region, self.error
        )
    }
}

/// The regions failed in the state's roles (`held`) that the plan keeps failed (`planned`).
pub(super) fn still_failed(
    held: &BTreeMap<String, Role>,
    planned: &BTreeMap<String, Role>,
) -> BTreeSet<String> {
    held.iter()
        .filter(|(r, role)| **role == Role::Failed && planned.get(*r) == Some(&Role::Failed))
        .map(|(r, _)| r.clone())
        .collect()
}

/// Reads each of `regions` on its own (no global read), briefly; the ones that fail are
/// returned apart.
pub(super) async fn read_failed(
    provider: &dyn Provider,
    scope: &Scope,
    regions: &BTreeSet<String>,
) -> (Vec<Observed>, Vec<Unreached>) {
    let reads = regions.iter().map(|r| {
        let mut one = scope.clone();
        one.regions = BTreeSet::from([r.clone()]);
        one.global.clear();
        async move { (r.clone(), provider.brief().refresh(&one).await) }
    });
    let mut live = Vec::new();
    let mut unreached = Vec::new();
    for (region, read) in futures::future::join_all(reads).await {
        match read {
            Ok(found) => live.extend(found),
            Err(e) => {
                tracing::warn!(%region, error = %format!("{e:#}"), "failed region unreachable; using the state's view");
                unreached.push(Unreached {
                    region,
                    error: format!("{e:#}"),
                });
            }
        }
    }
    (live, unreached)
}
