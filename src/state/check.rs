//! Checks of a loaded state before anything uses it: that it is this environment's state
//! (service, environment, lineage), and that it holds together (one primary at most, the
//! primary a region of the spec, addresses that parse, one resource per address).
//!
//! Invariant: a command never refreshes, plans or writes from a state that fails these
//! checks; `state pull` shows such a state as it is, and `state push --force` is the only
//! way to replace it with a state that does not pass the belonging checks.

use super::State;
use crate::config::Role;
use anyhow::{bail, Result};
use std::collections::{BTreeMap, BTreeSet};

/// What a state must match to be this environment's.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// Where the state was read from, for messages (`state/prod.json`, `s3://b/k`).
    pub location: String,
    pub service: &'a str,
    pub environment: &'a str,
    /// The regions the spec declares.
    pub regions: BTreeSet<&'a str>,
    /// The lineage the backend last recorded for this environment, if it records one.
    pub lineage: Option<String>,
}

/// Where a state does not belong to the expected environment: each a phrase naming both
/// sides. Empty when it belongs.
pub fn foreign(state: &State, want: &Expected) -> Vec<String> {
    let mut found = Vec::new();
    // A state written before standby recorded its service matches any service.
    let service_differs = !state.service.is_empty() && state.service != want.service;
    if state.environment != want.environment || service_differs {
        let service = if state.service.is_empty() {
            String::new()
        } else {
            format!(" of service `{}`", state.service)
        };
        found.push(format!(
            "it is the state of environment `{}`{service}, but the spec is environment `{}` of service `{}`",
            state.environment, want.environment, want.service
        ));
    }
    if let Some(lineage) = &want.lineage {
        if *lineage != state.lineage {
            found.push(format!(
                "its lineage is {}, but this environment's state had lineage {lineage} when it was last opened here \
                 (`standby init` accepts the new lineage if the object was replaced on purpose)",
                state.lineage
            ));
        }
    }
    found
}

