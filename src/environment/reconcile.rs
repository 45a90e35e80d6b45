//! What a refresh found, made comparable with the spec and the state before the diff.

use crate::address::Address;
use crate::provider::Observed;
use crate::state::State;
use crate::topology::{self, Desired, Kind, NAME_KEY, TAGS};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What a refresh found, made comparable with the spec and the state:
/// - a resource the state holds under another address (moved with `standby state mv`) is
///   matched by its id before its `standby:address` tag, which keeps the old address until
///   the resource's next update rewrites its tags;
/// - what only the state knows stays: dependencies and the name at creation;
/// - `tags` keeps only the keys standby manages: the spec's, and those it set before (so a
///   tag dropped from the spec is removed from AWS, and tags others added are not drift).
pub fn reconcile(live: &mut [Observed], state: Option<&State>, desired: &[Desired]) {
    let resources = state.map(State::resources).unwrap_or_default();
    let by_id: HashMap<(Kind, &str), &Address> = resources
        .iter()
        .map(|r| ((r.kind, r.id.as_str()), &r.address))
        .collect();
    let taken: BTreeSet<Address> = live.iter().map(|o| o.address.clone()).collect();
    let keys = |attrs: &Map<String, Value>| -> Vec<String> {
        attrs
            .get(TAGS)
            .and_then(Value::as_object)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut managed: HashMap<&Address, BTreeSet<String>> = HashMap::new();
    for (a, attrs) in desired
        .iter()
        .map(|d| (&d.address, &d.attrs))
        .chain(resources.iter().map(|r| (&r.address, &r.attrs)))
    {
        managed.entry(a).or_default().extend(keys(attrs));
    }
    for o in live.iter_mut() {
        if let Some(moved) = by_id.get(&(o.kind, o.id.as_str())) {
            if **moved != o.address && !taken.contains(*moved) {
                o.address = (*moved).clone();
            }
        }
        if let Some(known) = state.and_then(|s| s.get(&o.address)) {
            o.depends_on = known.depends_on.clone();
            if let Some(name) = known.computed.get(NAME_KEY) {
                o.computed.insert(NAME_KEY.into(), name.clone());
            }
        }
        if let Some(Value::Object(tags)) = o.attrs.get_mut(TAGS) {
            let keep = managed.get(&o.address);
            tags.retain(|k, _| keep.is_some_and(|m| m.contains(k)));
        }
    }
}

/// The names the state's resources were created with: recorded at creation, or (states
/// from before names were recorded) the attribute that holds the name.
pub(super) fn recorded_names(state: &State) -> BTreeMap<Address, String> {
    state
        .resources()
        .iter()
        .filter_map(|r| {
            let name = r
                .computed
                .get(NAME_KEY)
                .or_else(|| topology::name_attr(r.kind).and_then(|k| r.attrs.get(k)))?;
            Some((r.address.clone(), name.as_str()?.to_string()))
        })
        .collect()
}

/// A hosted zone that is not this environment's (another environment's, or one standby
/// adopted) is shared: its tags are not managed here.
pub fn leave_shared(desired: &mut [Desired], prior: &[Observed]) {
    let shared: BTreeSet<&Address> = prior
        .iter()
        .filter(|o| topology::reads::zone_shared(&o.computed))
        .map(|o| &o.address)
        .collect();
    for d in desired.iter_mut().filter(|d| shared.contains(&d.address)) {
        d.attrs.remove(TAGS);
    }
}
