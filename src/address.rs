//! Resource addresses such as `region.us-east-1.cluster.web.instance[3]`.
//!
//! Invariant: an address is the one name a resource has in plans, state, `--target` and
//! error messages; it is derived from the spec alone, never from AWS identifiers.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Address(String);

impl Address {
    pub fn new(s: impl Into<String>) -> Self {
        Address(s.into())
    }

    /// Address of a resource inside a region: `region.<r>.<rest>`.
    pub fn regional(region: &str, rest: &str) -> Self {
        Address(format!("region.{region}.{rest}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A child address: `self.<suffix>`.
    pub fn child(&self, suffix: &str) -> Self {
        Address(format!("{}.{}", self.0, suffix))
    }

    /// An indexed child: `self[i]`.
    pub fn index(&self, i: usize) -> Self {
        Address(format!("{}[{}]", self.0, i))
    }

    /// The region named by a `region.<r>.` prefix, if any.
    pub fn region(&self) -> Option<&str> {
        let rest = self.0.strip_prefix("region.")?;
        rest.split('.').next()
    }

    /// Whether `--target self` selects `other`: equal, or `other` lies inside `self`.
    pub fn contains(&self, other: &Address) -> bool {
        other.0 == self.0
            || other
                .0
                .strip_prefix(&self.0)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Address {
    fn from(s: &str) -> Self {
        Address(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_contains_children_not_siblings() {
        let t = Address::new("region.us-east-1.cluster.web");
        assert!(t.contains(&Address::new("region.us-east-1.cluster.web.instance[3]")));
        assert!(t.contains(&t.clone()));
        assert!(!t.contains(&Address::new(
            "region.us-east-1.cluster.webserver.instance[0]"
        )));
        assert_eq!(t.region(), Some("us-east-1"));
        assert_eq!(Address::new("dns.api.zone").region(), None);
    }
}