/// What is wrong inside a state, whichever environment it belongs to: each a phrase. Empty
/// when nothing is.
pub fn broken(state: &State, regions: &BTreeSet<&str>) -> Vec<String> {
    let mut found = Vec::new();
    let primaries: Vec<&str> = state
        .roles
        .iter()
        .filter(|(_, r)| **r == Role::Primary)
        .map(|(n, _)| n.as_str())
        .collect();
    if primaries.len() > 1 {
        found.push(format!(
            "it has {} primary regions ({}), and at most one region can be primary",
            primaries.len(),
            primaries.join(", ")
        ));
    }
    // A standby removed from the spec keeps its role until the next apply deletes what is
    // there; a primary missing from the spec would leave the environment without one.
    for p in primaries.iter().filter(|p| !regions.contains(*p)) {
        found.push(format!(
            "its primary region {p} is not a region of the spec"
        ));
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &state.resources {
        *seen.entry(r.address.as_str()).or_default() += 1;
        if let Some(why) = r.address.problem() {
            found.push(format!(
                "address {:?} does not parse: {why}",
                r.address.as_str()
            ));
        } else if let (Some(named), Some(region)) = (r.address.region(), r.region.as_deref()) {
            if named != region {
                found.push(format!(
                    "{} is recorded in region {region}, but its address names region {named}",
                    r.address
                ));
            }
        }
    }
    for (address, n) in seen.into_iter().filter(|(_, n)| *n > 1) {
        found.push(format!("{address} is recorded {n} times"));
    }
    found
}

/// Refuses a loaded state that is another environment's or does not hold together, saying
/// what is wrong and how to repair it. Nothing has been read from AWS at this point.
pub fn loaded(state: &State, want: &Expected) -> Result<()> {
    let foreign = foreign(state, want);
    if !foreign.is_empty() {
        bail!(
            "refusing the state {loc}: {} (using it would change another environment's resources); \
             nothing was read from AWS: put this environment's own state in its place, remove {loc} to start afresh \
             (a refresh adopts the resources tagged with this environment), \
             or replace it on purpose with `standby state push --force FILE`",
            foreign.join("; "),
            loc = want.location,
        );
    }
    let broken = broken(state, &want.regions);
    if !broken.is_empty() {
        bail!(
            "refusing the state {}: {}; nothing was read from AWS: repair it with \
             `standby state pull > state.json`, fix the file, and `standby state push --force state.json`",
            want.location,
            broken.join("; ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Address;
    use crate::provider::Observed;
    use crate::topology::Kind;

    fn obs(address: &str, region: &str) -> Observed {
        Observed {
            address: Address::new(address),
            kind: Kind::Vpc,
            region: Some(region.into()),
            id: "vpc-1".into(),
            attrs: Default::default(),
            computed: Default::default(),
            depends_on: vec![],
        }
    }

    fn state() -> State {
        let mut s = State::new("prod");
        s.service = "checkout".into();
        s.roles = BTreeMap::from([
            ("us-east-1".into(), Role::Primary),
            ("us-west-2".into(), Role::WarmStandby),
        ]);
        s.resources = vec![obs("region.us-east-1.network.vpc", "us-east-1")];
        s
    }

    fn expected(lineage: Option<&str>) -> Expected<'static> {
        Expected {
            location: "state/prod.json".into(),
            service: "checkout",
            environment: "prod",
            regions: BTreeSet::from(["us-east-1", "us-west-2"]),
            lineage: lineage.map(str::to_owned),
        }
    }

    #[test]
    fn a_state_of_this_environment_passes() {
        let s = state();
        loaded(&s, &expected(None)).unwrap();
        loaded(&s, &expected(Some(&s.lineage.clone()))).unwrap();
        let mut old = s.clone();
        old.service.clear();
        loaded(&old, &expected(None)).expect("a state without a service is accepted");
    }

    #[test]
    fn another_environment_service_or_lineage_is_foreign() {
        let mut s = state();
        s.environment = "staging".into();
        let err = loaded(&s, &expected(None)).unwrap_err().to_string();
        assert!(
            err.contains("environment `staging` of service `checkout`"),
            "{err}"
        );
        assert!(
            err.contains("environment `prod` of service `checkout`"),
            "{err}"
        );
        assert!(err.contains("state push --force"), "{err}");
        let mut s = state();
        s.service = "billing".into();
        assert_eq!(foreign(&s, &expected(None)).len(), 1);
        let s = state();
        let found = foreign(&s, &expected(Some("other")));
        assert!(found[0].contains("lineage other"), "{found:?}");
    }

    #[test]
    fn two_primaries_a_primary_outside_the_spec_and_bad_addresses_are_broken() {
        let mut s = state();
        s.roles.insert("us-west-2".into(), Role::Primary);
        s.roles.insert("eu-west-1".into(), Role::Primary);
        s.resources
            .push(obs("region.us-east-1.cluster.web.instance[x]", "us-east-1"));
        s.resources
            .push(obs("region.us-west-2.network.vpc", "us-east-1"));
        s.resources
            .push(obs("region.us-east-1.network.vpc", "us-east-1"));
        s.resources.push(obs("vpc", "us-east-1"));
        let found = broken(&s, &expected(None).regions);
        let text = found.join("\n");
        assert!(
            text.contains("3 primary regions (eu-west-1, us-east-1, us-west-2)"),
            "{text}"
        );
        assert!(
            text.contains("primary region eu-west-1 is not a region of the spec"),
            "{text}"
        );
        assert!(
            text.contains("\"region.us-east-1.cluster.web.instance[x]\" does not parse"),
            "{text}"
        );
        assert!(
            text.contains("recorded in region us-east-1, but its address names region us-west-2"),
            "{text}"
        );
        assert!(
            text.contains("region.us-east-1.network.vpc is recorded 2 times"),
            "{text}"
        );
        assert!(text.contains("\"vpc\" does not parse"), "{text}");
        let err = loaded(&s, &expected(None)).unwrap_err().to_string();
        assert!(err.contains("state pull"), "{err}");
    }

    #[test]
    fn a_standby_removed_from_the_spec_is_not_broken() {
        let mut s = state();
        s.roles.insert("eu-west-1".into(), Role::ColdStandby);
        assert!(broken(&s, &expected(None).regions).is_empty());
    }
}
