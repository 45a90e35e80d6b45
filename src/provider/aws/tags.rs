//! Tags as the service files share them: the managed `tags` attribute a refresh reports, the
//! keys an update removes, and whose a resource is by its `standby:*` tags.
//!
//! Invariant: a refresh reports every user tag it sees (the environment keeps the managed
//! keys, see `environment::reconcile`); an update removes only keys the resource's current
//! `tags` attribute holds, so tags others added in AWS are never removed; a resource whose
//! `standby:service` and `standby:environment` tags name another environment is never
//! adopted: a refresh that meets one at a name this environment needs refuses, naming both.

use crate::address::Address;
use crate::provider::{Observed, Scope};
use crate::topology::{is_own_tag, Desired, TAGS, TAG_ENVIRONMENT, TAG_SERVICE};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The user tags (not standby's own) of `tags`, as the `tags` attribute.
pub(crate) fn user_tags<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Object(
        tags.into_iter()
            .filter(|(k, _)| !is_own_tag(k))
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect::<Map<_, _>>(),
    )
}

/// Sets the `tags` attribute of `o` from the live `tags`.
pub(crate) fn observe<'a>(o: &mut Observed, tags: impl IntoIterator<Item = (&'a str, &'a str)>) {
    if o.kind.has_tags() {
        o.attrs.insert(TAGS.into(), user_tags(tags));
    }
}

/// Keys to remove in an update: those the current `tags` attribute holds (keys standby
/// manages) and the desired one no longer does.
pub(crate) fn removed(d: &Desired, current: &Observed) -> Vec<String> {
    let keys = |o: Option<&Value>| -> Vec<String> {
        o.and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let want = keys(d.attrs.get(TAGS));
    keys(current.attrs.get(TAGS))
        .into_iter()
        .filter(|k| !want.contains(k) && !is_own_tag(k))
        .collect()
}

/// `<service>/<environment>` of the environment `tags` say owns a resource, if they say.
pub(crate) fn owner(tags: &BTreeMap<String, String>) -> Option<String> {
    match (tags.get(TAG_SERVICE), tags.get(TAG_ENVIRONMENT)) {
        (Some(s), Some(e)) => Some(format!("{s}/{e}")),
        _ => None,
    }
}

/// `<service>/<environment>` of the scope.
pub(crate) fn ours(scope: &Scope) -> String {
    format!("{}/{}", scope.service, scope.environment)
}

/// The owner `tags` name when it is another environment than the scope's.
pub(crate) fn foreign(tags: &BTreeMap<String, String>, scope: &Scope) -> Option<String> {
    owner(tags).filter(|o| *o != ours(scope))
}

/// One line of a conflict: `what` at `address` belongs to `owner`, not to `ours` (both
/// `<service>/<environment>`), and how to get out of the way.
pub(crate) fn conflict(
    address: &Address,
    what: &str,
    owner: &str,
    ours: &str,
    fix: &str,
) -> String {
    format!(
        "{address}: {what} belongs to {}, not to {}: {fix}",
        describe(owner),
        describe(ours)
    )
}

/// The error of a refresh that met resources of other environments: nothing was changed.
pub(crate) fn refuse(conflicts: Vec<String>) -> anyhow::Result<()> {
    if conflicts.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "environments never share resources, and these belong to another one (nothing was changed):\n  {}",
        conflicts.join("\n  ")
    )
}

/// `environment prod of service checkout` from `checkout/prod`.
fn describe(owner: &str) -> String {
    match owner.split_once('/') {
        Some((service, environment)) => format!("environment {environment} of service {service}"),
        None => format!("environment {owner}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Kind;
    use serde_json::json;

    #[test]
    fn removes_only_keys_standby_set_and_reports_only_user_tags() {
        let d = Desired {
            address: Address::new("a"),
            kind: Kind::Vpc,
            region: None,
            name: "n".into(),
            attrs: json!({"tags": {"team": "x"}}).as_object().unwrap().clone(),
            tags: BTreeMap::new(),
            refs: BTreeMap::new(),
            depends_on: vec![],
            bindings: BTreeMap::new(),
            prevent_destroy: false,
        };
        let current = Observed {
            address: Address::new("a"),
            kind: Kind::Vpc,
            region: None,
            id: "vpc-1".into(),
            attrs: json!({"tags": {"team": "y", "cost": "1"}})
                .as_object()
                .unwrap()
                .clone(),
            computed: Map::new(),
            depends_on: vec![],
        };
        assert_eq!(removed(&d, &current), ["cost"]);
        assert_eq!(
            user_tags([("Name", "n"), ("standby:address", "a"), ("team", "x")]),
            json!({"team": "x"})
        );
    }
}
