//! A refresh that outlives an impaired global control plane (promote and rebuild): the
//! regions and each of Route 53 and IAM are read on their own; a Route 53 or IAM read that
//! fails leaves the state's last view of its resources in place, named in the plan.
//!
//! Invariant: only the global control planes degrade; a failed regional read still fails
//! the plan (`--assume-down` is how a region is left out).

use crate::address::Address;
use crate::provider::{GlobalRead, Observed, Provider, Scope};
use crate::state::State;
use std::collections::BTreeSet;

/// A global control plane that could not be read: the state's view of its resources stands.
#[derive(Debug, Clone)]
pub struct Unread {
    pub control_plane: GlobalRead,
    /// The state's resources of that control plane, whose last view the plan uses.
    pub addresses: Vec<Address>,
    /// Why the read failed, as the provider said it.
    pub error: String,
}

impl Unread {
    /// One line for the plan.
    pub fn note(&self) -> String {
        let name = match self.control_plane {
            GlobalRead::Route53 => "route 53",
            GlobalRead::Iam => "iam",
            GlobalRead::Buckets => "the bucket listing",
        };
        let list = self
            .addresses
            .iter()
            .map(Address::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let stands = match list.as_str() {
            "" => "the state holds none of its resources".to_string(),
            _ => format!("the state's last view of {list} stands in"),
        };
        format!(
            "{name} could not be read, so {stands}; once it answers again, run `standby plan` to compare ({})",
            self.error
        )
    }
}

/// Reads `scope`'s regions (with the bucket listing) and each global control plane
/// concurrently; a failed Route 53 or IAM read falls back to `state`.
pub(super) async fn refresh_degrading(
    provider: &dyn Provider,
    scope: &Scope,
    state: Option<&State>,
) -> anyhow::Result<(Vec<Observed>, Vec<Unread>)> {
    let only = |reads: BTreeSet<GlobalRead>, regional: bool| {
        let mut one = scope.clone();
        one.global = reads;
        if !regional {
            one.regions.clear();
        }
        one
    };
    let regional = only(BTreeSet::from([GlobalRead::Buckets]), true);
    let route53 = only(BTreeSet::from([GlobalRead::Route53]), false);
    let iam = only(BTreeSet::from([GlobalRead::Iam]), false);
    let (regional, route53, iam) = futures::join!(
        provider.refresh(&regional),
        provider.refresh(&route53),
        provider.refresh(&iam)
    );
    let mut live = regional?;
    let mut unread = Vec::new();
    for (control_plane, read) in [(GlobalRead::Route53, route53), (GlobalRead::Iam, iam)] {
        match read {
            Ok(found) => live.extend(found),
            Err(e) => {
                tracing::warn!(?control_plane, error = %format!("{e:#}"), "global read failed; using the state's view");
                let kept: Vec<Observed> = state
                    .map(|s| {
                        s.resources()
                            .iter()
                            .filter(|r| GlobalRead::control_plane(r.kind) == Some(control_plane))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                unread.push(Unread {
                    control_plane,
                    addresses: kept.iter().map(|o| o.address.clone()).collect(),
                    error: format!("{e:#}"),
                });
                live.extend(kept);
            }
        }
    }
    Ok((live, unread))
}
